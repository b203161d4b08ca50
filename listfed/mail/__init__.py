"""The one reader of a message: header blocks, addresses and authors, RFC 2047 words,
body text, Message-IDs, References and trace headers. No other module parses mail."""

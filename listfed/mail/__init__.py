"""The one reader of a message; no other module calls the email package's parsers.

message (bytes → ParsedMessage, for the pipeline) · text (bytes → Extract, for the
archive) · authors (address lists, author, From domain) · body (body text) · htmltext ·
decoding (charsets, transfer encodings, RFC 2047) · headers (header fields for the
archive) · dates · rawmail (a header editor that keeps bytes) · mimeparse (the email
package, guarded against deep nesting; mail-parser's defects) · trace (X-Listfed-Trace) ·
wrapped (the post inside a list's DMARC wrapper).
"""

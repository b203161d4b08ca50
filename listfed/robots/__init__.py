"""The email robots: -request commands, confirmations, -owner."""

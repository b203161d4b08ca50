"""Bridges to lists on other software: an IMAP mailbox watcher, and later SMTP."""

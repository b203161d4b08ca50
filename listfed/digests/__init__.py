"""Digests: collecting posts for digest members and sending them as one message."""

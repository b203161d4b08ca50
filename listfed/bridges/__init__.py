"""Bridges to lists on other software (SPEC §5): an SMTP address or an IMAP mailbox that is
subscribed to the foreign list. inbox (what comes in), outgoing (what goes out), echoes
(what comes back), watchers (the IMAP bridges' tasks), state (cursor and health)."""

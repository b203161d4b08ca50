"""Bridges to lists on other software (SPEC §5): an SMTP address or an IMAP mailbox that is
subscribed to the foreign list. foreign (is this the foreign list's post?), inbox (what
comes in), outgoing (what goes out), fingerprint and echoes (what comes back, and the
rule that drops it), imapconn and imapwatch (the IMAP client and its watcher), watchers
(the IMAP bridges' tasks), state (cursor and health)."""

"""Federation (SPEC §5, §9): routes planned (plan, matching), relays signed and checked
(signing, inbound), sent on (outbound), written in the relay ledger (ledger, over
db/relays.py), and the routing graph checked (check). Trace headers are read by mail/."""

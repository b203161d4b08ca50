"""Federation: routes, the trace, signatures and the relay ledger (SPEC §5, §9)."""

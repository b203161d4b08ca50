"""Storage: SQLite in WAL mode through SQLModel, and the queries every layer shares
(lists, members, the intake queue's one insert, the relay ledger)."""

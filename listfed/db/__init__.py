"""Storage: SQLite in WAL mode through SQLModel."""

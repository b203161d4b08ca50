"""The schema version this listfed writes, importable without the database layer (a
quick read-only command checks it before deciding whether an upgrade must run first)."""

SCHEMA_VERSION = 19

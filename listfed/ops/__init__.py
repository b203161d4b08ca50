"""Admin operations shared by the CLI and (later) the email robots: no I/O but the session."""

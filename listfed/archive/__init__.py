"""The archive: every accepted post, raw bytes first (search and full threading come later)."""

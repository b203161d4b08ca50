"""Moderation: holding a post, telling the moderators, and letting posts that nobody
decided on expire. Moderators' replies by mail are a robot (robots/moderate.py)."""

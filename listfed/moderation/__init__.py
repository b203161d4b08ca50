"""Moderation: holding a post, telling the moderators, acting on their replies, and
letting posts that nobody decided on expire."""

"""Bounces: telling which member's mail failed, and keeping score."""

"""Delivery: decorating posts, the outbox and the senders that drain it."""

"""A post leaves the hold queue: approved, rejected, discarded or expired."""

from __future__ import annotations

from listfed import tokens
from listfed.db import heldrows
from listfed.db.plain import Db, connection


def release(db: Db, held_id: int, now: float) -> None:
    """Take a post out of the hold queue; the codes mailed for it are spent with it, so
    that a late reply can never act on a later post given the same id."""
    tokens.spend(db, tokens.held_key(held_id), now)
    heldrows.delete(connection(db), held_id)

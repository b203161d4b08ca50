"""Dates of messages as unix seconds: the strict reading of a post's Date and of an mbox
From_ line, and the archive's forgiving one. None for what cannot be read; never raises.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime, parsedate_tz

_COMMENT = re.compile(r"\(([^()]*)\)")
# Zone names parsedate_tz does not know (it reads them as UTC), as seconds east of UTC.
_ZONES = {
    "CET": 3600, "MET": 3600, "BST": 3600, "WEST": 3600, "CEST": 7200, "MEST": 7200,
    "EET": 7200, "EEST": 10800, "MSK": 10800, "JST": 32400, "KST": 32400, "HKT": 28800,
    "SGT": 28800, "AEST": 36000, "AEDT": 39600, "NZST": 43200, "NZDT": 46800, "WET": 0,
}  # fmt: skip
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC).timestamp()
_LATEST = datetime(2200, 1, 1, tzinfo=UTC).timestamp()


def date(value: str) -> float | None:
    """A Date value as unix seconds; junk zones and comments allowed, nonsense is None."""
    comments = _COMMENT.findall(value)
    words = _COMMENT.sub(" ", value).split()
    named = [words.pop().upper()] if words and words[-1].upper() in _ZONES else []
    offset = 0
    if words and ":" in words[-1]:  # no numeric zone after the time: use a named one
        names = named + [c.strip().upper() for c in comments]
        offset = next((_ZONES[n] for n in names if n in _ZONES), 0)
    try:
        parsed = parsedate_tz(" ".join(words))
        if parsed is None:
            when = datetime.fromisoformat(" ".join(words))
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            stamp = when.timestamp()
        else:
            year, month, day, hour, minute, second = parsed[:6]
            when = datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)
            stamp = when.timestamp() - (parsed[9] or 0) - offset
    except (ValueError, TypeError, IndexError, OverflowError):
        return None
    return stamp if _EARLIEST <= stamp < _LATEST else None


def timestamp(value: str) -> float | None:
    """A date as the email package reads it (RFC 5322; no zone, or -0000, is local time)."""
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None

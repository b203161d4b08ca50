"""Durations and sizes as written in the config file (SPEC §9): "90s", "5m", "10MB"."""

from __future__ import annotations

import math
import re
from decimal import Decimal

_DURATION = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([smhd])\s*", re.ASCII)
_SIZE = re.compile(r"\s*([0-9]+)\s*(kb|mb|gb)?\s*", re.ASCII | re.IGNORECASE)
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_BYTES = {"": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}


def parse_duration(value: str | int | float) -> float:
    """Return the seconds in "90s", "5m", "2h", "7d"; a bare number is seconds."""
    # bool is an int subclass, and `true` in TOML would otherwise mean one second
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as '5m', got {value!r}")
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:
            raise ValueError(f"duration {value!r} is too large") from None
    elif isinstance(value, str):
        match = _DURATION.fullmatch(value)
        if match is None:
            raise ValueError(
                f"expected a duration such as '90s', '5m', '2h' or '7d', got {value!r}"
            )
        seconds = float(match[1]) * _SECONDS[match[2]]
    else:
        raise ValueError(f"expected a duration such as '5m', got {value!r}")
    # TOML has inf and nan, and a long digit string overflows float to inf
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"duration must be a finite number >= 0, got {value!r}")
    return seconds


def parse_size(value: str | int) -> int:
    """Return the bytes in "10MB", "30 KB", "1024" (KB, MB, GB are powers of 1024)."""
    if isinstance(value, bool):
        raise ValueError(f"expected a size such as '10MB', got {value!r}")
    if isinstance(value, int):
        size = value
    elif isinstance(value, str):
        match = _SIZE.fullmatch(value)
        if match is None:
            raise ValueError(f"expected a size such as '1024', '30KB' or '10MB', got {value!r}")
        size = int(match[1]) * _BYTES[(match[2] or "").lower()]
    else:
        raise ValueError(f"expected a size such as '10MB', got {value!r}")
    if size < 0:
        raise ValueError(f"size must be >= 0, got {value!r}")
    return size


def format_duration(seconds: float) -> str:
    """Seconds written as `parse_duration` reads them, in the largest unit that fits
    exactly: 1209600.0 -> "14d", 5400 -> "90m", 0.5 -> "0.5s"."""
    for unit, size in sorted(_SECONDS.items(), key=lambda item: -item[1]):
        count = seconds / size
        if count >= 1 and count == int(count):
            return f"{int(count)}{unit}"
    return f"{format(Decimal(repr(float(seconds))), 'f').removesuffix('.0')}s"  # no exponent


def format_size(size: int) -> str:
    """Bytes written as `parse_size` reads them: 30720 -> "30KB", 1000 -> "1000"."""
    for unit in ("gb", "mb", "kb"):
        if size and size % _BYTES[unit] == 0:
            return f"{size // _BYTES[unit]}{unit.upper()}"
    return str(size)

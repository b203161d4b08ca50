"""Tests for listfed.units: durations and sizes as written in the config."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from listfed.units import parse_duration, parse_size


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("90s", 90.0),
        ("5m", 300.0),
        ("2h", 7200.0),
        ("7d", 604800.0),
        ("0s", 0.0),
        ("1.5m", 90.0),
        (" 5 m ", 300.0),
        (30, 30.0),
        (0.25, 0.25),
    ],
)
def test_parse_duration(value: str | int | float, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(
    "value",
    [
        "",
        "5",
        "-5m",
        "5x",
        "m",
        "5 minutes",
        "5M",
        "1e3s",
        "inf",
        True,
        False,
        -1,
        float("inf"),
        float("nan"),
        "٥m",
        10**400,
        None,
        ["5m"],
    ],
)
def test_parse_duration_rejects(value: object) -> None:
    with pytest.raises(ValueError, match=r"."):
        parse_duration(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "size"),
    [
        ("1024", 1024),
        ("30KB", 30 * 1024),
        ("30 KB", 30 * 1024),
        ("10MB", 10 * 1024**2),
        ("10mb", 10 * 1024**2),
        ("2Gb", 2 * 1024**3),
        ("0", 0),
        (512, 512),
    ],
)
def test_parse_size(value: str | int, size: int) -> None:
    assert parse_size(value) == size


@pytest.mark.parametrize(
    "value",
    ["", "MB", "-1MB", "10TB", "10 B", "1.5MB", "ten", True, -1, 1.5, None, "١٠MB"],
)
def test_parse_size_rejects(value: object) -> None:
    with pytest.raises(ValueError, match=r"."):
        parse_size(value)  # type: ignore[arg-type]


@given(st.one_of(st.text(), st.integers(), st.floats(), st.booleans()))
def test_parse_duration_raises_only_value_error(value: str | int | float) -> None:
    try:
        result = parse_duration(value)
    except ValueError:
        return
    assert result >= 0


@given(st.one_of(st.text(), st.integers(), st.booleans()))
def test_parse_size_raises_only_value_error(value: str | int) -> None:
    try:
        result = parse_size(value)
    except ValueError:
        return
    assert result >= 0


@given(st.from_regex(r"\A[ \t]*[0-9]{1,6}[ \t]*[smhd][ \t]*\Z"))
def test_parse_duration_accepts_every_well_formed_text(value: str) -> None:
    assert parse_duration(value) >= 0

"""listfed/records.py: a record made without typing is what typing.NamedTuple makes."""

from __future__ import annotations

import pickle
import typing

from listfed.archive.search import Found, Hit
from listfed.records import NamedTuple


class Pair(NamedTuple):
    """Two numbers."""

    left: int
    right: int = 2

    @property
    def total(self) -> int:
        return self.left + self.right


class TypedPair(typing.NamedTuple):
    """Two numbers."""

    left: int
    right: int = 2

    @property
    def total(self) -> int:
        return self.left + self.right


def test_a_record_is_typings_named_tuple() -> None:
    for made in (Pair, TypedPair):
        assert made._fields == ("left", "right")
        assert made._field_defaults == {"right": 2}
        assert made.__doc__ == "Two numbers."
        assert made.__module__ == __name__
        assert issubclass(made, tuple)
        assert made(1).total == 3
        assert made(1, 5)._replace(right=1) == (1, 1)
    assert repr(Pair(1)) == "Pair(left=1, right=2)"
    assert Pair(1) == TypedPair(1) == (1, 2)
    assert Pair.__qualname__ == "Pair"


def test_the_searchs_records_travel_as_before() -> None:
    hit = Hit("m@x", "l@x", "a@x", "Ann", "Hi", 1.0, "t@x", "public", "…")
    assert pickle.loads(pickle.dumps(hit)) == hit
    found = Found([hit], 10_000, 12_345)
    assert found.windowed
    assert found.note("--all") == (
        "ranked among the newest 10,000 of 12,345 matches; --all ranks every match"
    )
    assert not Found([]).windowed and Found([]).matches is None

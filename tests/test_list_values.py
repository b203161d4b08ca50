"""The list settings of moderation, DMARC and reply-to, as an admin types them."""

from __future__ import annotations

import time

import pytest

from listfed import listvalues
from listfed.db.listrows import stored_items
from listfed.errors import UsageError


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("a@x.org  *@partner.example\n^news-.{1,3}$", "a@x.org\n*@partner.example\n^news-.{1,3}$"),
        ("", ""),
    ],
)
def test_patterns_are_stored_one_per_line(typed: str, stored: str) -> None:
    assert listvalues.patterns(typed) == stored
    assert stored_items(stored) == (tuple(stored.split("\n")) if stored else ())


@pytest.mark.parametrize("typed", ["not-an-address", "^(unclosed", "a@@b"])
def test_bad_patterns_say_what_was_expected(typed: str) -> None:
    with pytest.raises(UsageError):
        listvalues.patterns(typed)


@pytest.mark.parametrize(
    ("pattern", "address", "matched"),
    [
        ("*@partner.example", "Ann@Partner.Example", True),
        ("*@partner.example", "ann@evil-partner.example", False),
        ("ann@x.org", "ANN@x.org", True),
        ("^news-\\d+@wire\\.example$", "news-12@wire.example", True),
        ("^news-\\d+@wire\\.example$", "news-x@wire.example", False),
        ("^(broken", "a@b.c", False),  # stored before it was checked: never matches
    ],
)
def test_matching_is_case_insensitive(pattern: str, address: str, matched: bool) -> None:
    assert listvalues.matches(pattern, address) is matched


def test_mime_types_and_domains() -> None:
    assert listvalues.mime_types("Application/ZIP image/*") == "application/zip\nimage/*"
    assert listvalues.domains("Example.ORG. yahoo.com") == "example.org\nyahoo.com"
    for bad in ("zip", "application/", "*/*"):
        with pytest.raises(UsageError):
            listvalues.mime_types(bad)
    for bad in ("localhost", "exa mple.org,", "-x.org!"):
        with pytest.raises(UsageError):
            listvalues.domains(bad)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("none", "none"), ("list", "list"), ("explicit  chair@x.org ", "explicit chair@x.org")],
)
def test_reply_to(typed: str, stored: str) -> None:
    assert listvalues.reply_to(typed) == stored


@pytest.mark.parametrize("typed", ["", "poster", "explicit", "explicit nobody", "list x@y.org"])
def test_bad_reply_to(typed: str) -> None:
    with pytest.raises(UsageError, match=r"none, list or 'explicit ADDRESS'|not a valid"):
        listvalues.reply_to(typed)


def test_durations() -> None:
    assert listvalues.duration("14d") == 14 * 86400
    assert listvalues.duration("0") == 0
    with pytest.raises(UsageError):
        listvalues.duration("soon")


@pytest.mark.parametrize(
    "typed",
    [r"^([a-z0-9]+\.?)+@example\.org$", r"^(a+)+$", r"^((ab)*c)*@x\.org$", r"^(?=(a+)+)b"],
)
def test_a_pattern_that_repeats_a_repeat_is_refused(typed: str) -> None:
    with pytest.raises(UsageError, match="repeats a repeated part"):
        listvalues.patterns(typed)


@pytest.mark.parametrize(
    "typed", [r"^[a-z0-9.]+@example\.org$", r"^(ann|bob)@example\.org$", r"^(a{1})+@x\.org$"]
)
def test_patterns_without_nested_repeats_are_kept(typed: str) -> None:
    assert listvalues.patterns(typed) == typed


def test_a_stored_explosive_pattern_never_matches_and_costs_nothing() -> None:
    # stored before such patterns were refused; 4x slower per two characters if run
    explosive = r"^([a-z0-9]+\.?)+@example\.org$"
    crafted = "a" * 60 + "!"
    start = time.process_time()
    assert listvalues.matches(explosive, crafted) is False
    assert time.process_time() - start < 0.1

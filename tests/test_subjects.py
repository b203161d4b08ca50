"""Subject tags (delivery/subjects.py): what a list and a relay make of a subject."""

from __future__ import annotations

import pytest

from listfed.delivery.subjects import tidy, untidy

ROUTES = {"[philly]", "[nyc]"}


@pytest.mark.parametrize(
    ("subject", "known", "tidied"),
    [
        ("Re: [team] Re: [team] Budget", {"[team]"}, "Re: Budget"),
        (
            "Re: [coc] [philly] [national] Strike",
            {"[coc]", "[nyc]"},
            "[philly] [national] Re: Strike",
        ),
        ("[nyc] Re: [philly] Strike", {"[philly]", "[actions]"}, "[nyc] Re: Strike"),
        ("AW: [PHILLY]  Re:   Plans", ROUTES, "Re: Plans"),
        ("Re: [URGENT] Budget", ROUTES, "Re: [URGENT] Budget"),  # nothing known: as written
        ("Budget for [nyc] trip", ROUTES, "Budget for trip"),
        ("[philly]", ROUTES, ""),
        ("Re: [My Big List] x", {"[my big list]"}, "Re: x"),
    ],
)
def test_tidy(subject: str, known: set[str], tidied: str) -> None:
    assert tidy(subject, known) == tidied


def test_untidy_only_for_a_doubled_prefix_or_a_known_tag() -> None:
    assert untidy("Re: [team] Re: [team] x", "[team]", ())
    assert untidy("Re: [philly] x", "[team]", ROUTES)
    assert not untidy("Re: Re: [team] x", "[team]", ROUTES)  # the author's Re: Re: stays
    assert not untidy("Re: [team] x", "[team]", ROUTES)


def test_a_hostile_subject_of_many_tags_and_markers_is_one_pass() -> None:
    subject = "Re: [a] " * 20_000 + "end"
    assert tidy(subject, {"[philly]"}) == subject  # nothing known in it: as written
    assert tidy(subject + " [philly]", {"[philly]"}) == "[a] Re: end"
    assert tidy("[philly] " * 20_000 + "x", ROUTES) == "x"

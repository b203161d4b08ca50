"""Subject tags (delivery/subjects.py): what a list and a relay make of a subject."""

from __future__ import annotations

import pytest

from listfed.delivery.subjects import ForeignTag, homeward, tidy, untidy

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


ATL = ForeignTag("[Atl-coc]", "[Atl-coc]")  # retag = "keep"
STRIPPED = ForeignTag("[Atl-coc]", "")  # retag = "strip"
REPLACED = ForeignTag("[Atl-coc]", "[atl]")  # retag = "[atl]"


@pytest.mark.parametrize(
    ("subject", "tag", "shown"),
    [
        # a foreign post, a foreign reply (Mailman puts Re: after its prefix), our reply
        ("[Atl-coc] Day of action", ATL, "[coc] [Atl-coc] Day of action"),
        ("[Atl-coc] Re: Day of action", ATL, "Re: [coc] [Atl-coc] Day of action"),
        ("Re: [coc] [Atl-coc] Re: Day of action", ATL, "Re: [coc] [Atl-coc] Day of action"),
        ("Re: [coc] [Atl-coc] Day of action", ATL, "Re: [coc] [Atl-coc] Day of action"),
        ("RE: Aw: [ATL-COC] [national] Re: x", ATL, "Re: [coc] [ATL-COC] [national] x"),
        ("Re: [coc] [philly] [Atl-coc] x", ATL, "Re: [coc] [Atl-coc] x"),  # a route's tag
        ("[Atl-coc] Re: Day of action", STRIPPED, "Re: [coc] Day of action"),
        ("[Atl-coc] Re: Day of action", REPLACED, "Re: [coc] [atl] Day of action"),
        ("Re: [coc] [atl] Re: Day of action", REPLACED, "Re: [coc] [atl] Day of action"),
        ("[atl-coc]", ATL, "[coc] [atl-coc] (no subject)"),  # kept as the list writes it
    ],
)
def test_a_bridged_threads_subject(subject: str, tag: ForeignTag, shown: str) -> None:
    assert homeward(subject, "[coc]", [tag], ROUTES) == shown


def test_a_subject_without_a_bridged_tag_follows_the_lists_rule() -> None:
    assert homeward("Re: [coc] Day of action", "[coc]", [ATL], ROUTES) is None
    assert homeward("Re: [coc] Day of action", "[coc]", [STRIPPED], ROUTES) is None
    assert homeward("[Atl-coc] x", "[coc]", [], ROUTES) is None


def test_a_hostile_bridged_subject_is_one_pass() -> None:
    subject = "Re: [a] " * 20_000 + "[Atl-coc] end"
    assert homeward(subject, "[coc]", [ATL], ROUTES) == "Re: [coc] [Atl-coc] [a] end"
    assert homeward("[Atl-coc] " * 20_000 + "x", "[coc]", [REPLACED], ROUTES) == "[coc] [atl] x"

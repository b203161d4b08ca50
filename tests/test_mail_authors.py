"""Who wrote a message: one author reader and one From-domain rule for every part."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from listfed.dmarc import mitigation
from listfed.mail.authors import addresses, author, every_address, first, from_domain, pairs
from listfed.mail.text import extract

BOLKER = "bbo|ker @end|ng |rom gm@||@com (Ben Bolker)"  # R-devel's pipermail, since 2018


def test_a_mangled_archive_address_still_names_its_author() -> None:
    assert author(BOLKER, archived=True) == ("Ben Bolker", "bbo|ker @end|ng |rom gm@||@com")
    ex = extract(f"From: {BOLKER}\nSubject: s\n\nx\n".encode())
    assert (ex.sender_name, ex.sender) == ("Ben Bolker", "bbo|ker @end|ng |rom gm@||@com")


def test_a_post_from_is_never_guessed_at() -> None:
    # A post's sender decides who may post: no repair, no address kept as written.
    assert author(BOLKER) == ("Ben Bolker", "")
    assert author("alice at example.org (Alice)") == ("Alice", "")


def test_the_pipermail_repair_is_tried_even_when_the_value_holds_an_at() -> None:
    value = '"bob@home" <alice at Example.org>'
    assert author(value, archived=True) == ("bob@home", "alice@example.org")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Ann <ann@Example.NET>", ("Ann", "ann@example.net")),
        ("=?utf-8?q?B=C3=B6b?= <bob@example.net>", ("Böb", "bob@example.net")),
        ("undisclosed-recipients:;, Bob <bob@example.net>", ("Bob", "bob@example.net")),
        ("Bob at Work", ("", "")),
        ("", ("", "")),
    ],
)
def test_author_is_the_first_whole_mailbox(value: str, expected: tuple[str, str]) -> None:
    assert author(value) == expected


def test_dmarc_and_dkim_read_the_same_from_domain() -> None:
    # Decoded first, the name would read as a second address at bank.example: the old
    # DMARC reading took that one while the DKIM signer took example.net.
    raw = b"From: =?utf-8?q?boss=40bank.example?= <ann@Example.NET>\r\n\r\nx\r\n"
    assert mitigation.from_domain(raw) == from_domain(raw, sole=True) == "example.net"


def test_only_an_undisputed_author_gives_the_signer_a_domain() -> None:
    two_fields = b"From: a@one.example\r\nFrom: b@two.example\r\n\r\nx\r\n"
    two_boxes = b"From: a@one.example, b@two.example\r\n\r\nx\r\n"
    for raw in (two_fields, two_boxes):
        assert from_domain(raw) == "one.example"
        assert from_domain(raw, sole=True) == ""
    assert from_domain(b"Subject: none\r\n\r\nx\r\n") == ""


def test_the_address_sets() -> None:
    values = ["Ann <ANN@example.org>, bob@example.net", "not an address"]
    assert addresses(values) == {"ann@example.org", "bob@example.net"}
    mangled = "Team via team <team@lists.example> on behalf of ann@example.org."
    assert {"team@lists.example", "ann@example.org"} <= every_address(mangled)
    assert "ann@example.org" not in addresses([mangled])
    assert first("garbage, ann@example.org") == ("", "garbage")


@given(st.text(max_size=300))
def test_hostile_values_never_raise(value: str) -> None:
    assert isinstance(pairs([value, value * 50]), list)
    assert isinstance(author(value, archived=True), tuple)

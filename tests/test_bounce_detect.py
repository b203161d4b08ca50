"""Bounce recognition: the corpus in tests/data/bounces, VERP encoding, and robustness.

expected.json holds, per fixture, what flufl.bounce finds (`permanent`, `temporary`), whether
`is_bounce_like` says so, and for a bounce the kind `failure_kind` gives its `recipient` when VERP
names it. A `note` says where flufl gets a format wrong or misses it. A fixture is a file and an
entry.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from listfed.addresses import Kind, candidates, normalise
from listfed.bounces.detect import BounceReport, Failure, detect, failure_kind, is_bounce_like
from listfed.errors import InvalidAddress
from listfed.verp import verp_address, verp_recipient

DATA = Path(__file__).parent / "data" / "bounces"
EXPECTED: dict[str, dict[str, Any]] = json.loads((DATA / "expected.json").read_text())
FIXTURES = sorted(p.name for p in DATA.glob("*.eml"))


def test_every_fixture_has_an_entry() -> None:
    assert len(FIXTURES) >= 16
    assert sorted(EXPECTED) == FIXTURES


@pytest.mark.parametrize("name", FIXTURES)
def test_corpus(name: str) -> None:
    raw = (DATA / name).read_bytes()
    want = EXPECTED[name]
    report = detect(raw)
    assert sorted(report.permanent) == want["permanent"]
    assert sorted(report.temporary) == want["temporary"]
    assert report.recognised == bool(want["permanent"] or want["temporary"])
    assert is_bounce_like(raw) is want["bounce_like"]
    if "verp_kind" in want:
        assert failure_kind(raw, want["recipient"]) == Failure(want["verp_kind"])


def test_mixed_dsn_keeps_temporary_and_permanent_apart() -> None:
    raw = (DATA / "sendmail_mixed.eml").read_bytes()
    report = detect(raw)
    assert report.permanent == {"ivy@example.net", "jack.o@example.net"}
    assert report.temporary == {"kate@example.net"}
    assert failure_kind(raw, "ivy@example.net") is Failure.PERMANENT
    assert failure_kind(raw, "JACK.O@Example.NET") is Failure.PERMANENT
    assert failure_kind(raw, "kate@example.net") is Failure.TEMPORARY
    # An address the DSN does not name (forwarded, rewritten): not all blocks are delays.
    assert failure_kind(raw, "someone@example.com") is Failure.PERMANENT


def test_delay_for_all_recipients_is_temporary_for_a_verp_address_it_does_not_name() -> None:
    raw = (DATA / "postfix_delayed.eml").read_bytes()
    assert failure_kind(raw, "forwarded@example.org") is Failure.TEMPORARY


def test_action_failed_wins_over_a_4xx_status() -> None:
    raw = (
        (DATA / "postfix_user_unknown.eml").read_bytes().replace(b"Status: 5.1.1", b"Status: 4.4.7")
    )
    assert failure_kind(raw, "carol@example.net") is Failure.PERMANENT
    no_action = raw.replace(b"Action: failed\n", b"")
    assert failure_kind(no_action, "carol@example.net") is Failure.TEMPORARY


def test_addresses_are_lower_cased_and_junk_dropped() -> None:
    raw = (
        b"From: Mail Delivery System <Mailer-Daemon@relay.example.net>\n"
        b"To: news-bounces@example.org\n"
        b"Subject: Mail delivery failed: returning message to sender\n"
        b"X-Failed-Recipients: Bob@Example.COM, not-an-address, <x@-bad-.example>\n\n"
        b"This message was created automatically by mail delivery software.\n"
    )
    assert detect(raw) == BounceReport(frozenset({"bob@example.com"}), frozenset())


@pytest.mark.parametrize(
    "subject",
    [
        "Delayed Mail (still being retried)",
        "Warning: message 1TpQrT-0007Yb-2F delayed 24 hours",
        "Warning: could not send message for past 4 hours",
        "Delivery Status Notification (Delay)",
        "Delivery delayed:[news] Spring fair",
        "=?utf-8?q?Delayed_Mail_=28still_being_retried=29?=",
    ],
)
def test_delay_subjects_are_temporary(subject: str) -> None:
    raw = f"From: MAILER-DAEMON@example.net\nSubject: {subject}\n\nStill trying.\n".encode()
    assert failure_kind(raw, "a@example.com") is Failure.TEMPORARY


def test_anything_else_is_permanent() -> None:
    raw = b"From: MAILER-DAEMON@example.net\nSubject: failure notice\n\nGone.\n"
    assert failure_kind(raw, "a@example.com") is Failure.PERMANENT


# --- VERP -------------------------------------------------------------------------------------

_ATOM_CHARS = "abcXYZ019!#$%&'*+/=?^_`{|}~-"
_atom = st.text(alphabet=_ATOM_CHARS, min_size=1, max_size=12)
_local = st.lists(_atom, min_size=1, max_size=4).map(".".join).filter(lambda s: len(s) <= 64)
_label = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9-]{0,10}[A-Za-z0-9])?", fullmatch=True)
_domain = st.lists(_label, min_size=1, max_size=4).map(".".join)


def test_verp_address_examples() -> None:
    assert (
        verp_address("news-bounces@Example.ORG", "Alice@Mail.Example.NET")
        == "news-bounces+Alice=mail.example.net@example.org"
    )
    assert verp_recipient("Alice=Mail.Example.NET") == "Alice@mail.example.net"
    assert verp_recipient("a=b=c=example.com") == "a=b=c@example.com"
    with pytest.raises(InvalidAddress):
        verp_address("news-bounces@example.org", "not an address")


@settings(max_examples=200, derandomize=True, deadline=None)
@given(local=_local, domain=_domain)
def test_verp_round_trip(local: str, domain: str) -> None:
    address = f"{local}@{domain}"
    verp = verp_address("news-bounces@example.org", address)
    verp_local, _, verp_domain = verp.rpartition("@")
    found = [r for r in candidates(verp_local, verp_domain) if r.kind is Kind.BOUNCES]
    assert [r.list_address for r in found] == ["news@example.org"]
    assert verp_recipient(found[0].detail) == normalise(address)


@pytest.mark.parametrize(
    "detail", ["", "noequals", "a=", "=b", "a=b=", "a b=c.d", "<a=b.c>", "a@b=c.d", "a=-b.c"]
)
def test_verp_recipient_refuses_junk(detail: str) -> None:
    assert verp_recipient(detail) is None


# --- robustness ---------------------------------------------------------------------------------


@settings(max_examples=100, derandomize=True, deadline=None)
@given(raw=st.binary(max_size=2000), address=st.text(max_size=40))
def test_never_raises_on_arbitrary_bytes(raw: bytes, address: str) -> None:
    assert isinstance(detect(raw), BounceReport)
    assert failure_kind(raw, address) in set(Failure)
    assert isinstance(is_bounce_like(raw), bool)


@settings(max_examples=100, derandomize=True, deadline=None)
@given(
    name=st.sampled_from(FIXTURES),
    cut=st.floats(min_value=0, max_value=1),
    junk=st.binary(max_size=200),
)
def test_never_raises_on_damaged_bounces(name: str, cut: float, junk: bytes) -> None:
    raw = (DATA / name).read_bytes()
    at = int(len(raw) * cut)
    damaged = raw[:at] + junk + raw[at + len(junk) :]
    assert isinstance(detect(damaged), BounceReport)
    assert failure_kind(damaged, "carol@example.net") in set(Failure)

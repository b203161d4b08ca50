"""The one address parser: every RCPT decision, and no exception on any input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from listfed.addresses import Kind, resolve, split_address
from listfed.errors import InvalidAddress

DOMAINS = {"lists.example.org"}
LISTS = {("team", "lists.example.org"), ("team-request", "lists.example.org")}


def exists(local: str, domain: str) -> bool:
    return (local, domain) in LISTS


@pytest.mark.parametrize(
    ("address", "kind", "detail", "list_local"),
    [
        ("team@lists.example.org", Kind.POST, "", "team"),
        ("TEAM@Lists.Example.ORG", Kind.POST, "", "team"),
        ("team-join@lists.example.org", Kind.JOIN, "", "team"),
        ("team-leave@lists.example.org", Kind.LEAVE, "", "team"),
        ("team-owner@lists.example.org", Kind.OWNER, "", "team"),
        ("team-bounces@lists.example.org", Kind.BOUNCES, "", "team"),
        ("team-bounces+bob=example.net@lists.example.org", Kind.BOUNCES, "bob=example.net", "team"),
        ("team-confirm+AbC123@lists.example.org", Kind.CONFIRM, "AbC123", "team"),
        # a list literally named team-request wins over team's robot
        ("team-request@lists.example.org", Kind.POST, "", "team-request"),
    ],
)
def test_resolves(address: str, kind: Kind, detail: str, list_local: str) -> None:
    res = resolve(address, DOMAINS, exists)
    assert res.recipient is not None and res.reply.startswith("250")
    assert (res.recipient.kind, res.recipient.detail, res.recipient.list_local) == (
        kind,
        detail,
        list_local,
    )


@pytest.mark.parametrize(
    ("address", "reply"),
    [
        ("nobody@lists.example.org", "550 5.1.1"),
        ("team-confirm@lists.example.org", "550 5.1.1"),  # a confirm needs its token
        ("team-join+x@lists.example.org", "550 5.1.1"),
        ("team@gmail.example", "550 5.7.1"),
        ("team@lists.example.org.evil.example", "550 5.7.1"),
        ("not an address", "553 5.1.3"),
        ('"quoted"@lists.example.org', "553 5.1.3"),
        ("team@[127.0.0.1]", "553 5.1.3"),
    ],
)
def test_refuses(address: str, reply: str) -> None:
    res = resolve(address, DOMAINS, exists)
    assert res.recipient is None and res.reply.startswith(reply)


@given(st.text(max_size=300))
def test_resolve_never_raises(text: str) -> None:
    res = resolve(text, DOMAINS, exists)
    assert res.reply[:3] in {"250", "550", "553"}


@given(st.text(max_size=300))
def test_split_address_raises_only_invalid_address(text: str) -> None:
    try:
        local, domain = split_address(text)
    except InvalidAddress:
        return
    assert local and domain == domain.lower() and "@" not in domain

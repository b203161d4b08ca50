"""Peers trusted by their DKIM key, with no shared secret (issue 23): each node signs its
relays with its own DKIM key (the one `doctor` tells it to publish), and a node takes a
relay as trusted when a signature of that peer's domain, with the key its DNS serves,
covers the Message-ID, From, every X-Listfed-Trace and the whole body. Three nodes, a
stub DNS on 127.0.0.1 publishing their keys, relays over loopback SMTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from listfed.delivery.dkim import load_key, public_key_record
from listfed.listinfo import Policy
from tests.conftest import RecordingSmarthost, post
from tests.dnsstub import StubDns
from tests.federation import domain_of, federation
from tests.test_dkim import rsa

SHORTS = ("philly", "nyc", "atl")
ACTIONS = f"actions@{domain_of('philly')}"
COC_NYC = f"coc@{domain_of('nyc')}"
COC_ATL = f"coc@{domain_of('atl')}"


@pytest.fixture
def dns() -> Iterator[StubDns]:
    with StubDns() as stub:
        yield stub


def keys(tmp_path: Path, dns: StubDns, published: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """A key per node, written where its config reads it; DNS serves those `published`."""
    sections = {}
    for short in SHORTS:
        pem = rsa(tmp_path, f"{short}.pem", bits=2048)
        if short in published:
            dns.txt(f"s1._domainkey.{domain_of(short)}", public_key_record(load_key(pem)))
        sections[short] = {"private_key": f"file:{tmp_path / f'{short}.pem'}", "selector": "s1"}
    return sections


ROUTE_OUT = {"name": "national", "from": ACTIONS, "to": [COC_NYC, COC_ATL], "match": {"any": True}}


def back(from_list: str) -> dict[str, Any]:
    return {"name": "back", "from": from_list, "to": [ACTIONS], "follow_thread": True}


async def test_a_network_without_secrets_relays_a_thread_both_ways_once_per_list(
    tmp_path: Path, smarthost: RecordingSmarthost, dns: StubDns
) -> None:
    dkim = keys(tmp_path, dns, SHORTS)
    async with federation(tmp_path, smarthost, *SHORTS, dkim=dkim, nameserver=dns.address) as fed:
        fed.make_list(ACTIONS, Policy.MEMBERS, ["ann@philly.example"])
        fed.make_list(COC_NYC, Policy.MEMBERS, ["ned@nyc.example"])
        fed.make_list(COC_ATL, Policy.MEMBERS, ["al@atl.example"])
        fed.set_routes("philly", ROUTE_OUT)
        fed.set_routes("nyc", back(COC_NYC))
        fed.set_routes("atl", back(COC_ATL))
        first = post("Strike fund", to=ACTIONS, sender="ann@philly.example")
        await fed["philly"].send(first, ACTIONS, mail_from="ann@philly.example")
        await fed.idle()
        for who in ("ned@nyc.example", "al@atl.example"):
            [got] = fed.got(who)  # trusted: the sender is no member there, yet it came
            assert got["Message-ID"] == "<m1@example.net>"
            assert "X-Listfed-Signature" not in got  # no secret, no HMAC
        assert fed.ledger("nyc") == [("in", "", ACTIONS, "m1@example.net", "received")]
        reply = post(
            "Re: Strike fund",
            to=COC_NYC,
            sender="ned@nyc.example",
            message_id="<r1@nyc.example>",
            extra="In-Reply-To: <m1@example.net>\r\nReferences: <m1@example.net>\r\n",
        )
        await fed["nyc"].send(reply, COC_NYC, mail_from="ned@nyc.example")
        await fed.idle()
        home = [m["Message-ID"] for m in fed.got("ann@philly.example")]
        assert home == ["<m1@example.net>", "<r1@nyc.example>"]  # each once
        assert [m["Message-ID"] for m in fed.got("al@atl.example")] == [
            "<m1@example.net>",
            "<r1@nyc.example>",  # philly's list passed the reply on to atl, once
        ]


async def test_a_relay_whose_key_dns_does_not_serve_is_an_ordinary_post(
    tmp_path: Path, smarthost: RecordingSmarthost, dns: StubDns
) -> None:
    dkim = keys(tmp_path, dns, ("nyc", "atl"))  # philly's key is not published
    async with federation(tmp_path, smarthost, *SHORTS, dkim=dkim, nameserver=dns.address) as fed:
        fed.make_list(ACTIONS, Policy.MEMBERS, ["ann@philly.example"])
        fed.make_list(COC_NYC, Policy.MEMBERS, ["ned@nyc.example"])
        fed.set_routes("philly", {**ROUTE_OUT, "to": [COC_NYC]})
        first = post("Unproven", to=ACTIONS, sender="ann@philly.example")
        await fed["philly"].send(first, ACTIONS, mail_from="ann@philly.example")
        await fed.idle()
        assert fed.got("ned@nyc.example") == []  # held there as a stranger's post
        assert fed.ledger("nyc") == []

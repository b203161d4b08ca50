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


async def test_a_relay_signed_with_the_retiring_key_is_trusted_while_dns_serves_it(
    tmp_path: Path, smarthost: RecordingSmarthost, dns: StubDns
) -> None:
    """philly rotates its key from selector s1 to s2: during the overlap DNS serves both,
    and a relay signed with the old key (sent before the switch, still in flight) is as
    trusted as one signed with the new; once the old record is gone, it is not."""
    dkim = keys(tmp_path, dns, SHORTS[:2])
    old = dkim["philly"]
    new = rsa(tmp_path, "philly-new.pem", bits=2048)
    record = f"s2._domainkey.{domain_of('philly')}"
    dns.txt(record, public_key_record(load_key(new)))  # published before the switch
    rotated = {
        "selector": ["s2", "s1"],
        "private_key": [f"file:{tmp_path / 'philly-new.pem'}", old["private_key"]],
    }
    route = {**ROUTE_OUT, "to": [COC_NYC]}
    async with federation(
        tmp_path, smarthost, *SHORTS[:2], dkim=dkim, nameserver=dns.address
    ) as fed:
        fed.make_list(ACTIONS, Policy.MEMBERS, ["ann@philly.example"])
        fed.make_list(COC_NYC, Policy.MEMBERS, ["ned@nyc.example"])
        fed.set_routes("philly", route)

        async def relay(number: int) -> list[str]:
            mid = f"<k{number}@example.net>"
            sent = post(f"Key {number}", to=ACTIONS, sender="ann@philly.example", message_id=mid)
            await fed["philly"].send(sent, ACTIONS, mail_from="ann@philly.example")
            await fed.idle()
            return [
                selector(m, domain_of("philly"))
                for m in fed.got("ned@nyc.example")
                if m["Message-ID"] == mid
            ]

        assert await relay(1) == ["s1"]  # signed with the old key: trusted
        fed.dkim["philly"] = rotated  # the switch: the new key signs, the old one retires
        await fed.stop_node("philly")
        await fed.start_node("philly", [route])
        assert await relay(2) == ["s2"]
        fed.dkim["philly"] = old  # a relay signed with s1 still in flight ...
        await fed.stop_node("philly")
        await fed.start_node("philly", [route])
        assert await relay(3) == ["s1"]  # ... within the overlap: trusted
        dns.drop(f"s1._domainkey.{domain_of('philly')}")  # the overlap is over
        assert await relay(4) == []  # held at nyc as a stranger's post
        ids = [row[3] for row in fed.ledger("nyc")]
        assert ids == ["k1@example.net", "k2@example.net", "k3@example.net"]


def selector(message: Any, domain: str) -> str:
    """s= of the message's DKIM signature by `domain` (the relaying node's)."""
    for field in message.get_all("DKIM-Signature", []):
        tags = dict(
            part.strip().split("=", 1)
            for part in "".join(str(field).split()).split(";")
            if "=" in part
        )
        if tags.get("d") == domain:
            return tags["s"]
    return ""


def _tampered(raw: bytes, how: str) -> bytes:
    head, _, body = raw.partition(b"\r\n\r\n")
    if how == "body":  # a line added at the end
        return head + b"\r\n\r\n" + body + b"PS: send the fund to me instead.\r\n"
    if how == "trace":  # one more hop claimed (the signature over-signs the field)
        forged = b"X-Listfed-Trace: evil.example coc@lists.evil.example\r\n"
        return head.replace(b"X-Listfed-Trace: ", forged + b"X-Listfed-Trace: ", 1) + (
            b"\r\n\r\n" + body
        )
    return raw


@pytest.mark.parametrize("how", ["untouched", "body", "trace", "not-a-peer"])
async def test_a_tampered_relay_or_one_from_no_peer_is_an_ordinary_post(
    tmp_path: Path, smarthost: RecordingSmarthost, dns: StubDns, how: str
) -> None:
    """philly's relay to nyc is caught on its way (philly's peer nyc points at the
    recording smarthost for it), changed as `how` says, and handed to nyc as philly would:
    only the untouched relay from a peer is trusted; the others are a stranger's post,
    held at nyc's members-only list."""
    dkim = keys(tmp_path, dns, SHORTS)
    async with federation(
        tmp_path, smarthost, "philly", "nyc", dkim=dkim, nameserver=dns.address
    ) as fed:
        fed.make_list(ACTIONS, Policy.MEMBERS, ["ann@philly.example"])
        fed.make_list(COC_NYC, Policy.MEMBERS, ["ned@nyc.example"])
        nyc = fed.ports["nyc"]
        fed.ports["nyc"] = smarthost.port  # philly relays into the recording smarthost
        fed.set_routes("philly", {**ROUTE_OUT, "to": [COC_NYC]})
        fed.ports["nyc"] = nyc
        if how == "not-a-peer":  # nyc's config names no philly
            philly = fed.ports.pop("philly")
            fed.set_routes("nyc")
            fed.ports["philly"] = philly
        first = post("Strike fund", to=ACTIONS, sender="ann@philly.example")
        await fed["philly"].send(first, ACTIONS, mail_from="ann@philly.example")
        await fed.idle()
        [relay] = [m for r, m in smarthost.deliveries() if r == COC_NYC]
        assert b"DKIM-Signature:" in relay.data and b"X-Listfed-Trace:" in relay.data
        await fed["nyc"].send(_tampered(relay.data, how), COC_NYC, mail_from=relay.mail_from)
        await fed.idle()
        if how == "untouched":
            [got] = fed.got("ned@nyc.example")
            assert got["Message-ID"] == "<m1@example.net>"
            assert fed.ledger("nyc") == [("in", "", ACTIONS, "m1@example.net", "received")]
        else:
            assert fed.got("ned@nyc.example") == []  # held there as a stranger's post
            assert fed.ledger("nyc") == []

"""DKIM and ARC over real SMTP, checked as a receiving provider would: dkimpy's verifiers
reading the keys from a stub DNS, on what the smarthost received from a running node."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import dkim
import pytest

from listfed.delivery.dkim import load_key, public_key_record
from listfed.digests import collect
from listfed.dns import txt_lookup
from listfed.errors import ConfigError
from listfed.listinfo import DeliveryMode, Policy, Role
from listfed.ops import members
from tests.conftest import DOMAIN, Received, RecordingSmarthost, World, post, running_world
from tests.dnsstub import StubDns

TEAM = f"team@{DOMAIN}"
GENPKEY = ("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024")
ALICE, BOB, CAROL = "alice@example.net", "bob@example.com", "carol@example.org"
DAVE = "dave@example.com"
MOD = "mod@example.org"
STRANGER = "eve@elsewhere.example"
NODE = "node.example.org"  # [node] name: the authserv-id of our Authentication-Results

DnsFunc = Callable[..., bytes | None]


def rsa_key(directory: Path, name: str) -> str:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make test keys")
    path = directory / name
    subprocess.run(
        [*GENPKEY, "-out", str(path)],
        check=True,
        capture_output=True,
    )
    return path.read_text()


@pytest.fixture(scope="module")
def pems(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The node's key and the author's provider's (example.net), as PEM text."""
    where = tmp_path_factory.mktemp("keys")
    return {"node": rsa_key(where, "node.pem"), "author": rsa_key(where, "author.pem")}


@pytest.fixture
def stub(dns_stub: StubDns, pems: dict[str, str]) -> StubDns:
    """Both public keys published, as their owners would publish them."""
    dns_stub.txt(f"s1._domainkey.{DOMAIN}", public_key_record(load_key(pems["node"])))
    dns_stub.txt("a1._domainkey.example.net", public_key_record(load_key(pems["author"])))
    return dns_stub


@asynccontextmanager
async def signing_node(
    tmp_path: Path,
    smarthost: RecordingSmarthost,
    stub: StubDns,
    pem: str,
    arc: bool = True,
    **sections: dict[str, Any],
) -> AsyncIterator[World]:
    """A node signing with `pem` (written to a file the config names), asking `stub`."""
    (tmp_path / "dkim.pem").write_text(pem)
    dkim_section = {"private_key": "file:dkim.pem", "selector": "s1", "arc": arc}
    dns = {"nameservers": [stub.address], "timeout": "2s"}
    config: dict[str, dict[str, Any]] = {"dkim": dkim_section, "dns": dns, **sections}
    async with running_world(tmp_path, smarthost, None, **config) as w:
        yield w


def lookup(stub: StubDns) -> DnsFunc:
    return txt_lookup((stub.address,), 2.0)


def got(world: World, address: str) -> list[Received]:
    assert world.smarthost is not None
    return [m for r, m in world.smarthost.deliveries() if r == address]


def tags(data: bytes, field: str) -> dict[bytes, bytes]:
    """The tags of the first `field` in the header, unfolded."""
    head = data.split(b"\r\n\r\n", 1)[0]
    found = re.search(
        rb"^" + field.encode() + rb":(.*?)\r\n(?![ \t])", head, re.MULTILINE | re.DOTALL
    )
    assert found is not None, f"no {field}"
    return dict(dkim.util.parse_tag_value(re.sub(rb"\r\n[ \t]+", b" ", found.group(1))))


def fields(data: bytes, name: str) -> list[str]:
    """The unfolded values of every `name` field in the header, in order."""
    head = data.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    unfolded = re.sub(r"\r\n[ \t]+", " ", head)
    return [
        line.partition(":")[2].strip()
        for line in unfolded.split("\r\n")
        if line.partition(":")[0].lower() == name.lower()
    ]


def assert_signed_by_us(data: bytes, stub: StubDns) -> None:
    sig = tags(data, "DKIM-Signature")
    assert (sig[b"d"], sig[b"s"]) == (DOMAIN.encode(), b"s1")
    assert dkim.verify(data, dnsfunc=lookup(stub))


def signed_by_author(raw: bytes, pems: dict[str, str]) -> bytes:
    """`raw` as example.net's outgoing server sends it."""
    return bytes(dkim.sign(raw, b"a1", b"example.net", load_key(pems["author"]))) + raw


async def test_posts_robot_replies_and_notices_all_verify(
    tmp_path: Path, smarthost: RecordingSmarthost, stub: StubDns, pems: dict[str, str]
) -> None:
    async with signing_node(tmp_path, smarthost, stub, pems["node"]) as world:
        world.make_list(TEAM, Policy.MEMBERS, people=[ALICE, BOB])
        with world.write() as s:
            members.add(s, TEAM, [MOD], Role.MODERATOR)
            members.add(s, TEAM, [DAVE], Role.MEMBER, DeliveryMode.DIGEST)
        await world.send(post(), TEAM)
        help_request = (
            f"From: Carol <{CAROL}>\r\nTo: team-request@{DOMAIN}\r\nSubject: help\r\n"
            "Message-ID: <help@example.org>\r\n\r\nhelp\r\n"
        ).encode()
        await world.send(help_request, f"team-request@{DOMAIN}", CAROL)
        await world.send(post(sender=STRANGER, message_id="<held@x>"), TEAM, STRANGER)
        await world.idle()
        with world.write() as s:
            assert collect.send_pending(s, TEAM, time.time()) == {TEAM: 1}
        world.node.deliverer.wake.set()
        await world.idle()
    [bobs] = got(world, BOB)
    assert bobs.message["Subject"] == "[team] Hello"
    assert_signed_by_us(bobs.data, stub)
    [answer] = got(world, CAROL)
    assert answer.message["In-Reply-To"] == "<help@example.org>"
    assert_signed_by_us(answer.data, stub)
    notices = [m for m in got(world, MOD) if m.message["X-Listfed-Held"]]
    assert len(notices) == 1
    assert_signed_by_us(notices[0].data, stub)
    [digest] = got(world, DAVE)
    assert digest.message.get_content_type() == "multipart/digest"
    assert_signed_by_us(digest.data, stub)
    # mail the node wrote itself is not a changed post: there is nothing to seal
    for own in (answer, notices[0], digest):
        assert b"ARC-Seal:" not in own.data


@pytest.mark.parametrize("signed", [True, False], ids=["author signed", "unsigned"])
async def test_a_post_is_arc_sealed_with_the_authors_result(
    tmp_path: Path,
    smarthost: RecordingSmarthost,
    stub: StubDns,
    pems: dict[str, str],
    signed: bool,
) -> None:
    sent = post(body="Minutes attached.\r\n")
    sent = signed_by_author(sent, pems) if signed else sent
    async with signing_node(tmp_path, smarthost, stub, pems["node"]) as world:
        world.make_list(TEAM, Policy.OPEN, people=[ALICE, BOB], footer="-- team list")
        await world.send(sent, TEAM)
        await world.idle()
    [received] = got(world, BOB)
    data = received.data
    assert_signed_by_us(data, stub)
    seal = tags(data, "ARC-Seal")
    assert (seal[b"i"], seal[b"cv"], seal[b"d"], seal[b"s"]) == (
        b"1",
        b"none",
        DOMAIN.encode(),
        b"s1",
    )
    cv, results, why = dkim.arc_verify(data, dnsfunc=lookup(stub))
    assert cv == b"pass", why
    assert [r["instance"] for r in results] == [1]
    [aar] = fields(data, "ARC-Authentication-Results")
    assert aar.startswith(f"i=1; {NODE};")
    if signed:
        assert "dkim=pass header.d=example.net header.s=a1" in aar
        # the list changed the post (prefix, footer, From): the author's own signature
        # now fails, which is exactly what the seal lets a receiver look past
        assert data.count(b"DKIM-Signature:") == 2
    else:
        assert "dkim=none" in aar and "example.net" not in aar
    [ours] = [v for v in fields(data, "Authentication-Results") if v.startswith(NODE)]
    assert ours == aar.removeprefix("i=1; ")


def authserv_id(value: str) -> str:
    """The authserv-id of an Authentication-Results value, as RFC 8601 reads it: leading
    comments (CFWS) skipped, case folded."""
    rest = re.sub(r"^\s*(?:\([^()]*\)\s*)*", "", value)
    return re.split(r"[\s;]", rest, maxsplit=1)[0].lower()


FORGED = {
    "plain": f"Authentication-Results: {NODE}; dkim=pass header.d=bank.example\r\n",
    "upper case": f"Authentication-Results: {NODE.upper()}; dkim=pass header.d=bank.example\r\n",
    "version": f"Authentication-Results: {NODE} 1; dkim=pass header.d=bank.example\r\n",
    "folded": f"Authentication-Results:\r\n\t{NODE};\r\n dkim=pass header.d=bank.example\r\n",
    "comment": f"Authentication-Results: (ok) {NODE}; dkim=pass header.d=bank.example\r\n",
    "nbsp": f"Authentication-Results: \u00a0{NODE}; dkim=pass header.d=bank.example\r\n",
    "emsp": f"Authentication-Results: \u2003{NODE}; dkim=pass header.d=bank.example\r\n",
}


@pytest.mark.parametrize("forged", [pytest.param(v, id=k) for k, v in FORGED.items()])
async def test_a_forged_result_in_our_name_is_not_passed_on(
    tmp_path: Path, smarthost: RecordingSmarthost, stub: StubDns, pems: dict[str, str], forged: str
) -> None:
    theirs = "Authentication-Results: mx.example.net; spf=pass smtp.mailfrom=example.net\r\n"
    sent = (forged + theirs).encode() + post()
    async with signing_node(tmp_path, smarthost, stub, pems["node"]) as world:
        world.make_list(TEAM, Policy.OPEN, people=[ALICE, BOB])
        await world.send(sent, TEAM)
        await world.idle()
    [received] = got(world, BOB)
    data = received.data
    results = fields(data, "Authentication-Results")
    assert [v for v in results if authserv_id(v) == NODE] == [f"{NODE}; dkim=none"]
    assert any(v.startswith("mx.example.net;") for v in results)  # not ours to judge
    [aar] = fields(data, "ARC-Authentication-Results")
    assert "bank.example" not in aar and "dkim=none" in aar
    assert b"bank.example" not in data
    assert dkim.arc_verify(data, dnsfunc=lookup(stub))[0] == b"pass"


async def test_arc_off_signs_without_sealing(
    tmp_path: Path, smarthost: RecordingSmarthost, stub: StubDns, pems: dict[str, str]
) -> None:
    async with signing_node(tmp_path, smarthost, stub, pems["node"], arc=False) as world:
        world.make_list(TEAM, Policy.OPEN, people=[ALICE, BOB])
        forged = FORGED["comment"].encode()  # removed even when the node does not seal
        await world.send(forged + signed_by_author(post(), pems), TEAM)
        await world.idle()
    [received] = got(world, BOB)
    assert_signed_by_us(received.data, stub)
    assert b"bank.example" not in received.data
    header = received.data.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nARC-" not in b"\r\n" + header
    assert not any(v.startswith(NODE) for v in fields(received.data, "Authentication-Results"))


async def test_a_broken_key_stops_the_node_from_starting(
    tmp_path: Path, smarthost: RecordingSmarthost, stub: StubDns
) -> None:
    junk = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
    with pytest.raises(ConfigError) as caught:
        async with signing_node(tmp_path, smarthost, stub, junk):
            pytest.fail("the node started with a broken key")
    assert caught.value.key == "dkim.private_key"
    assert smarthost.received == []


async def test_with_verp_every_member_gets_a_verifying_signature(
    tmp_path: Path, smarthost: RecordingSmarthost, stub: StubDns, pems: dict[str, str]
) -> None:
    people = [ALICE, BOB, CAROL]
    verp = {"verp": "always"}
    async with signing_node(tmp_path, smarthost, stub, pems["node"], delivery=verp) as world:
        world.make_list(TEAM, Policy.OPEN, people=people)
        await world.send(post(), TEAM)
        await world.idle()
    assert sorted(r for r, _ in smarthost.deliveries()) == sorted(people)
    for person in people:
        [received] = got(world, person)
        user, host = person.split("@")
        assert received.mail_from == f"team-bounces+{user}={host}@{DOMAIN}"
        assert_signed_by_us(received.data, stub)
        assert dkim.arc_verify(received.data, dnsfunc=lookup(stub))[0] == b"pass"

"""DMARC mitigation over real SMTP, as members and authors notice it: who a post appears
to be from, where a reply goes, what a signed original looks like after the list, and
how few DNS queries it takes, with the From domain's policy served by a stub DNS."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path

import dkim
import pytest
from sqlmodel import select

from listfed.db.models import Held
from listfed.delivery.dkim import load_key, public_key_record
from listfed.digests import collect
from listfed.dns import txt_lookup
from listfed.listinfo import DeliveryMode, Policy, Role
from listfed.ops import held, lists, members
from tests.conftest import DOMAIN, Received, RecordingSmarthost, World, post, running_world
from tests.dnsstub import StubDns

TEAM = f"team@{DOMAIN}"
GENPKEY = ("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024")
ALICE, BOB, DAVE = "alice@example.net", "bob@example.com", "dave@example.com"
CHAIR = "chair@example.org"
REJECT = "v=DMARC1; p=reject"


@asynccontextmanager
async def node(
    tmp_path: Path,
    smarthost: RecordingSmarthost,
    stub: StubDns,
    /,
    policy: Policy = Policy.OPEN,
    **settings: str,
) -> AsyncIterator[World]:
    """A node asking `stub` for DMARC, with a list (Alice and Bob) set up so."""
    dns = {"nameservers": [stub.address], "timeout": "0.5s"}
    async with running_world(tmp_path, smarthost, dns=dns) as world:
        world.make_list(TEAM, policy, people=[ALICE, BOB], **settings)
        yield world


async def deliver(world: World, raw: bytes, sender: str = ALICE) -> Received:
    """Post `raw` and return what Bob received for it."""
    assert world.smarthost is not None
    before = len(got(world, BOB))
    await world.send(raw, TEAM, sender)
    await world.idle()
    received = got(world, BOB)
    assert len(received) == before + 1, "Bob did not get the post"
    return received[-1]


def got(world: World, address: str) -> list[Received]:
    assert world.smarthost is not None
    return [m for r, m in world.smarthost.deliveries() if r == address]


def mailbox(msg: EmailMessage, name: str) -> tuple[str, str] | None:
    """The (display name, address) of the one mailbox in field `name`, or None."""
    field = msg[name]
    if field is None:
        return None
    [box] = field.addresses
    return box.display_name, box.addr_spec


def addresses(msg: EmailMessage, *names: str) -> list[str]:
    return [
        a.lower() for _n, a in getaddresses([str(v) for n in names for v in msg.get_all(n, [])])
    ]


def reply(msg: EmailMessage, everyone: bool = False, me: str = DAVE) -> set[str]:
    """Where a mail client sends a reply (or, `everyone`, a reply-all) to `msg`: Reply-To,
    or From when there is none; reply-all adds To and Cc, less the replier."""
    to = addresses(msg, "Reply-To") or addresses(msg, "From")
    if everyone:
        to += addresses(msg, "To", "Cc")
    return set(to) - {me}


def body(received: Received) -> bytes:
    return received.data.split(b"\r\n\r\n", 1)[1]


def munged(msg: EmailMessage, name: str = "Alice") -> bool:
    return mailbox(msg, "From") == (f"{name} via team", TEAM)


# --- who a post is from


@pytest.mark.parametrize("policy", ["reject", "quarantine"])
async def test_a_post_from_a_strict_domain_comes_from_the_list(
    tmp_path: Path, smarthost: RecordingSmarthost, dns_stub: StubDns, policy: str
) -> None:
    dns_stub.txt("_dmarc.example.net", f"v=DMARC1; p={policy}")
    async with node(tmp_path, smarthost, dns_stub) as world:
        sent = post(body="The minutes are attached.\r\n")
        received = await deliver(world, sent)
    msg = received.message
    assert mailbox(msg, "From") == ("Alice via team", TEAM)
    assert mailbox(msg, "Reply-To") == ("Alice", ALICE)
    assert msg["Message-ID"] == "<m1@example.net>"
    assert msg["Subject"] == "[team] Hello"
    assert body(received) == b"The minutes are attached.\r\n"
    assert reply(msg) == {ALICE}  # a private reply still reaches the author


@pytest.mark.parametrize("record", ["v=DMARC1; p=none", None], ids=["p=none", "no record"])
async def test_a_post_from_a_lenient_domain_keeps_its_from(
    tmp_path: Path, smarthost: RecordingSmarthost, dns_stub: StubDns, record: str | None
) -> None:
    if record:
        dns_stub.txt("_dmarc.example.net", record)
    async with node(tmp_path, smarthost, dns_stub) as world:
        received = await deliver(world, post())
    msg = received.message
    assert mailbox(msg, "From") == ("Alice", ALICE)
    assert msg["Reply-To"] is None and msg["Cc"] is None
    assert dns_stub.queries["_dmarc.example.net"] >= 1  # it was asked


async def test_the_parents_subdomain_policy_applies(
    tmp_path: Path, smarthost: RecordingSmarthost, dns_stub: StubDns
) -> None:
    dns_stub.txt("_dmarc.example.net", "v=DMARC1; p=none; sp=reject")
    async with node(tmp_path, smarthost, dns_stub) as world:
        received = await deliver(world, post(sender="alice@mail.example.net"))
        lenient = await deliver(world, post(message_id="<m2@example.net>"))
    assert mailbox(received.message, "From") == ("Alice via team", TEAM)
    assert mailbox(received.message, "Reply-To") == ("Alice", "alice@mail.example.net")
    assert dns_stub.queries["_dmarc.mail.example.net"] >= 1
    # the parent itself says p=none: its own posts keep their From
    assert mailbox(lenient.message, "From") == ("Alice", ALICE)


@pytest.mark.parametrize("failure", ["timeout", "servfail"])
async def test_a_failed_lookup_mitigates(
    tmp_path: Path, smarthost: RecordingSmarthost, dns_stub: StubDns, failure: str
) -> None:
    getattr(dns_stub, failure)("_dmarc.example.net")
    async with node(tmp_path, smarthost, dns_stub) as world:
        started = time.monotonic()
        received = await deliver(world, post())
        waited = time.monotonic() - started
    assert munged(received.message)
    assert mailbox(received.message, "Reply-To") == ("Alice", ALICE)
    assert waited < 5  # the [dns] timeout bounds the wait, not some resolver default


NAMES = {
    "encoded words": (b"=?utf-8?q?Zo=C3=AB_=C3=9Cnal?=", "Zoë Ünal"),
    "comma": (b'"Doe, Jane"', "Doe, Jane"),
    "quotes": (b'"Ann \\"Nan\\" Lee"', 'Ann "Nan" Lee'),
}


@pytest.mark.parametrize(("written", "name"), NAMES.values(), ids=NAMES.keys())
async def test_the_authors_name_survives_in_the_via_name(
    tmp_path: Path, smarthost: RecordingSmarthost, dns_stub: StubDns, written: bytes, name: str
) -> None:
    dns_stub.txt("_dmarc.example.net", REJECT)
    sent = post().replace(b"From: Alice <", b"From: " + written + b" <")
    async with node(tmp_path, smarthost, dns_stub) as world:
        received = await deliver(world, sent)
    msg = received.message
    assert mailbox(msg, "From") == (f"{name} via team", TEAM)
    assert mailbox(msg, "Reply-To") == (name, ALICE)
    head = received.data.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()  # encoded words, not raw UTF-8, in a field for every receiver


@pytest.mark.parametrize(("record", "mitigated"), [(REJECT, True), ("v=DMARC1; p=none", False)])
async def test_a_held_post_approved_later_is_judged_by_its_domains_policy(
    tmp_path: Path,
    smarthost: RecordingSmarthost,
    dns_stub: StubDns,
    record: str,
    mitigated: bool,
) -> None:
    dns_stub.txt("_dmarc.example.net", record)
    async with node(tmp_path, smarthost, dns_stub, Policy.MODERATED) as world:
        await world.send(post(), TEAM)
        await world.idle()
        assert got(world, BOB) == []
        with world.write() as s:
            [row] = s.exec(select(Held)).all()
            held.approve(s, row.id or 0)
        await world.idle()
    [received] = got(world, BOB)
    assert munged(received.message) is mitigated
    assert reply(received.message) == {ALICE}


# --- where replies go


async def test_reply_to_list_with_munging_puts_the_author_in_cc(
    tmp_path: Path, smarthost: RecordingSmarthost, dns_stub: StubDns
) -> None:
    dns_stub.txt("_dmarc.example.net", REJECT)
    async with node(tmp_path, smarthost, dns_stub, reply_to="list") as world:
        received = await deliver(world, post())
    msg = received.message
    assert munged(msg)
    assert addresses(msg, "Reply-To") == [TEAM]
    assert addresses(msg, "Cc") == [ALICE]
    assert reply(msg) == {TEAM}  # replies go to the list, as the policy says
    assert ALICE in reply(msg, everyone=True)  # and reply-all reaches the author directly


async def test_explicit_reply_to_with_munging_puts_the_author_in_cc(
    tmp_path: Path, smarthost: RecordingSmarthost, dns_stub: StubDns
) -> None:
    dns_stub.txt("_dmarc.example.net", REJECT)
    async with node(tmp_path, smarthost, dns_stub, reply_to=f"explicit {CHAIR}") as world:
        received = await deliver(world, post())
    msg = received.message
    assert munged(msg)
    assert addresses(msg, "Reply-To") == [CHAIR]
    assert addresses(msg, "Cc") == [ALICE]
    assert reply(msg) == {CHAIR}
    assert {CHAIR, ALICE} <= reply(msg, everyone=True)


async def test_reply_to_list_without_mitigation_keeps_the_from(
    tmp_path: Path, smarthost: RecordingSmarthost, dns_stub: StubDns
) -> None:
    dns_stub.txt("_dmarc.example.net", "v=DMARC1; p=none")
    async with node(tmp_path, smarthost, dns_stub, reply_to="list") as world:
        received = await deliver(world, post())
    msg = received.message
    assert mailbox(msg, "From") == ("Alice", ALICE)
    assert addresses(msg, "Reply-To") == [TEAM]
    assert msg["Cc"] is None  # nobody is lost: the author is still in From
    assert reply(msg) == reply(msg, everyone=True) == {TEAM}  # and reads the list


@pytest.mark.parametrize("record", [REJECT, "v=DMARC1; p=none"], ids=["munged", "not munged"])
async def test_the_posters_own_reply_to_is_kept_unless_overridden(
    tmp_path: Path, smarthost: RecordingSmarthost, dns_stub: StubDns, record: str
) -> None:
    dns_stub.txt("_dmarc.example.net", record)
    own = post(extra="Reply-To: Alice at home <alice@home.example>\r\n")
    async with node(tmp_path, smarthost, dns_stub, reply_to="list") as world:
        kept = await deliver(world, own)
        with world.write() as s:
            lists.set_value(s, TEAM, "reply_to_override", "true")
        overridden = await deliver(world, own.replace(b"<m1@", b"<m2@"))
    assert addresses(kept.message, "Reply-To") == ["alice@home.example"]
    assert reply(kept.message) == {"alice@home.example"}
    assert addresses(overridden.message, "Reply-To") == [TEAM]
    assert reply(overridden.message) == {TEAM}
    if record == REJECT:
        assert munged(kept.message) and munged(overridden.message)
        # the From address is gone: reply-all must still reach the author
        assert ALICE in reply(overridden.message, everyone=True)
        assert ALICE in reply(kept.message, everyone=True)


# --- wrap: the original, intact, inside


@pytest.fixture(scope="module")
def author_key(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """An RSA key for example.net, as the author's provider would sign with."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make test keys")
    path = tmp_path_factory.mktemp("keys") / "example.net.pem"
    subprocess.run(
        [*GENPKEY, "-out", str(path)],
        check=True,
        capture_output=True,
    )
    return load_key(path.read_text())


def signed_post(key: bytes, stub: StubDns) -> bytes:
    """A post as example.net's outgoing server sends it: DKIM-signed, key published."""
    stub.txt("s1._domainkey.example.net", public_key_record(key))
    raw = post(body="The minutes are attached.\r\n")
    return bytes(dkim.sign(raw, b"s1", b"example.net", key)) + raw


def inner_bytes(received: Received) -> bytes:
    """The bytes of the message/rfc822 part, taken from the delivered data itself (not
    from a parse and re-serialisation, which would not prove the bytes survived)."""
    msg = received.message
    data = body(received)
    if msg.get_content_type() == "multipart/mixed":  # a footer was added beside it
        boundary = msg.get_boundary()
        assert boundary is not None
        first = data.split(b"--" + boundary.encode())[1]
        head, part = first.split(b"\r\n\r\n", 1)
        assert b"message/rfc822" in head
        assert part.endswith(b"\r\n")
        return part[:-2]  # that CRLF belongs to the next delimiter
    assert msg.get_content_type() == "message/rfc822"
    return data


@pytest.mark.parametrize("footer", ["", "To leave, write to team-leave."], ids=["bare", "footer"])
async def test_wrap_carries_the_signed_original_intact(
    tmp_path: Path,
    smarthost: RecordingSmarthost,
    dns_stub: StubDns,
    author_key: bytes,
    footer: str,
) -> None:
    dns_stub.txt("_dmarc.example.net", REJECT)
    sent = signed_post(author_key, dns_stub)
    async with node(tmp_path, smarthost, dns_stub, dmarc="wrap", footer=footer) as world:
        received = await deliver(world, sent)
    msg = received.message
    assert munged(msg)
    assert mailbox(msg, "Reply-To") == ("Alice", ALICE)
    assert msg["Subject"] == "[team] Hello" and msg["Message-ID"] == "<m1@example.net>"
    wrapped = [p for p in msg.walk() if p.get_content_type() == "message/rfc822"]
    assert len(wrapped) == 1
    if not footer:
        assert msg.get_content_type() == "message/rfc822"
    original = wrapped[0].get_content()
    assert isinstance(original, EmailMessage)
    assert mailbox(original, "From") == ("Alice", ALICE)
    assert original["Subject"] == "Hello"
    inner = inner_bytes(received)
    # byte for byte as the author sent it, under the one trace field our intake adds
    assert inner.endswith(sent)
    trace = inner[: -len(sent)].decode()
    assert trace.startswith("Received: from ") and "by node.example.org (listfed)" in trace
    assert all(line.startswith("\t") for line in trace.split("\r\n")[1:-1])
    dnsfunc = txt_lookup((dns_stub.address,), 2.0)
    assert dkim.verify(inner, dnsfunc=dnsfunc)
    if footer:
        assert footer.encode() in body(received)


async def test_wrap_follows_the_reply_policy_too(
    tmp_path: Path, smarthost: RecordingSmarthost, dns_stub: StubDns
) -> None:
    dns_stub.txt("_dmarc.example.net", REJECT)
    async with node(tmp_path, smarthost, dns_stub, dmarc="wrap", reply_to="list") as world:
        received = await deliver(world, post())
    msg = received.message
    assert munged(msg) and msg.get_content_type() == "message/rfc822"
    assert reply(msg) == {TEAM}
    assert ALICE in reply(msg, everyone=True)


async def test_munging_breaks_the_authors_signature_which_is_why_it_munges(
    tmp_path: Path, smarthost: RecordingSmarthost, dns_stub: StubDns, author_key: bytes
) -> None:
    dns_stub.txt("_dmarc.example.net", REJECT)
    sent = signed_post(author_key, dns_stub)
    dnsfunc = txt_lookup((dns_stub.address,), 2.0)
    assert dkim.verify(sent, dnsfunc=dnsfunc)  # as it left the author
    async with node(tmp_path, smarthost, dns_stub, footer="-- the team list") as world:
        received = await deliver(world, sent)
    assert munged(received.message)
    assert received.data.count(b"DKIM-Signature:") == 1  # the author's, left in place
    assert not dkim.verify(received.data, dnsfunc=dnsfunc)


# --- when the policy is not asked, or does not matter


def dmarc_queries(stub: StubDns) -> dict[str, int]:
    return {name: n for name, n in stub.queries.items() if name.startswith("_dmarc.")}


async def test_dmarc_none_asks_nothing_and_changes_nothing(
    tmp_path: Path, smarthost: RecordingSmarthost, dns_stub: StubDns
) -> None:
    dns_stub.txt("_dmarc.example.net", REJECT)
    async with node(tmp_path, smarthost, dns_stub, dmarc="none") as world:
        received = await deliver(world, post())
    assert mailbox(received.message, "From") == ("Alice", ALICE)
    assert received.message["Reply-To"] is None
    assert dmarc_queries(dns_stub) == {}


async def test_dmarc_never_and_dmarc_always(
    tmp_path: Path, smarthost: RecordingSmarthost, dns_stub: StubDns
) -> None:
    dns_stub.txt("_dmarc.example.net", REJECT)
    always = "example.com, other.example"  # spaces or commas, as the owner likes
    async with node(
        tmp_path, smarthost, dns_stub, dmarc_never="example.net", dmarc_always=always
    ) as world:
        never = await deliver(world, post())
        sub = await deliver(world, post(sender="a@sub.example.net", message_id="<m2@x>"))
        listed = await deliver(world, post(sender=DAVE, message_id="<m3@x>"), DAVE)
    assert mailbox(never.message, "From") == ("Alice", ALICE)
    assert mailbox(sub.message, "From") == ("Alice", "a@sub.example.net")  # subdomains too
    assert never.message["Reply-To"] is None
    # example.com publishes no record at all, but the list owner said always
    assert munged(listed.message)
    assert mailbox(listed.message, "Reply-To") == ("Alice", DAVE)


async def test_the_nodes_own_domain_is_never_munged(
    tmp_path: Path, smarthost: RecordingSmarthost, dns_stub: StubDns
) -> None:
    dns_stub.txt(f"_dmarc.{DOMAIN}", REJECT)
    own = f"news@{DOMAIN}"
    async with node(tmp_path, smarthost, dns_stub) as world:
        received = await deliver(world, post(sender=own), own)
    assert mailbox(received.message, "From") == ("Alice", own)
    assert received.message["Reply-To"] is None


async def test_one_lookup_serves_many_posts(
    tmp_path: Path, smarthost: RecordingSmarthost, dns_stub: StubDns
) -> None:
    dns_stub.txt("_dmarc.example.net", REJECT)
    async with node(tmp_path, smarthost, dns_stub) as world:
        first = await deliver(world, post())
        asked = dns_stub.queries["_dmarc.example.net"]
        second = await deliver(world, post(message_id="<m2@example.net>"))
        third = await deliver(world, post(sender="carol@example.net", message_id="<m3@x>"))
    assert 1 <= asked <= 2  # one question (UDP, and TCP should the answer be truncated)
    assert dns_stub.queries["_dmarc.example.net"] == asked
    assert munged(first.message) and munged(second.message) and munged(third.message)


# --- digests


async def test_digest_members_get_the_authors_own_from(
    tmp_path: Path, smarthost: RecordingSmarthost, dns_stub: StubDns
) -> None:
    dns_stub.txt("_dmarc.example.net", REJECT)
    async with node(tmp_path, smarthost, dns_stub) as world:
        with world.write() as s:
            members.add(s, TEAM, [DAVE], Role.MEMBER, DeliveryMode.DIGEST)
        regular = await deliver(world, post(subject="Agenda"))
        assert got(world, DAVE) == []
        with world.write() as s:
            assert collect.send_pending(s, TEAM, time.time()) == {TEAM: 1}
        world.node.deliverer.wake.set()
        await world.idle()
    assert munged(regular.message)
    [digest] = [m.message for m in got(world, DAVE)]
    assert digest.get_content_type() == "multipart/digest"
    [inner] = [p.get_content() for p in digest.iter_parts()][1:]
    assert isinstance(inner, EmailMessage)
    assert mailbox(inner, "From") == ("Alice", ALICE)
    assert inner["Subject"] == "Agenda"
    # the digest itself comes from the list, which answers for it
    assert re.search(r"@lists\.example\.org>?$", str(digest["From"]))

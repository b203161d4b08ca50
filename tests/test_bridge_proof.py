"""Only the foreign list posts through a bridge (issue 16, item 2): mail that reaches an
SMTP bridge's address is the foreign list's post only when it is proven so (sent to the
bridge's tagged address, or DKIM-signed by the foreign list's domain or a parent of it).
Anything else that looks like a post goes through the local list's policy, like any
stranger's post: here (members only, non-members held) it waits for a moderator.
The envelope sender proves nothing: these strangers use the foreign list's own."""

from __future__ import annotations

from pathlib import Path

import dkim
import pytest

from listfed.addresses import for_log
from listfed.bridges import proof
from listfed.config.settings import BridgeConfig
from listfed.delivery.dkim import load_key, public_key_record
from tests.conftest import RecordingSmarthost
from tests.dnsstub import StubDns
from tests.test_bridge_smtp import BRIDGE, FOREIGN, LIST, LOCALS, bridged
from tests.test_dkim_flow import rsa_key

LIST_BOUNCES = "atl-coc-bounces@groups.example"


def foreign_looking(subject: str, message_id: str) -> bytes:
    """Mail that names the foreign list as its posts do (anyone can write this)."""
    return (
        "From: Zed <zed@atl.example>\r\n"
        f"To: {FOREIGN}\r\n"
        f"Subject: [atl-coc] {subject}\r\n"
        f"Message-ID: <{message_id}>\r\n"
        "Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
        "List-Id: <atl-coc.groups.example>\r\n"
        f"List-Post: <mailto:{FOREIGN}>\r\n"
        "\r\n"
        "Meet at the union hall.\r\n"
    ).encode()


def signed(raw: bytes, domain: str, pem: str) -> bytes:
    fields = [b"from", b"to", b"subject", b"message-id", b"date", b"list-id"]
    sig = dkim.sign(raw, b"s1", domain.encode(), load_key(pem), include_headers=fields)
    return bytes(sig) + raw


@pytest.fixture(scope="module")
def pem(tmp_path_factory: pytest.TempPathFactory) -> str:
    return rsa_key(tmp_path_factory.mktemp("keys"), "signer.pem")


@pytest.fixture
def stub(dns_stub: StubDns, pem: str) -> StubDns:
    """The same key published by the foreign list's domain, a stranger's and a TLD."""
    for domain in ("groups.example", "spam.example", "example"):
        dns_stub.txt(f"s1._domainkey.{domain}", public_key_record(load_key(pem)))
    return dns_stub


def dns(stub: StubDns) -> dict[str, object]:
    return {"nameservers": [stub.address], "timeout": "2s"}


@pytest.mark.parametrize("to", ["bare", "wrong tag"])
async def test_a_stranger_naming_the_foreign_list_is_held_not_relayed(
    tmp_path: Path, smarthost: RecordingSmarthost, to: str
) -> None:
    async with bridged(tmp_path, smarthost) as b:
        tagged = b.w.bridge_address("atl")
        rcpt = BRIDGE if to == "bare" else tagged.replace("+", "+x").replace("@", "x@", 1)
        raw = foreign_looking("Forged", "forged@atl.example")
        await b.w.send(raw, rcpt, mail_from=LIST_BOUNCES)
        await b.settle()
        for member in LOCALS:
            assert b.got(member) == []
        [held] = b.held()
        assert held.sender == "zed@atl.example"
        assert b.archived() == []


async def test_a_post_signed_by_the_foreign_lists_domain_needs_no_tag(
    tmp_path: Path, smarthost: RecordingSmarthost, stub: StubDns, pem: str
) -> None:
    async with bridged(tmp_path, smarthost, dns=dns(stub)) as b:
        raw = signed(foreign_looking("Signed", "signed@atl.example"), "groups.example", pem)
        await b.w.send(raw, BRIDGE, mail_from=LIST_BOUNCES)
        await b.settle()
        for member in LOCALS:
            assert b.subjects(member) == ["[team] [atl-coc] Signed"]
        assert b.held() == []


@pytest.mark.parametrize("domain", ["spam.example", "example"])
async def test_a_signature_of_another_domain_or_a_tld_proves_nothing(
    tmp_path: Path, smarthost: RecordingSmarthost, stub: StubDns, pem: str, domain: str
) -> None:
    async with bridged(tmp_path, smarthost, dns=dns(stub)) as b:
        raw = signed(foreign_looking("Other", "other@atl.example"), domain, pem)
        await b.w.send(raw, BRIDGE, mail_from=LIST_BOUNCES)
        await b.settle()
        for member in LOCALS:
            assert b.got(member) == []
        assert len(b.held()) == 1
    assert f"s1._domainkey.{domain}" in stub.queries  # it was checked, and did not align


def test_alignment_is_the_domain_or_a_parent_never_a_tld() -> None:
    assert proof.aligned(["example.org"], "coc@lists.example.org") == "example.org"
    assert proof.aligned(["Lists.Example.ORG."], "coc@lists.example.org") == "lists.example.org"
    assert (
        proof.aligned(["org", "ample.org", "lists.example.org.evil"], "coc@lists.example.org") == ""
    )
    assert proof.aligned(["sub.lists.example.org"], "coc@lists.example.org") == ""


def test_tags_differ_by_bridge_and_secret_and_need_a_secret() -> None:
    one = BridgeConfig(name="atl", list=LIST, foreign=FOREIGN, address=BRIDGE)
    two = BridgeConfig(name="nyc", list=LIST, foreign=FOREIGN, address=BRIDGE)
    secret = "s" * 32
    tags = {proof.tag(secret, one), proof.tag(secret, two), proof.tag("t" * 32, one)}
    assert len(tags) == 3
    assert proof.tag("", one) == ""
    assert proof.subscribed("", one) == BRIDGE  # no secret: nothing a tag could prove
    assert not proof.tagged("", one, [BRIDGE.replace("@", "+@")])
    address = proof.subscribed(secret, one)
    assert proof.tagged(secret, one, [address.upper()])
    assert not proof.tagged(secret, two, [address])
    # and the log never shows the tag whole
    assert proof.tag(secret, one) not in for_log(address)

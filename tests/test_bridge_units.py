"""The pieces of a bridge, each on its own: what counts as the foreign list's post, the
From a foreign list sees, the copy that goes out, RCPT of a bridge address, the checks
`routes check` makes, and AUTH on a bridge's own SMTP server."""

from __future__ import annotations

import asyncio
import email
import email.policy
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
from hypothesis import given, settings
from hypothesis import strategies as st

from listfed.addresses import Kind, resolve
from listfed.bridges import foreign, outgoing, routing
from listfed.config import parse_config
from listfed.config.settings import BridgeConfig
from listfed.context import NodeSettings
from listfed.delivery import rewrite, transport
from listfed.delivery.transport import SmtpTransport
from listfed.errors import ConfigError
from listfed.federation.check import check
from listfed.mail.rawmail import RawMessage

FOREIGN = "atl-coc@groups.example"
HERE = "lists.example.org"
BRIDGE = BridgeConfig("atl", f"team@{HERE}", FOREIGN, address=f"bridge-atl@{HERE}")


def mail(*headers: str, body: str = "Hello.\n") -> bytes:
    return ("\r\n".join(headers) + "\r\n\r\n" + body).encode()


# -- what counts as a post of the foreign list -------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        ("From: Zed <zed@atl.example>", "List-Id: ATL committee <atl-coc.groups.example>"),
        ("From: zed@atl.example", "List-Id: <ATL-COC.Groups.Example>"),
        ("From: zed@atl.example", "List-Post: <mailto:atl-coc@groups.example>"),
        ("From: zed@atl.example", "X-BeenThere: atl-coc@groups.example"),
        ("From: zed@atl.example", "To: Someone <x@y.example>", "Cc: ATL <atl-coc@groups.example>"),
        ('From: "Zed via atl-coc" <atl-coc@groups.example>', "To: atl-coc@groups.example"),
    ],
)
def test_a_post_names_the_foreign_list(headers: tuple[str, ...]) -> None:
    judged = foreign.judge(mail(*headers), FOREIGN)
    assert judged.post, judged.reason


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        (("From: zed@atl.example", "To: bridge-atl@lists.example.org"), "does not name"),
        (("From: zed@atl.example", "List-Id: <atl-coc2.groups.example>"), "does not name"),
        (
            (
                "From: atl-coc-request@groups.example",
                "To: bridge-atl@lists.example.org",
                "List-Id: <atl-coc.groups.example>",
                "Subject: confirm 0123abcd",
            ),
            "robot",
        ),
        (("From: atl-coc+noreply@groups.example", "To: atl-coc@groups.example"), "robot"),
        (
            ("From: zed@atl.example", "To: atl-coc@groups.example", "Auto-Submitted: auto-replied"),
            "automatic",
        ),
    ],
)
def test_other_mail_is_not_a_post(headers: tuple[str, ...], why: str) -> None:
    judged = foreign.judge(mail(*headers), FOREIGN)
    assert not judged.post
    assert why in judged.reason


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_judging_never_raises(raw: bytes) -> None:
    assert isinstance(foreign.judge(raw, FOREIGN).post, bool)


# -- the From a foreign list sees --------------------------------------------------------


def rewritten(*headers: str) -> RawMessage:
    msg = RawMessage.parse(mail(*headers))
    rewrite.as_subscriber(msg, "bridge-atl@lists.example.org", "team")
    return msg


def test_the_subscribed_address_speaks_and_replies_reach_the_author() -> None:
    msg = rewritten("From: Alice Smith <alice@example.net>", "Sender: owner@example.net")
    assert msg.get_all("From") == ['"Alice Smith via team" <bridge-atl@lists.example.org>']
    assert msg.get_all("Reply-To") == ['"Alice Smith" <alice@example.net>']
    assert msg.get_all("Sender") == []


def test_an_address_without_a_name_is_not_shown_as_an_address() -> None:
    msg = rewritten("From: alice@example.net")
    assert msg.get_all("From") == ['"alice at example.net via team" <bridge-atl@lists.example.org>']


def test_the_posters_reply_to_stands() -> None:
    msg = rewritten("From: alice@example.net", "Reply-To: elsewhere@example.net")
    assert msg.get_all("Reply-To") == ["elsewhere@example.net"]


def test_a_non_ascii_name_is_encoded() -> None:
    msg = rewritten("From: =?utf-8?q?Ren=C3=A9e?= <renee@example.net>")
    parsed = email.message_from_bytes(msg.to_bytes(), policy=email.policy.default)
    assert str(parsed["From"]) == "Renée via team <bridge-atl@lists.example.org>"


def test_no_from_at_all_becomes_the_subscribed_address() -> None:
    msg = rewritten("Subject: x")
    assert msg.get_all("From") == ["bridge-atl@lists.example.org"]


# -- the copy that goes out --------------------------------------------------------------


class _Post:
    class lst:
        local = "team"


def test_the_copy_names_the_foreign_list_drops_failing_signatures_and_has_a_date() -> None:
    msg = RawMessage.parse(
        mail(
            "DKIM-Signature: v=1; d=example.net; b=abc",
            "From: Alice <alice@example.net>",
            "To: team@lists.example.org",
            "Message-ID: <m1@example.net>",
        )
    )
    data = outgoing.copy(msg, BRIDGE, _Post(), time.time())  # type: ignore[arg-type]
    out = email.message_from_bytes(data, policy=email.policy.default)
    assert out["To"] == FOREIGN
    assert out["DKIM-Signature"] is None
    assert out["Date"] is not None
    assert out["Message-ID"] == "<m1@example.net>"


def test_a_bridge_is_a_route_that_takes_every_post_unless_it_has_a_match() -> None:
    route = routing.as_route(BRIDGE)
    assert (route.from_, route.to, dict(route.match)) == (BRIDGE.list, (FOREIGN,), {"any": True})
    tagged = BridgeConfig("t", BRIDGE.list, FOREIGN, address="b@x", match={"subject_tag": "r"})
    assert dict(routing.as_route(tagged).match) == {"subject_tag": "r"}
    listening = BridgeConfig("l", BRIDGE.list, FOREIGN, address="b@x", direction="in")
    node = NodeSettings("n", bridges=(BRIDGE, listening))
    assert [r.name for r in routing.routes(node)] == ["bridge:atl"]


# -- RCPT --------------------------------------------------------------------------------


def test_rcpt_to_a_bridge_address_is_the_bridges_list() -> None:
    node = NodeSettings("n", domains=(HERE,), bridges=(BRIDGE,))
    lists = {("team", HERE)}
    res = resolve(
        BRIDGE.address or "", node.domains, lambda *a: a in lists, node.bridge_addresses()
    )
    assert res.recipient is not None
    assert (res.recipient.kind, res.recipient.list_address, res.recipient.detail) == (
        Kind.BRIDGE,
        BRIDGE.list,
        "atl",
    )
    gone = resolve(BRIDGE.address or "", node.domains, lambda *a: False, node.bridge_addresses())
    assert gone.recipient is None and gone.reply.startswith("550 5.1.1")


def test_bridge_is_not_a_list_suffix() -> None:
    res = resolve(f"team-bridge@{HERE}", (HERE,), lambda *a: a == ("team", HERE))
    assert res.recipient is None


# -- routes check ------------------------------------------------------------------------


def test_routes_check_names_a_missing_list_and_an_address_a_list_uses() -> None:
    clash = BridgeConfig("c", BRIDGE.list, FOREIGN, address=f"board-request@{HERE}")
    node = NodeSettings("n", domains=(HERE,), bridges=(BRIDGE, clash))
    report = check(node, lambda a: a == f"board@{HERE}")
    assert any(
        "bridge atl: the list team@lists.example.org does not exist" in e for e in report.errors
    )
    assert any("bridge c: its address board-request@" in e for e in report.errors)
    ok = check(NodeSettings("n", domains=(HERE,), bridges=(BRIDGE,)), lambda a: a == BRIDGE.list)
    assert ok.errors == []
    assert any(
        "bridge atl: team@lists.example.org <-> atl-coc@groups.example" in i for i in ok.info
    )


# -- config ------------------------------------------------------------------------------


def parse(**bridge: Any) -> BridgeConfig:
    data = {"node": {"domains": [HERE]}, "bridge": [bridge]}
    return parse_config(data, Path("/base"), {}).bridges[0]


IMAP = {"name": "i", "list": f"team@{HERE}", "foreign": FOREIGN, "imap": "imap://127.0.0.1/INBOX"}


def test_post_as_defaults_to_an_address_username() -> None:
    assert parse(**IMAP, username="sec@example.org", password="pw").identity == "sec@example.org"
    listening = parse(**IMAP, username="sec", password="pw", direction="in")
    assert listening.identity == "sec"
    with pytest.raises(ConfigError, match="post_as"):
        parse(**IMAP, username="sec", password="pw")


@pytest.mark.parametrize(
    ("change", "key", "message"),
    [
        ({"direction": "sideways"}, "bridge[0].direction", "expected one of both, in, out"),
        ({"foreign": f"x@{HERE}"}, "bridge[0].foreign", r"use a \[\[route\]\]"),
        ({"list": "team@elsewhere.example"}, "bridge[0].list", "not at a domain this node hosts"),
        ({"address": "b@elsewhere.example"}, "bridge[0].address", "not at a domain"),
        ({"foreign": f"team@{HERE}"}, "bridge[0].foreign", "to itself"),
    ],
)
def test_bad_bridges_are_refused_with_the_key(
    change: dict[str, str], key: str, message: str
) -> None:
    entry = {"name": "b", "list": f"team@{HERE}", "foreign": FOREIGN, "address": f"b@{HERE}"}
    with pytest.raises(ConfigError, match=message) as info:
        parse(**(entry | change))
    assert info.value.key == key


# -- AUTH on a bridge's own SMTP server --------------------------------------------------


class _Sink:
    def __init__(self) -> None:
        self.logins: list[tuple[bytes, bytes]] = []
        self.got: list[bytes] = []

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append((data.login, data.password))
        if data.password == b"right":
            return AuthResult(success=True)
        # with no message of its own, aiosmtpd 1.4.6 never answers a failed AUTH
        return AuthResult(success=False, handled=False, message="535 5.7.8 Bad credentials")

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.got.append(envelope.original_content or envelope.content)
        return "250 OK"


@pytest.fixture
async def auth_server() -> AsyncIterator[tuple[_Sink, int]]:
    sink = _Sink()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(sink, authenticator=sink, auth_require_tls=False), "127.0.0.1", 0
    )
    yield sink, server.sockets[0].getsockname()[1]
    server.close()


MESSAGE = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: s\r\n\r\nHi.\r\n"


async def test_a_bridges_server_gets_the_username_and_password(
    auth_server: tuple[_Sink, int],
) -> None:
    sink, port = auth_server
    sender = SmtpTransport("127.0.0.1", port, timeout=5, login=("sec@example.org", "right"))
    result = await sender.send("sec@example.org", ["atl-coc@groups.example"], MESSAGE)
    await sender.close()
    assert result.accepted == ["atl-coc@groups.example"]
    assert sink.logins == [(b"sec@example.org", b"right")]
    # a refused login is our configuration: the relay waits for the mended one
    wrong = SmtpTransport("127.0.0.1", port, timeout=5, login=("sec@example.org", "wrong"))
    result = await wrong.send("sec@example.org", ["atl-coc@groups.example"], MESSAGE)
    await wrong.close()
    assert result.accepted == [] and result.permanent == {}
    assert "refused the login: 535" in result.temporary["atl-coc@groups.example"]
    assert len(sink.got) == 1


async def test_no_password_in_clear_to_a_remote_server(
    auth_server: tuple[_Sink, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    sink, port = auth_server
    monkeypatch.setattr(transport, "is_loopback", lambda host: False)  # as if it were remote
    sender = SmtpTransport("127.0.0.1", port, timeout=5, login=("sec@example.org", "right"))
    result = await sender.send("sec@example.org", ["atl-coc@groups.example"], MESSAGE)
    await sender.close()
    assert "without TLS" in result.temporary["atl-coc@groups.example"]
    assert sink.logins == [] and sink.got == []

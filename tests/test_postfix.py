"""`listfed mta postfix` against a real Postfix in front of a node (SPEC §11): the
tables it writes make Postfix hand the lists' mail to listfed and refuse every other
address of the hosted domain at its own RCPT, so that nothing is accepted and bounced
later to a forged sender."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import aiosmtplib
import pytest
from typer.testing import CliRunner

from listfed.cli.app import app
from listfed.config import Config
from listfed.delivery.smtpchain import send_chained
from listfed.delivery.smtpclient import SmtpClient
from listfed.ops import mta
from tests.conftest import DOMAIN, RecordingSmarthost, World, post, running_world
from tests.postfix import Postfix, postfix_directory, running_postfix

TEAM = f"team@{DOMAIN}"
PEOPLE = ["ann@example.net", "bob@example.net"]


async def _send(port: int, raw: bytes, rcpt: str, sender: str = "ann@example.net") -> None:
    await aiosmtplib.send(
        raw, sender=sender, recipients=[rcpt], hostname="127.0.0.1", port=port, timeout=10
    )


async def test_postfix_in_front_takes_the_lists_mail_and_refuses_the_rest(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    async with running_world(tmp_path / "node", smarthost) as w:
        w.make_list(TEAM, people=PEOPLE)
        config = w.node.config
        config = dataclasses.replace(config, smtp=dataclasses.replace(config.smtp, port=w.port))
        with postfix_directory() as where:
            await _through_postfix(config, where, smarthost, w)


async def _through_postfix(
    config: Config, where: Path, smarthost: RecordingSmarthost, w: World
) -> None:
    tables = mta.tables(config, [TEAM])
    done = mta.write(tables, where)
    assert any(line.startswith("postmap ") and "failed" not in line for line in done), done
    with running_postfix(where, mta.main_cf(config, where)) as front:
        # a post through Postfix reaches every member once
        await _send(
            front.port,
            post("Through Postfix", message_id="<pf1@x>", sender="ann@example.net"),
            TEAM,
        )
        for _ in range(200):
            if len(smarthost.deliveries()) >= 2:
                break
            await asyncio.sleep(0.05)
        await w.idle()
        assert sorted(r for r, _m in smarthost.deliveries()) == PEOPLE
        # robots' and VERP forms are taken too
        await _send(front.port, b"Subject: help\r\n\r\nhelp\r\n", f"team-request@{DOMAIN}")
        await _send(front.port, b"Subject: x\r\n\r\nx\r\n", f"team-bounces+a=b.example@{DOMAIN}")
        # an address the node does not take is refused at Postfix's RCPT: no bounce
        for wrong in (f"nosuchlist@{DOMAIN}", f"team-nope@{DOMAIN}", f"team+x@{DOMAIN}"):
            with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
                await _send(front.port, b"Subject: x\r\n\r\nx\r\n", wrong, "forged@victim.example")
            [error] = refused.value.recipients
            assert error.code == 550, (wrong, error)
        # joining through Postfix: the request, the confirmation, the reply, the welcome
        dave = "dave@example.com"
        await _send(front.port, b"Subject: join\r\n\r\n", f"team-join@{DOMAIN}", dave)
        await _until(lambda: any(r == dave for r, _m in smarthost.deliveries()))
        [(_, request)] = [(r, m) for r, m in smarthost.deliveries() if r == dave]
        reply_to = str(request.message["Reply-To"])
        subject = f"Re: {request.message['Subject']}"
        await _send(front.port, f"Subject: {subject}\r\n\r\nyes\r\n".encode(), reply_to, dave)
        await _until(lambda: len([r for r, _m in smarthost.deliveries() if r == dave]) >= 2)
        welcome = [m for r, m in smarthost.deliveries() if r == dave][-1]
        assert "Welcome to team@" in str(welcome.message["Subject"])
        await asyncio.sleep(1.0)
        assert front.queued() == 0, front.log[-3000:]
        assert "status=bounced" not in front.log


def test_mta_postfix_writes_the_tables_and_lists_create_and_delete_rewrite_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LISTFED_CONFIG", raising=False)
    cli("init", "--name", "node.example.org", "--domain", DOMAIN)
    cli("lists", "create", TEAM)
    printed = cli("mta", "postfix")
    assert f"relay_domains = {DOMAIN}" in printed and f"{TEAM}\tOK" in printed
    assert "/^team-confirm\\+[^@]+@lists\\.example\\.org$/\tOK" in printed
    as_json = json.loads(cli("mta", "postfix", "--json"))
    assert f"{TEAM}\tOK\n" in as_json["files"]["/etc/postfix/listfed_recipients"]
    assert f"relay_domains = {DOMAIN}" in as_json["main_cf"] and as_json["written"] == []
    where = tmp_path / "postfix"
    said = cli("mta", "postfix", "--write", str(where))
    assert f"postmap {where / 'listfed_recipients'}" in said
    assert lookup(where, TEAM) == "OK" and lookup(where, f"other@{DOMAIN}") == ""
    said = cli("lists", "create", f"other@{DOMAIN}")
    assert f"wrote {where / 'listfed_recipients'}" in said and "postfix reload" in said
    assert lookup(where, f"other-leave@{DOMAIN}") == "OK"
    cli("lists", "delete", f"other@{DOMAIN}", "--yes")
    assert lookup(where, f"other@{DOMAIN}") == "" and lookup(where, TEAM) == "OK"


def cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, (result.output, result.stderr)
    return result.stdout


def lookup(where: Path, address: str) -> str:
    found = subprocess.run(
        ["postmap", "-q", address, f"hash:{where / 'listfed_recipients'}"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PATH": "/usr/sbin:/usr/bin:/bin"},
    )
    return found.stdout.strip()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _until(
    check: Callable[[], bool], seconds: float = 40.0, kick: Postfix | None = None
) -> None:
    """Wait for `check`, bounded: Postfix retries on its own clock (1-5 s here). Its
    queue manager has once in a few dozen runs let a deferred message wait past 40 s;
    `kick`: a Postfix whose deferred mail is flushed every 5 s meanwhile (`postfix
    flush`, as an admin would), so the wait is for listfed's part, not Postfix's timer."""
    for step in range(int(seconds / 0.1)):
        if check():
            return
        if kick is not None and step % 50 == 49:
            await asyncio.to_thread(kick.postfix, "flush")
        await asyncio.sleep(0.1)
    raise AssertionError("gave up waiting")


async def test_postfix_behind_defers_then_delivers_each_copy_once(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    """listfed hands its mail to a local Postfix (`[delivery] smarthost`), which takes it
    to the world: here the world answers 451 for a while, then takes it."""
    deferring = True
    smarthost.rcpt_reply = lambda _a: "451 4.3.0 try again later" if deferring else None
    behind_cf = [f"relayhost = [127.0.0.1]:{smarthost.port}", "mynetworks = 127.0.0.0/8"]
    with postfix_directory() as where, running_postfix(where, behind_cf) as behind:
        delivery = {"smarthost": f"smtp://127.0.0.1:{behind.port}"}
        async with running_world(tmp_path / "node", smarthost, delivery=delivery) as w:
            w.make_list(TEAM, people=PEOPLE)
            raw = post("Through Postfix behind", message_id="<pb@x>", sender=PEOPLE[0])
            await w.send(raw, TEAM, PEOPLE[0])
            await w.idle()  # listfed's part is done: Postfix has the copies
            await _until(lambda: smarthost.attempts >= 2)  # and the world said 451
            assert smarthost.deliveries() == [] and behind.queued() >= 1
            deferring = False
            await _until(lambda: len(smarthost.deliveries()) >= len(PEOPLE), kick=behind)
            await asyncio.sleep(2.0)  # nothing comes twice
            assert sorted(r for r, _m in smarthost.deliveries()) == PEOPLE
            assert "status=deferred" in behind.log and "status=sent" in behind.log


async def test_postfix_in_front_queues_while_listfed_is_down_and_hands_over_once(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    port = _free_port()
    smtp = {"listen": f"127.0.0.1:{port}", "lmtp": True}
    with postfix_directory() as where:
        async with running_world(tmp_path / "node", smarthost, smtp=smtp) as w:
            w.make_list(TEAM, people=PEOPLE)
            config = w.node.config
        mta.write(mta.tables(config, [TEAM]), where)
        with running_postfix(where, mta.main_cf(config, where)) as front:
            # listfed is stopped: Postfix takes the post and keeps it
            raw = post("While down", message_id="<down@x>", sender=PEOPLE[0])
            await _send(front.port, raw, TEAM)
            await _until(lambda: "status=deferred" in front.log)
            assert smarthost.deliveries() == []
            async with running_world(tmp_path / "node", smarthost, smtp=smtp) as again:
                await _until(lambda: len(smarthost.deliveries()) >= len(PEOPLE), kick=front)
                await again.idle()
                await asyncio.sleep(1.5)
            assert sorted(r for r, _m in smarthost.deliveries()) == PEOPLE
            assert front.queued() == 0 and "status=bounced" not in front.log


async def test_copies_of_their_own_go_to_postfix_as_bdat_each_with_its_outcome(
    smarthost: RecordingSmarthost,
) -> None:
    """Postfix offers CHUNKING: one-click copies go as BDAT, many in one write
    (delivery/smtpchain.py). It refuses one sender at MAIL and one recipient at RCPT,
    then answers those copies' BDAT without reading their content as commands; the
    others reach the world through it each once, as they were."""
    restrictions = [
        f"relayhost = [127.0.0.1]:{smarthost.port}",
        "mynetworks = 127.0.0.0/8",
        "smtpd_delay_reject = no",
        "smtpd_sender_restrictions = check_sender_access inline:{dan@x.example=REJECT}",
        "smtpd_recipient_restrictions = "
        "check_recipient_access inline:{gone@example.net=REJECT}, permit_mynetworks, reject",
    ]
    body = b"From: a@example.org\r\nSubject: s\r\n\r\n.a dot\r\nRCPT TO:<eve@example.net>\r\n"
    copies = [
        ("b@x.example", ["ann@example.net"], body + b"for ann"),
        ("b@x.example", ["gone@example.net"], body + b"for gone"),
        ("dan@x.example", ["dan@example.net"], body + b"for dan"),
        ("b@x.example", ["bob@example.net"], body + b"for bob"),
    ]
    with postfix_directory() as where, running_postfix(where, restrictions) as behind:
        client = SmtpClient("127.0.0.1", behind.port, timeout=10)
        await client.connect()
        assert client.offers("CHUNKING") and client.offers("PIPELINING")
        outcomes = await send_chained(client, copies)
        await client.quit()
        await _until(lambda: len(smarthost.deliveries()) >= 2, kick=behind)
        await asyncio.sleep(1.0)  # nothing comes twice
    assert [(o.mail.code, [r.code for r in o.rcpts], o.message) for o in outcomes[1:3]] == [
        (250, [554], None),
        (554, [503], None),
    ]
    assert outcomes[0].message is not None and outcomes[0].message.code == 250
    assert outcomes[3].message is not None and outcomes[3].message.code == 250
    got = {r: m.data.split(b"\r\n\r\n", 1)[1] for r, m in smarthost.deliveries()}
    assert len(smarthost.deliveries()) == 2
    assert got == {  # Postfix ends the last line
        "ann@example.net": body.split(b"\r\n\r\n")[1] + b"for ann\r\n",
        "bob@example.net": body.split(b"\r\n\r\n")[1] + b"for bob\r\n",
    }

"""The IMAP bridge as the daemon runs it (SPEC §5, issue 5): a node watching a mailbox on
a real Dovecot (tests/dovecot.py) that is subscribed to a Mailman-like foreign list
(tests/foreignlist.py). What is checked is what the list's members and the corresponding
secretary would notice: each post of the foreign list on the local list once, nothing
lost or doubled across restarts, server crashes and UIDVALIDITY resets, local posts
reaching the foreign list once and not coming back."""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import os
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any, TypeVar

import pytest

from listfed.bridges.imapwatch import MAX_MESSAGE
from listfed.bridges.proof import subscribed
from listfed.bridges.watchers import Timing
from listfed.config.settings import BridgeConfig
from listfed.ops import bridgestatus
from listfed.ops.bridgestatus import BridgeRow
from listfed.ops.node import secret_path
from tests.conftest import DOMAIN, RecordingSmarthost, World, make_config, post, running_world
from tests.dovecot import Dovecot, dovecot_fixture, running_dovecot  # noqa: F401 (fixture)
from tests.foreignlist import ForeignList
from tests.imapproxy import CuttingProxy

T = TypeVar("T")

TEAM = f"team@{DOMAIN}"
PEOPLE = ["alice@example.net", "bob@example.net", "carol@example.com"]
FOREIGN = "atl-coc@groups.example"
SECRETARY = "secretary@example.org"  # the address subscribed to the foreign list
DAVE = "dave@atl.example"  # a member of the foreign list only
# The node's secret in these tests, so that the tag of the subscribed address is known
# before the node starts: the mailbox's server writes it in Delivered-To (bridges/proof.py)
NODE_SECRET = "imap-bridge-tests-node-secret"
TAGGED = subscribed(
    NODE_SECRET, BridgeConfig(name="atl", list=TEAM, foreign=FOREIGN, post_as=SECRETARY)
)
WAIT = 15.0  # bound for anything a test waits for; it normally takes well under 1 s
TIMING = Timing(timeout=5, idle_renew=60, backoff=(0.2, 0.5), poll_interval=0.5)


# --- helpers ---------------------------------------------------------------------------


def foreign_post(n: int, author: str = DAVE, more: str = "") -> bytes:
    """Post n of the foreign list as the secretary's mailbox has it (prefix, footer,
    List-Id; Delivered-To the tagged address)."""
    return delivered(ForeignList().mailmanise(written(n, author, more)))


def delivered(raw: bytes, to: str = TAGGED) -> bytes:
    """As the mailbox's server stores a message it took for `to`."""
    return f"Delivered-To: {to}\n".encode() + raw


def written(n: int, author: str = DAVE, more: str = "") -> bytes:
    """Post n of the foreign list as its author wrote it (`more`: lines after the first)."""
    return (
        f"From: Dave <{author}>\nTo: {FOREIGN}\nSubject: Report {n}\n"
        f"Date: {formatdate(1_790_000_000 + n)}\nMessage-ID: {mid(n)}\n"
        f"Content-Type: text/plain; charset=us-ascii\n\nReport number {n}.\n{more}"
    ).encode()


def mid(n: int) -> str:
    return f"<report{n}@atl.example>"


def not_a_post() -> bytes:
    """Personal mail to the secretary's mailbox: not the foreign list's business."""
    return (
        f"From: Erin <erin@example.net>\nTo: {SECRETARY}\nSubject: Lunch?\n"
        f"Date: {formatdate(1_790_000_000)}\nMessage-ID: <lunch@example.net>\n\nTomorrow?\n"
    ).encode()


def confirmation() -> bytes:
    """The foreign list's robot asking to confirm something: names the list, not a post."""
    return (
        f"From: atl-coc-request@groups.example\nTo: {SECRETARY}\n"
        f"Subject: confirm 0123456789abcdef\nList-Id: <atl-coc.groups.example>\n"
        f"Date: {formatdate(1_790_000_000)}\nMessage-ID: <confirm@groups.example>\n\n"
        "Reply to confirm.\n"
    ).encode()


def bridge(
    dovecot: Dovecot, password: str | None = None, smtp_port: int = 0, imap: str = ""
) -> dict[str, Any]:
    """The bridge's config entry; `imap`: its URL, when not straight to `dovecot`."""
    entry: dict[str, Any] = {
        "name": "atl",
        "list": TEAM,
        "foreign": FOREIGN,
        "imap": imap or dovecot.url,
        "username": dovecot.user,
        "password": password or dovecot.password,
        "post_as": SECRETARY,
    }
    if smtp_port:
        entry["smtp"] = f"smtp://127.0.0.1:{smtp_port}"
    return entry


async def make_team(tmp_path: Path, smarthost: RecordingSmarthost) -> None:
    """The local list, made by a node without the bridge (so the bridge never sees a
    node without its list)."""
    config = make_config(tmp_path, smarthost.port)
    config.node.data_dir.mkdir(parents=True, exist_ok=True)
    secret_path(config).write_text(NODE_SECRET + "\n")
    async with running_world(tmp_path, smarthost) as w:
        w.make_list(TEAM, people=PEOPLE)


@asynccontextmanager
async def bridged(
    tmp_path: Path,
    smarthost: RecordingSmarthost,
    dovecot: Dovecot,
    password: str | None = None,
    smtp_port: int = 0,
    imap: str = "",
) -> AsyncIterator[World]:
    async with running_world(
        tmp_path,
        smarthost,
        imap_timing=TIMING,
        bridge=[bridge(dovecot, password, smtp_port, imap)],
    ) as w:
        yield w


def row(w: World) -> BridgeRow:
    with w.node.db.read_plain() as conn:
        found = bridgestatus.rows(conn).get("atl")
    return found if found is not None else BridgeRow("atl", 0, 0, "", "", 0.0, 0.0, 0, 0)


async def until(condition: Callable[[], T], what: str, timeout: float = WAIT) -> T:
    """Poll `condition` until it is true; its value. AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)


async def row_when(
    w: World, condition: Callable[[BridgeRow], bool], what: str, timeout: float = WAIT
) -> BridgeRow:
    """The bridge's row once `condition` holds for it."""
    found: list[BridgeRow] = []

    def check() -> bool:
        found[:] = [row(w)]
        return condition(found[0])

    await until(check, what, timeout)
    return found[0]


async def at_uid(w: World, uid: int, *, idle: bool = True) -> BridgeRow:
    """Until the bridge's cursor has passed `uid` (and it waits in IDLE again), then until
    the node has delivered what that brought."""
    await until(lambda: row(w).last_uid >= uid, f"the bridge's cursor at UID {uid}")
    if idle:
        await until(lambda: row(w).state == "idle", "the bridge in IDLE")
    await w.idle()
    return row(w)


async def append(dovecot: Dovecot, *raws: bytes) -> list[int]:
    async with asyncio.timeout(WAIT):  # in a thread: the node keeps running meanwhile
        return await asyncio.to_thread(dovecot.append_many, list(raws))


def copies(smarthost: RecordingSmarthost) -> Counter[tuple[str, str]]:
    """(recipient, Message-ID) of every copy the smarthost took."""
    return Counter((rcpt, str(m.message["Message-ID"])) for rcpt, m in smarthost.deliveries())


def once_each(*message_ids: str) -> Counter[tuple[str, str]]:
    return Counter((p, m) for p in PEOPLE for m in message_ids)


def parsed(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def without_listfed_fields(raw: bytes) -> bytes:
    """The message without X-Listfed-* header fields (and their continuation lines), as
    a list that drops unknown headers sends it."""
    head, sep, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
    kept: list[bytes] = []
    dropping = False
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            if not dropping:
                kept.append(line)
            continue
        dropping = line.lower().startswith(b"x-listfed-")
        if not dropping:
            kept.append(line)
    return b"\n".join(kept) + sep + body


class SecretarysMailbox:
    """The ForeignList's `deliver`: the secretary's copy lands in the watched mailbox
    (without our X-Listfed-* fields if `strip`: a list that drops unknown fields), the
    other subscribers' copies are only recorded."""

    def __init__(self, dovecot: Dovecot, strip: bool = False) -> None:
        self.dovecot = dovecot
        self.strip = strip
        self.uids: list[int] = []  # of the secretary's copies, as appended
        self.elsewhere: list[tuple[str, bytes]] = []

    async def __call__(self, address: str, raw: bytes) -> None:
        if address == TAGGED:
            raw = without_listfed_fields(raw) if self.strip else raw
            self.uids.extend(await append(self.dovecot, delivered(raw)))
        else:
            self.elsewhere.append((address, raw))


def drop_into_maildir(dovecot: Dovecot, raw: bytes, name: str) -> None:
    """Deliver as the MTA's local delivery agent would while the IMAP server is down:
    write into tmp/, rename into new/ (owned as the rest of the mail store)."""
    folder = dovecot.maildir()
    owner = folder.stat()
    tmp = folder / "tmp" / name
    tmp.write_bytes(raw)
    os.chown(tmp, owner.st_uid, owner.st_gid)
    tmp.rename(folder / "new" / name)


def logged(caplog: pytest.LogCaptureFixture, *words: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if all(w in r.getMessage() for w in words)]


# --- taking the foreign list's posts ---------------------------------------------------


async def test_foreign_posts_reach_every_member_once_and_other_mail_is_left(
    tmp_path: Path, smarthost: RecordingSmarthost, dovecot: Dovecot
) -> None:
    await make_team(tmp_path, smarthost)
    # already in the mailbox before the node starts: two posts, a personal message and
    # the foreign list's robot
    assert await append(
        dovecot, foreign_post(1), not_a_post(), foreign_post(2), confirmation()
    ) == [1, 2, 3, 4]
    async with bridged(tmp_path, smarthost, dovecot) as w:
        await at_uid(w, 4)
        # one that arrives while the bridge waits in IDLE, then another
        assert await append(dovecot, foreign_post(3)) == [5]
        await at_uid(w, 5)
        assert await append(dovecot, foreign_post(4)) == [6]
        final = await at_uid(w, 6)

    # every member got each post once, and nothing else went anywhere (the foreign
    # list's posts are not sent back to it, the other two messages are not posted)
    assert copies(smarthost) == once_each(mid(1), mid(2), mid(3), mid(4))
    delivered = parsed(smarthost.received[0].data)
    assert delivered["List-Id"] == f"<team.{DOMAIN}>"
    assert "Report" in delivered["Subject"]
    # the human reading the mailbox still finds everything there, unread and unflagged
    assert dovecot.flags() == {uid: set() for uid in range(1, 7)}
    assert (final.uidvalidity, final.last_uid, final.taken) == (dovecot.uidvalidity(), 6, 4)
    assert final.last_error == ""
    assert final.last_message > 0


async def test_a_server_without_idle_is_polled(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    await make_team(tmp_path, smarthost)
    with running_dovecot(idle=False) as server:
        async with bridged(tmp_path, smarthost, server) as w:
            await until(lambda: row(w).state == "polling", "the bridge polling")
            await append(server, foreign_post(1))
            await at_uid(w, 1, idle=False)
            assert row(w).state == "polling"
    assert copies(smarthost) == once_each(mid(1))


async def test_a_too_big_post_is_left_and_reported(
    tmp_path: Path, smarthost: RecordingSmarthost, dovecot: Dovecot
) -> None:
    await make_team(tmp_path, smarthost)
    async with bridged(tmp_path, smarthost, dovecot) as w:
        await until(lambda: row(w).state == "idle", "the bridge in IDLE")
        filler = (b"x" * 999 + b"\n") * (MAX_MESSAGE // 1000 + 1)
        assert await append(dovecot, foreign_post(1) + filler) == [1]
        await until(lambda: row(w).last_uid >= 1, "the cursor past the big one")
        assert await append(dovecot, foreign_post(2)) == [2]
        await until(lambda: row(w).last_uid >= 2, "the cursor at UID 2")
        await w.idle()
        # what `listfed bridges ls` shows: the bridge waits in IDLE (not stuck at the
        # "skipped" event), and what it left behind is on record
        final = await row_when(w, lambda r: r.state == "idle", "the bridge in IDLE", 2.0)
    assert copies(smarthost) == once_each(mid(2))  # the big one is not posted
    assert final.last_error.startswith("skipped: UID 1: ")
    assert dovecot.flags() == {1: set(), 2: set()}  # and it is still there to read


# --- restarts, crashes, renumbering ----------------------------------------------------


async def test_node_restart_takes_nothing_twice_and_what_came_meanwhile(
    tmp_path: Path, smarthost: RecordingSmarthost, dovecot: Dovecot
) -> None:
    await make_team(tmp_path, smarthost)
    await append(dovecot, foreign_post(1))
    async with bridged(tmp_path, smarthost, dovecot) as w:
        await at_uid(w, 1)
        await append(dovecot, foreign_post(2))
        await at_uid(w, 2)
    assert copies(smarthost) == once_each(mid(1), mid(2))

    # the node is down; the foreign list goes on
    assert await append(dovecot, foreign_post(3), foreign_post(4)) == [3, 4]
    async with bridged(tmp_path, smarthost, dovecot) as w:
        await at_uid(w, 4)
        await append(dovecot, foreign_post(5))
        final = await at_uid(w, 5)

    assert copies(smarthost) == once_each(*(mid(n) for n in range(1, 6)))
    # taken from the cursor: 1 and 2 were not even read again, let alone dropped as
    # duplicates
    assert (final.last_uid, final.taken) == (5, 5)
    assert final.last_error == ""


async def test_server_killed_during_idle_then_back_loses_nothing(
    tmp_path: Path,
    smarthost: RecordingSmarthost,
    dovecot: Dovecot,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="listfed")
    await make_team(tmp_path, smarthost)
    async with bridged(tmp_path, smarthost, dovecot) as w:
        await append(dovecot, foreign_post(1))
        await at_uid(w, 1)
        killed = time.time()
        dovecot.stop()  # SIGKILL to the whole server while the bridge is in IDLE
        await until(
            lambda: row(w).state == "disconnected" and row(w).last_error_at >= killed,
            "the bridge to notice the lost connection",
        )
        # mail keeps arriving by local delivery while IMAP is down
        drop_into_maildir(dovecot, foreign_post(2), "1790000002.M1P1.test")
        async with asyncio.timeout(WAIT):
            await asyncio.to_thread(dovecot.start)
        # the bridge comes back by itself and takes it
        await at_uid(w, 2)
        await append(dovecot, foreign_post(3))
        final = await at_uid(w, 3)
        node_alive = w.node.server is not None and w.node.server.is_serving()

    assert node_alive
    assert copies(smarthost) == once_each(mid(1), mid(2), mid(3))
    assert (final.last_uid, final.taken) == (3, 3)
    # the failure is on record with its time
    assert final.last_error != ""
    assert final.last_error_at >= killed
    assert logged(caplog, "connection lost during IDLE")


FILLER = ("x" * 999 + "\n") * 1024  # about 1 MB, 1.4 MB in base64


@pytest.mark.parametrize(
    ("last", "first", "after"),
    [
        (6, 2, 64 * 1024),  # inside the first message
        (6, 2, 2_000_000),  # two messages whole, inside the third
        (6, 2, None),  # every message whole, but not the tagged OK that ends the answer
        # 2 to 51 are one batch (imapwatch.BATCH_COUNT): cut in the next, once they are taken
        (56, 52, 2_000_000),
    ],
    ids=["first-message", "later-message", "before-ok", "second-batch"],
)
async def test_server_killed_mid_fetch_then_back_posts_each_once(
    tmp_path: Path,
    smarthost: RecordingSmarthost,
    dovecot: Dovecot,
    caplog: pytest.LogCaptureFixture,
    last: int,
    first: int,
    after: int | None,
) -> None:
    """Issue 22: the server dies while the bridge reads its answer to the FETCH of the
    messages from UID `first` on, after `after` bytes of it (tests/imapproxy.py cuts the
    connection there and holds it while the server is killed). Posts 2 to `last` wait in
    the mailbox; `first` and `first + 2` are big, so that the answer takes many reads."""
    big = (first, first + 2)
    caplog.set_level(logging.INFO, logger="listfed")
    await make_team(tmp_path, smarthost)
    fetch = rb"UID FETCH %d:\d+ \(UID RFC822\.SIZE BODY\.PEEK\[\]\)" % first
    proxy = CuttingProxy(dovecot.port, re.compile(fetch, re.IGNORECASE), after)
    url = f"imap://127.0.0.1:{await proxy.start()}/INBOX"
    try:
        async with bridged(tmp_path, smarthost, dovecot, imap=url) as w:
            await append(dovecot, foreign_post(1))
            await at_uid(w, 1)
        # the node is down; the foreign list goes on
        raws = [foreign_post(n, more=FILLER if n in big else "") for n in range(2, last + 1)]
        assert await append(dovecot, *raws) == list(range(2, last + 1))
        async with bridged(tmp_path, smarthost, dovecot, imap=url) as w:
            async with asyncio.timeout(WAIT):
                await proxy.cut.wait()
            dovecot.stop()  # SIGKILL to the whole server, its answer half sent
            proxy.hang_up()  # and the connection goes with it
            await until(
                lambda: logged(caplog, "error connection lost during UID FETCH"),
                "the bridge to notice the lost connection",
            )
            # it tries again while the server is down
            await until(
                lambda: logged(caplog, "error connection lost during connecting"),
                "the bridge to try again",
            )
            # nothing of the cut answer was posted, not even the messages it had whole
            await w.idle()
            assert copies(smarthost) == once_each(*(mid(n) for n in range(1, first)))
            assert row(w).last_uid == first - 1
            async with asyncio.timeout(WAIT):
                await asyncio.to_thread(dovecot.start)
            # the bridge comes back by itself, takes the rest, and waits for more
            await at_uid(w, last)
            await append(dovecot, foreign_post(last + 1))
            final = await at_uid(w, last + 1)
            node_alive = w.node.server is not None and w.node.server.is_serving()
    finally:
        await proxy.close()

    assert proxy.passed > 0  # the bridge had part of the answer when the server died
    assert node_alive
    assert copies(smarthost) == once_each(*(mid(n) for n in range(1, last + 2)))
    # whole: the big ones reached the members with every line of their body
    whole = [m for _r, m in smarthost.deliveries() if m.message["Message-ID"] in map(mid, big)]
    assert len(whole) == len(big) * len(PEOPLE)
    for got in whole:
        body = got.message.get_body(("plain",))
        assert body is not None
        assert body.get_content().count("x" * 999 + "\n") == 1024
    assert (final.last_uid, final.taken, final.state) == (last + 1, last + 1, "idle")
    # the human reading the mailbox still finds everything unread
    assert dovecot.flags() == {uid: set() for uid in range(1, last + 2)}
    # the failure in words, without a traceback, and nothing worse than a warning
    assert all(r.exc_info is None and r.levelno < logging.ERROR for r in caplog.records)


async def test_uidvalidity_reset_posts_only_the_new_messages(
    tmp_path: Path,
    smarthost: RecordingSmarthost,
    dovecot: Dovecot,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="listfed")
    await make_team(tmp_path, smarthost)
    async with bridged(tmp_path, smarthost, dovecot) as w:
        await append(dovecot, foreign_post(1), foreign_post(2))
        before = await at_uid(w, 2)
        async with asyncio.timeout(WAIT):
            new = await asyncio.to_thread(dovecot.reset_uidvalidity)
        assert await append(dovecot, foreign_post(3)) == [3]
        await until(
            lambda: (row(w).uidvalidity, row(w).last_uid) == (new, 3),
            "the cursor under the new UIDVALIDITY",
        )
        await until(lambda: row(w).state == "idle", "the bridge in IDLE")
        await w.idle()

    assert before.uidvalidity != new
    # the mailbox was read again from UID 1: 1 and 2 came again, and were dropped
    assert copies(smarthost) == once_each(mid(1), mid(2), mid(3))
    assert logged(caplog, "uidvalidity changed", "taking the mailbox again from UID 1")
    for n in (1, 2):
        assert logged(caplog, mid(n)[1:-1], "duplicate"), n


# --- both ways, with a foreign list ----------------------------------------------------


@pytest.mark.parametrize(
    ("munge_from", "replace_message_id", "strip", "known_by"),
    [
        (False, False, False, "its trace shows it left team@"),
        (True, True, False, "its trace shows it left team@"),
        # a list that drops unknown header fields: by the Message-ID, else by content
        (False, False, True, f"was sent to {FOREIGN} from this list"),
        (True, True, True, f"{FOREIGN} sent it back changed"),
    ],
    ids=["plain", "dmarc", "plain-no-trace", "dmarc-no-trace"],
)
async def test_local_post_reaches_the_foreign_list_once_and_does_not_come_back(
    tmp_path: Path,
    smarthost: RecordingSmarthost,
    dovecot: Dovecot,
    caplog: pytest.LogCaptureFixture,
    munge_from: bool,
    replace_message_id: bool,
    strip: bool,
    known_by: str,
) -> None:
    caplog.set_level(logging.INFO, logger="listfed")
    mailbox = SecretarysMailbox(dovecot, strip)
    await make_team(tmp_path, smarthost)
    async with ForeignList(
        deliver=mailbox, munge_from=munge_from, replace_message_id=replace_message_id
    ) as atl:
        atl.subscribe(TAGGED)
        atl.allow(SECRETARY)
        atl.subscribe(DAVE)
        async with bridged(tmp_path, smarthost, dovecot, smtp_port=atl.port) as w:
            await until(lambda: row(w).state == "idle", "the bridge in IDLE")
            raw = post(
                subject="Bus to Atlanta", body="Seats left: 4.\n", message_id="<bus@example.net>"
            )
            await w.send(raw, TEAM)
            # the foreign list distributes it, the secretary's copy into the mailbox
            await atl.wait_until(lambda: len(atl.distributed) == 2, WAIT)
            [uid] = mailbox.uids
            final = await at_uid(w, uid)

    # the foreign list got it once, from the subscribed address, and took it
    [arrival] = atl.received
    assert (arrival.mail_from, arrival.rcpt_tos) == (SECRETARY, (FOREIGN,))
    [author] = parsed(arrival.raw)["From"].addresses
    assert (author.display_name, author.addr_spec) == ("Alice via team", SECRETARY)
    assert atl.held == [] and atl.failures == []
    assert [a for a, _ in mailbox.elsewhere] == [DAVE]
    # the local members got it once: the copy that came back was not posted again
    assert copies(smarthost) == once_each("<bus@example.net>")
    assert final.sent == 1
    assert final.last_uid == uid
    # and the node says why, in the log
    assert logged(caplog, "drop: echo: ", known_by)
    assert dovecot.flags() == {uid: set()}


async def test_foreign_members_post_reaches_members_once_and_is_not_sent_back(
    tmp_path: Path, smarthost: RecordingSmarthost, dovecot: Dovecot
) -> None:
    mailbox = SecretarysMailbox(dovecot)
    await make_team(tmp_path, smarthost)
    async with ForeignList(deliver=mailbox) as atl:
        atl.subscribe(TAGGED)
        atl.allow(SECRETARY)
        atl.subscribe(DAVE)
        async with bridged(tmp_path, smarthost, dovecot, smtp_port=atl.port) as w:
            await until(lambda: row(w).state == "idle", "the bridge in IDLE")
            raw = await atl.post_from_member(DAVE, "Rally Saturday", "Meet at noon.\n", name="Dave")
            [uid] = mailbox.uids
            final = await at_uid(w, uid)
            await atl.settle()

    message_id = str(parsed(raw)["Message-ID"])
    assert copies(smarthost) == once_each(message_id)
    got = parsed(smarthost.received[0].data)
    assert got["From"].addresses[0].addr_spec == DAVE
    assert "Rally Saturday" in got["Subject"]
    # the foreign list saw only Dave's own post: the bridge sent nothing back
    assert [a.mail_from for a in atl.received] == [DAVE]
    assert len(atl.distributed) == 2
    assert (final.taken, final.sent) == (1, 0)


# --- misconfiguration ------------------------------------------------------------------


async def test_wrong_password_is_reported_and_nothing_is_lost_once_fixed(
    tmp_path: Path, smarthost: RecordingSmarthost, dovecot: Dovecot
) -> None:
    await make_team(tmp_path, smarthost)
    await append(dovecot, foreign_post(1))
    async with bridged(tmp_path, smarthost, dovecot, password="wrong") as w:
        failed = await row_when(w, lambda r: "refused" in r.last_error, "the refused login")
        assert failed.last_error.startswith(f"LOGIN as {dovecot.user} refused")
        assert "AUTHENTICATIONFAILED" in failed.last_error
        # the node still serves its list meanwhile; the foreign list keeps posting
        await w.send(post(subject="Still here", message_id="<here@example.net>"), TEAM)
        await append(dovecot, foreign_post(2))
        await w.idle()
        assert copies(smarthost)[(PEOPLE[0], "<here@example.net>")] == 1
        assert row(w).last_uid == 0

        w.node.reload(make_config(tmp_path, smarthost.port, bridge=[bridge(dovecot)]))
        final = await at_uid(w, 2)

    # without a bridge smtp server, the local post went to the foreign list by the
    # smarthost; the two foreign posts came in once each
    assert copies(smarthost) == once_each("<here@example.net>", mid(1), mid(2)) + Counter(
        {(FOREIGN, "<here@example.net>"): 1}
    )
    assert (final.last_uid, final.taken, final.state) == (2, 2, "idle")

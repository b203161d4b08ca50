"""The IMAP bridge's mailbox watcher against a real Dovecot (tests/dovecot.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from listfed.bridges.imapconn import parse_fetch, parse_search, parse_uidvalidity, uid_set
from listfed.bridges.imapwatch import (
    Cursor,
    Fetched,
    ImapTarget,
    ImapWatcher,
    parse_imap_url,
    plan,
)
from tests.dovecot import Dovecot, dovecot_fixture, running_dovecot  # noqa: F401 (fixture)

WAIT = 10.0  # bound for anything the tests wait for; it normally takes well under 1 s


def message(n: int, body: str = "Hello.\n") -> bytes:
    return f"From: a@example.net\nSubject: m{n}\nMessage-ID: <m{n}@example.net>\n\n{body}".encode()


def crlf(raw: bytes) -> bytes:
    return raw.replace(b"\n", b"\r\n")


class Caller:
    """The watcher's caller: keeps the cursor and the delivered messages as a database
    would, records on_state, and can be told to fail deliveries."""

    def __init__(self, cursor: Cursor | None = None) -> None:
        self.cursor = cursor
        self.delivered: list[Fetched] = []
        self.calls: list[tuple[Cursor, list[int]]] = []
        self.states: list[tuple[str, str]] = []
        self.fail: Callable[[list[Fetched]], bool] = lambda _batch: False
        self.on_state_hook: Callable[[str, str], None] = lambda _s, _d: None
        self.changed = asyncio.Event()
        self.passes = 0

    async def load_cursor(self) -> Cursor | None:
        self.passes += 1
        self.changed.set()
        return self.cursor

    async def deliver(self, cursor: Cursor, batch: list[Fetched]) -> None:
        self.calls.append((cursor, [m.uid for m in batch]))
        self.changed.set()
        if self.fail(batch):
            raise RuntimeError("database is locked")
        self.delivered.extend(batch)
        self.cursor = cursor

    def on_state(self, state: str, detail: str) -> None:
        self.states.append((state, detail))
        self.changed.set()
        self.on_state_hook(state, detail)

    @property
    def uids(self) -> list[int]:
        return [m.uid for m in self.delivered]

    def named(self, state: str) -> list[str]:
        return [detail for s, detail in self.states if s == state]

    async def until(self, condition: Callable[[], bool], timeout: float = WAIT) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                self.changed.clear()
                await self.changed.wait()


def watcher(
    server: Dovecot, caller: Caller, password: str | None = None, **kw: object
) -> ImapWatcher:
    target = ImapTarget(
        "127.0.0.1", server.port, False, "INBOX", server.user, password or server.password
    )
    options: dict[str, object] = {"timeout": 5.0, "backoff": (0.2, 0.5)} | kw
    return ImapWatcher(
        target,
        load_cursor=caller.load_cursor,
        deliver=caller.deliver,
        on_state=caller.on_state,
        **options,  # type: ignore[arg-type]
    )


@asynccontextmanager
async def running(w: ImapWatcher) -> AsyncIterator[asyncio.Event]:
    """run() in a task; at the end, stop it and check it ended by itself."""
    stop = asyncio.Event()
    task = asyncio.create_task(w.run(stop))
    try:
        yield stop
    finally:
        stop.set()
        async with asyncio.timeout(WAIT):
            await task


async def append(server: Dovecot, *raws: bytes) -> list[int]:
    # in a thread, so that the watcher keeps running meanwhile
    async with asyncio.timeout(WAIT):
        return await asyncio.to_thread(server.append_many, list(raws))


# --- one pass --------------------------------------------------------------------------


async def test_sync_once_takes_new_messages_once_in_uid_order(dovecot: Dovecot) -> None:
    raws = [message(1), message(2), crlf(message(3))]
    assert await append(dovecot, *raws) == [1, 2, 3]
    caller = Caller()
    w = watcher(dovecot, caller)
    async with asyncio.timeout(WAIT):
        assert await w.sync_once() == 3
        # Dovecot keeps LF in the maildir and serves CRLF, whatever was appended
        assert [m.raw for m in caller.delivered] == [crlf(message(n)) for n in (1, 2, 3)]
        assert caller.uids == [1, 2, 3]
        assert caller.cursor == Cursor(dovecot.uidvalidity(), 3)
        assert await w.sync_once() == 0
        assert caller.uids == [1, 2, 3]
        await w.close()

        # a restart: a new watcher from the stored cursor takes only what came since
        await append(dovecot, message(4), message(5))
        w2 = watcher(dovecot, caller)
        assert await w2.sync_once() == 2
        assert caller.uids == [1, 2, 3, 4, 5]
        await w2.close()
    # BODY.PEEK: the human still sees them as unread
    assert all("\\Seen" not in flags for flags in dovecot.flags().values())
    assert caller.named("error") == []


async def test_batches_and_a_failed_batch_is_taken_again(dovecot: Dovecot) -> None:
    await append(dovecot, *(message(n) for n in range(1, 121)))
    caller = Caller()
    caller.fail = lambda batch: bool(batch) and batch[0].uid == 51 and len(caller.calls) == 2
    w = watcher(dovecot, caller)
    async with asyncio.timeout(WAIT):
        with pytest.raises(RuntimeError, match="database is locked"):
            await w.sync_once()
        assert caller.uids == list(range(1, 51))
        assert caller.cursor is not None and caller.cursor.last_uid == 50
        assert await w.sync_once() == 70
        await w.close()
    assert caller.uids == list(range(1, 121))
    assert [(c.last_uid, len(uids)) for c, uids in caller.calls] == [
        (50, 50),
        (100, 50),  # failed
        (100, 50),
        (120, 20),
    ]


async def test_deliver_raising_once_is_retried_by_run(dovecot: Dovecot) -> None:
    await append(dovecot, message(1), message(2), message(3))
    caller = Caller()
    caller.fail = lambda _batch: len(caller.calls) == 1
    w = watcher(dovecot, caller)
    async with running(w):
        await caller.until(lambda: len(caller.delivered) == 3)
    assert caller.uids == [1, 2, 3]
    assert [uids for _c, uids in caller.calls] == [[1, 2, 3], [1, 2, 3]]
    assert caller.named("error") == ["database is locked"]


async def test_too_big_messages_are_skipped_and_reported(dovecot: Dovecot) -> None:
    big = message(2, body="x" * 2000 + "\n")
    await append(dovecot, message(1), big, message(3))
    caller = Caller()
    w = watcher(dovecot, caller, max_message=1000)
    async with asyncio.timeout(WAIT):
        assert await w.sync_once() == 2
        await w.close()
    assert caller.uids == [1, 3]
    assert caller.cursor is not None and caller.cursor.last_uid == 3
    [detail] = caller.named("skipped")
    assert detail.startswith("UID 2: ")


async def test_first_pass_on_an_empty_mailbox_records_the_uidvalidity(dovecot: Dovecot) -> None:
    caller = Caller()
    w = watcher(dovecot, caller)
    async with asyncio.timeout(WAIT):
        assert await w.sync_once() == 0
        assert await w.sync_once() == 0
        await w.close()
    assert caller.calls == [(Cursor(dovecot.uidvalidity(), 0), [])]


# --- run(): IDLE, polling, reconnecting ------------------------------------------------


async def test_run_takes_a_message_pushed_during_idle(dovecot: Dovecot) -> None:
    caller = Caller()
    w = watcher(dovecot, caller)
    async with running(w):
        await caller.until(lambda: w.state == "idle")
        await append(dovecot, message(1))
        await caller.until(lambda: caller.uids == [1], timeout=3.0)
    assert [s for s, _d in caller.states] == ["connected", "idle", "disconnected"]
    assert "Logged out" in dovecot.log()  # stop set: it left IDLE and logged out


async def test_run_renews_idle(dovecot: Dovecot) -> None:
    caller = Caller()
    w = watcher(dovecot, caller, idle_renew=0.2)
    async with running(w):
        await caller.until(lambda: w.state == "idle")
        await caller.until(lambda: caller.passes >= 4)  # each renewal is a pass
        await append(dovecot, message(1))
        await caller.until(lambda: caller.uids == [1])
    assert caller.named("error") == []
    assert dovecot.log().count(f"Login: user=<{dovecot.user}>") == 2  # ours and append's


async def test_run_reconnects_after_the_server_dies_during_idle(dovecot: Dovecot) -> None:
    caller = Caller()
    w = watcher(dovecot, caller)
    async with running(w):
        await append(dovecot, message(1))
        await caller.until(lambda: caller.uids == [1] and w.state == "idle")
        dovecot.stop()  # SIGKILL to the whole server, mid-IDLE
        await caller.until(lambda: w.state == "disconnected")
        await caller.until(lambda: len(caller.named("error")) >= 2)  # refused while down
        dovecot.start()
        await append(dovecot, message(2), message(3))
        await caller.until(lambda: caller.uids == [1, 2, 3])
        await caller.until(lambda: w.state == "idle")
        await append(dovecot, message(4))
        await caller.until(lambda: caller.uids == [1, 2, 3, 4])
    assert [m.raw for m in caller.delivered] == [crlf(message(n)) for n in (1, 2, 3, 4)]
    errors = caller.named("error")
    # killed in IDLE, or in the second look that follows a pass which took something
    assert errors[0] in ("connection lost during IDLE", "connection lost during NOOP")
    assert "Connect call failed" in errors[1]


async def test_uidvalidity_reset_takes_everything_again(dovecot: Dovecot) -> None:
    caller = Caller()
    w = watcher(dovecot, caller)
    async with running(w):
        await append(dovecot, message(1), message(2))
        await caller.until(lambda: caller.uids == [1, 2] and w.state == "idle")
        old = caller.cursor
        async with asyncio.timeout(WAIT):
            new = await asyncio.to_thread(dovecot.reset_uidvalidity)
        await caller.until(lambda: len(caller.uids) == 4)
    assert old is not None and old.uidvalidity != new
    assert caller.uids == [1, 2, 1, 2]
    assert [m.raw for m in caller.delivered[2:]] == [crlf(message(1)), crlf(message(2))]
    assert caller.cursor == Cursor(new, 2)
    assert caller.named("uidvalidity changed") == [
        f"{old.uidvalidity} -> {new}: taking the mailbox again from UID 1"
    ]


async def test_run_polls_a_server_without_idle() -> None:
    with running_dovecot(idle=False) as server:
        caller = Caller()
        w = watcher(server, caller, poll_interval=0.2)
        async with running(w):
            await caller.until(lambda: w.state == "polling")
            await append(server, message(1))
            await caller.until(lambda: caller.uids == [1])
        assert caller.named("error") == []


async def test_wrong_password_is_reported_and_retried(dovecot: Dovecot) -> None:
    caller = Caller()
    w = watcher(dovecot, caller, password="wrong")
    stop = asyncio.Event()

    def stop_after_two(state: str, _detail: str) -> None:
        if state == "error" and len(caller.named("error")) == 2:
            stop.set()

    caller.on_state_hook = stop_after_two
    async with asyncio.timeout(WAIT):
        await w.run(stop)  # returns, never raises
    errors = caller.named("error")
    assert len(errors) == 2
    assert errors[0].startswith(f"LOGIN as {dovecot.user} refused: NO [AUTHENTICATIONFAILED]")
    assert caller.delivered == []


async def test_stop_while_waiting_between_retries() -> None:
    server = Dovecot()  # never started: connection refused
    try:
        caller = Caller()
        w = watcher(server, caller, backoff=(60,))
        async with running(w):
            await caller.until(lambda: len(caller.named("error")) == 1)
        # stop set during the 60 s backoff: run() returned at once
    finally:
        server.close()


# --- pure parts ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("imap://127.0.0.1:1143/INBOX", ("127.0.0.1", 1143, False, "INBOX")),
        ("imaps://imap.example.org:993/INBOX", ("imap.example.org", 993, True, "INBOX")),
        ("imap://h", ("h", 143, False, "INBOX")),
        ("IMAPS://h/", ("h", 993, True, "INBOX")),
        ("imaps://h/Lists/atl%20coc", ("h", 993, True, "Lists/atl coc")),
        ("imap://[::1]:1143/INBOX", ("::1", 1143, False, "INBOX")),
    ],
)
def test_parse_imap_url(url: str, expected: tuple[str, int, bool, str]) -> None:
    assert parse_imap_url(url) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("pop3://h/INBOX", "starts with imap:// or imaps://"),
        ("h:993", "starts with imap:// or imaps://"),
        ("imap://h:99999/INBOX", "bad port"),
        ("imap://h:abc/INBOX", "bad port"),
        ("imap://h:0/INBOX", "bad port"),
        ("imap:///INBOX", "no host"),
        ("imap://user:pw@h/INBOX", "username and password as their own keys"),
        ("imap://h/INBOX?x=1", "no ?query"),
        ("imap://h/Bo%C3%AEte", "printable ASCII"),
    ],
)
def test_parse_imap_url_refuses(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("?", r"\?")) as info:
        parse_imap_url(url)
    assert repr(url) in str(info.value)


def test_parse_fetch_takes_literals_whole_and_skips_unasked_items() -> None:
    lines = [
        b"1 FETCH (UID 7 RFC822.SIZE 12 BODY[] {12}",
        bytearray(b"a (b\r\n)\r\n* 2 "),
        b")",
        b"3 FETCH (FLAGS (\\Seen))",  # another client read a message meanwhile
        b"4 FETCH (RFC822.SIZE 5 UID 9 BODY[] {5}",
        bytearray(b"x\r\n\r\n"),
        b" FLAGS ())",
        b"Fetch completed (0.001 + 0.000 secs).",
    ]
    records = [(r.uid, r.size, r.body) for r in parse_fetch(lines)]
    assert records == [
        (7, 12, b"a (b\r\n)\r\n* 2 "),
        (None, None, None),
        (9, 5, b"x\r\n\r\n"),
    ]


def test_parse_select_and_search_answers() -> None:
    select = [
        b"FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)",
        b"3 EXISTS",
        b"OK [UIDVALIDITY 1795485868] UIDs valid",
        b"[READ-WRITE] Select completed (0.001 + 0.000 secs).",
    ]
    assert parse_uidvalidity(select) == 1795485868
    assert parse_search([b"4 5 9", b"Search completed (0.001 + 0.000 secs)."]) == [4, 5, 9]
    assert parse_search([b"", b"Search completed."]) == []
    assert uid_set([9, 1, 2, 3, 5, 6]) == "1:3,5:6,9"


def test_plan_cuts_batches_by_count_and_bytes() -> None:
    uids = [1, 2, 3, 4, 5, 6]
    sizes = {1: 10, 2: 10, 3: 500, 4: 10, 6: 10}  # 5 was expunged meanwhile
    batches = plan(uids, sizes, count=2, nbytes=100, max_message=400)
    assert [(b.last_uid, b.uids, b.skipped) for b in batches] == [
        (2, [1, 2], []),
        (6, [4, 6], [(3, 500)]),  # skipped ones take no room
    ]
    # one message over the byte budget still goes, alone
    assert [b.uids for b in plan([1, 2], {1: 150, 2: 150}, nbytes=100)] == [[1], [2]]


async def test_a_server_that_stops_answering_is_reported_and_left_in_time() -> None:
    """Issue 22: a slow or hung IMAP server (here: it greets, then says nothing more) is
    an error after the timeout, retried with backoff; the watcher never hangs on it."""
    hung: list[asyncio.StreamWriter] = []

    async def greet_then_hang(_r: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"* OK [CAPABILITY IMAP4rev1 IDLE] ready\r\n")
        hung.append(writer)  # kept open, never answered

    server = await asyncio.start_server(greet_then_hang, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        caller = Caller()
        target = ImapTarget("127.0.0.1", port, False, "INBOX", "u", "p")
        w = ImapWatcher(
            target,
            load_cursor=caller.load_cursor,
            deliver=caller.deliver,
            on_state=caller.on_state,
            timeout=0.5,
            backoff=(0.2,),
        )
        async with running(w):
            await caller.until(lambda: len(caller.named("error")) >= 2)
        assert caller.delivered == []
        assert all("no answer in 0.5 s" in e for e in caller.named("error"))
    finally:
        for writer in hung:
            writer.close()
        server.close()
        await server.wait_closed()

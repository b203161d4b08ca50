"""A foreign member's direct copy (issue 19, item 3). Mailman 3, munging or wrapping
for DMARC, puts the bridge's address in Cc (the author of our post, as it sees it) or
Reply-To, so a foreign member's Reply-All also reaches the bridge straight from their
mail program. That copy is the same post as the one the foreign list sends: dropped as
a duplicate, whichever comes first, never posted twice, held or sent to the owners."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RecordingSmarthost
from tests.foreignlist import reply_all
from tests.test_bridge_smtp import ALICE, BRIDGE, FOREIGN, LOCALS, OWEN, ZED, Bridged, bridged

MAILMAN3 = {
    "munge": {"style": "mailman3", "dmarc": "munge", "reply_to_list": True},
    "wrap": {"style": "mailman3", "dmarc": "wrap", "reply_to_list": True},
    "wrap, replies to authors": {"style": "mailman3", "dmarc": "wrap"},
}
WAIT = 600.0  # [[bridge]] direct_wait's default


@asynccontextmanager
async def clocked(
    tmp_path: Path, smarthost: RecordingSmarthost, **kw: Any
) -> AsyncIterator[tuple[Bridged, list[float]]]:
    """A bridged node whose clock the test moves (`now[0]`)."""
    now = [time.time()]
    async with bridged(tmp_path, smarthost, clock=lambda: now[0], **kw) as b:
        yield b, now


async def zeds_reply_all(b: Bridged) -> tuple[bytes, list[str]]:
    """Alice posts; Zed, on the foreign list, answers her copy with Reply-All."""
    await b.local_post("Banners", body="Who brings the banners?\n")
    await b.settle()
    [copy] = b.got(ZED)
    raw, rcpts = reply_all(copy, ZED, "I will bring them.\n", name="Zed")
    assert BRIDGE in rcpts and FOREIGN in rcpts  # the foreign list put the bridge there
    return raw, rcpts


def posted(b: Bridged, text: str) -> dict[str, int]:
    """How many copies carrying `text` each local member got."""
    return {m: sum(text in _text(msg) for msg in b.got(m)) for m in [*LOCALS, OWEN]}


def _text(msg: Message) -> str:
    return "\n".join(
        str(part.get_payload(decode=True) or b"", "utf-8", "replace")
        for part in msg.walk()
        if part.get_content_maintype() == "text"
    )


@pytest.mark.parametrize("foreign", list(MAILMAN3))
async def test_a_direct_copy_after_the_lists_own_is_dropped(
    tmp_path: Path, smarthost: RecordingSmarthost, foreign: str
) -> None:
    async with bridged(tmp_path, smarthost, foreign=MAILMAN3[foreign]) as b:
        raw, _ = await zeds_reply_all(b)
        await b.atl.post_raw(raw, ZED)
        await b.settle()
        await b.w.send(raw, BRIDGE, mail_from=ZED)
        await b.settle()
        assert posted(b, "I will bring them.") == {ALICE: 1, LOCALS[1]: 1, OWEN: 1}
        assert b.notices(OWEN) == []
        assert b.held() == []
        assert len(b.archived()) == 2


@pytest.mark.parametrize("foreign", list(MAILMAN3))
async def test_a_direct_copy_before_the_lists_own_waits_and_is_dropped(
    tmp_path: Path, smarthost: RecordingSmarthost, foreign: str
) -> None:
    async with clocked(tmp_path, smarthost, foreign=MAILMAN3[foreign]) as (b, now):
        raw, _ = await zeds_reply_all(b)
        await b.w.send(raw, BRIDGE, mail_from=ZED)  # Zed's mail program is quicker
        await b.settle()
        assert posted(b, "I will bring them.") == {ALICE: 0, LOCALS[1]: 0, OWEN: 0}
        await b.atl.post_raw(raw, ZED)
        await b.settle()
        now[0] += WAIT + 1
        await b.settle()
        assert posted(b, "I will bring them.") == {ALICE: 1, LOCALS[1]: 1, OWEN: 1}
        assert b.notices(OWEN) == []
        assert b.held() == []


async def test_a_direct_copy_whose_list_copy_never_comes_is_judged_after_the_wait(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    async with clocked(tmp_path, smarthost, foreign=MAILMAN3["munge"]) as (b, now):
        raw, _ = await zeds_reply_all(b)
        b.atl.moderated.add(ZED)  # the foreign list holds it: only the direct copy comes
        await b.atl.post_raw(raw, ZED)
        await b.w.send(raw, BRIDGE, mail_from=ZED)
        await b.settle()
        assert b.held() == []
        now[0] += WAIT + 1
        await b.settle()
        [held] = b.held()  # a stranger's post on a members-only list, as before
        assert held.sender == ZED
        assert {m: n for m, n in posted(b, "I will bring them.").items() if m != OWEN} == {
            ALICE: 0,
            LOCALS[1]: 0,
        }  # Owen, the owner, is asked to moderate it


async def test_direct_wait_zero_judges_a_direct_copy_at_once(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    async with bridged(
        tmp_path, smarthost, foreign=MAILMAN3["munge"], bridge={"direct_wait": "0s"}
    ) as b:
        raw, _ = await zeds_reply_all(b)
        await b.w.send(raw, BRIDGE, mail_from=ZED)
        await b.settle()
        assert [h.sender for h in b.held()] == [ZED]

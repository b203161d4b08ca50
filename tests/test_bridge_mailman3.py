"""A conversation across a bridge to a GNU Mailman 3 list that wraps every post for DMARC
and points replies at itself (issue 19, the Must show): over 20 alternating Reply-Alls,
each member on either side gets each post exactly once; our members' Reply-All reaches
our list, never the foreign one, and keeps the author; subjects carry one `Re:`, before
our prefix; the archive finds a wrapped post's words. Then the same with Mailman 3
munging From, and a Sympa list; and a bridge that strips or replaces the foreign tag."""

from __future__ import annotations

import re
import time
from collections import Counter
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from listfed.db import compressed
from tests.conftest import RecordingSmarthost
from tests.foreignlist import reply_all
from tests.test_bridge_smtp import (
    ALICE,
    BRIDGE,
    CAROL,
    FOREIGN,
    LIST,
    OWEN,
    ZED,
    Bridged,
    bridged,
)

YAN = "yan@atl.example"  # a second member of the foreign list
WAIT = 601.0  # past [[bridge]] direct_wait
LISTS = {
    "mailman 3, wrap": {"style": "mailman3", "dmarc": "wrap", "reply_to_list": True},
    "mailman 3, munge": {"style": "mailman3", "dmarc": "munge", "reply_to_list": True},
    "mailman 3, wrap, replies to authors": {"style": "mailman3", "dmarc": "wrap"},
    "sympa, munge": {"style": "sympa", "dmarc": "munge"},
}
TAG = {"mailman3": "[Atl-coc]", "sympa": "[atl-coc]"}
_TOKEN = re.compile(r"\bpost-(\d+)\b")


def tokens(msg: Message) -> list[str]:
    """The post numbers a message carries in its text (a wrapper's inner text too)."""
    found: list[str] = []
    for part in msg.walk():
        if part.get_content_maintype() == "text" and not part.is_multipart():
            data = part.get_payload(decode=True)
            text = data.decode("utf-8", "replace") if isinstance(data, bytes) else ""
            found += _TOKEN.findall(text)
    return list(dict.fromkeys(found))


def received(messages: list[Message]) -> Counter[str]:
    return Counter(t for m in messages for t in tokens(m))


class Talk:
    """Alice (ours) and Zed (theirs) answering each other with Reply-All."""

    def __init__(self, b: Bridged, now: list[float]) -> None:
        self.b, self.now, self.count = b, now, 0

    async def settle(self) -> None:
        await self.b.settle()
        self.now[0] += WAIT  # what waits (a direct copy) is judged now
        await self.b.settle()

    def latest(self, who: str) -> Message:
        """The newest copy of the conversation in `who`'s inbox (through a list)."""
        if who == ZED:
            return [d.message for d in self.b.atl.distributed if d.subscriber == ZED][-1]
        return self.b.got(who)[-1]

    async def alice(self) -> None:
        self.count += 1
        copy = self.latest(ALICE)
        raw, rcpts = reply_all(copy, ALICE, f"post-{self.count} from Alice\n", name="Alice")
        assert LIST in rcpts, rcpts  # Reply-All reaches our list ...
        assert FOREIGN not in rcpts  # ... never the foreign one, where Alice is no member
        assert BRIDGE not in rcpts  # the bridge's own address is the list's too
        author = ZED if "from Zed" in " ".join(str(p.get_payload()) for p in copy.walk()) else ""
        assert not author or author in rcpts  # and the author stays reachable
        await self.b.w.send(raw, LIST, mail_from=ALICE)  # her other rcpts: people, not lists
        await self.settle()

    async def zed(self, direct_first: bool) -> None:
        self.count += 1
        copy = self.latest(ZED)
        raw, rcpts = reply_all(copy, ZED, f"post-{self.count} from Zed\n", name="Zed")
        assert FOREIGN in rcpts
        sends = [self.b.atl.post_raw(raw, ZED)]
        if BRIDGE in rcpts:  # Mailman put the bridge in Cc or Reply-To: a direct copy
            sends.insert(0 if direct_first else 1, self.b.w.send(raw, BRIDGE, mail_from=ZED))
        for send in sends:
            await send
        await self.settle()


@pytest.mark.parametrize("kind", list(LISTS))
async def test_twenty_alternating_replies_reach_everyone_once(
    tmp_path: Path, smarthost: RecordingSmarthost, kind: str
) -> None:
    foreign: dict[str, Any] = LISTS[kind]
    now = [time.time()]
    async with bridged(tmp_path, smarthost, foreign=foreign, clock=lambda: now[0]) as b:
        b.atl.subscribe(YAN, ("127.0.0.1", smarthost.port))
        talk = Talk(b, now)
        await b.foreign_post("Day of action", "post-0 from Zed: meet at the Quaker meeting house\n")
        await talk.settle()
        for turn in range(10):
            await talk.alice()
            await talk.zed(direct_first=turn % 2 == 0)

        every = Counter({str(n): 1 for n in range(21)})
        for member in (ALICE, CAROL, OWEN):
            assert received(b.got(member)) == every, member
        for member in (ZED, YAN):
            theirs = [d.message for d in b.atl.distributed if d.subscriber == member]
            assert received(theirs) == every, member
        assert b.held() == [] and b.atl.held == []
        assert b.notices(OWEN) == []
        assert len(b.relays()) == 10  # Alice's replies, each sent once

        tag = TAG[foreign["style"]]
        subjects = {str(m["Subject"]) for m in b.got(CAROL)}
        assert subjects == {f"[team] {tag} Day of action", f"Re: [team] {tag} Day of action"}
        theirs = {str(d.message["Subject"]) for d in b.atl.distributed if d.subscriber == YAN}
        if foreign["style"] == "mailman3":  # Sympa leaves a subject with its tag as it is
            assert theirs == {f"{tag} Day of action", f"{tag} Re: Day of action"}

        archived = b.archived()
        assert len(archived) == 21
        assert len({a.thread_id for a in archived}) == 1
        [first] = [a for a in archived if "post-0" in compressed.text_of(a.body_text)]
        # a wrapped post by its own words and author; a munged one is From the list
        author = ZED if foreign["dmarc"] == "wrap" else FOREIGN
        assert b.search('"Quaker meeting house"') == [(first.message_id, author)]


@pytest.mark.parametrize(
    ("retag", "ours", "back"),
    [
        ("strip", "Re: [team] Day of action", "[Atl-coc] Re: Day of action"),
        ("[atl]", "Re: [team] [atl] Day of action", "[Atl-coc] Re: Day of action"),
    ],
)
async def test_a_bridge_strips_or_replaces_the_foreign_tag_on_our_copies(
    tmp_path: Path, smarthost: RecordingSmarthost, retag: str, ours: str, back: str
) -> None:
    foreign = {"style": "mailman3", "dmarc": "munge", "reply_to_list": True}
    bridge = {"foreign_tag": "[Atl-coc]", "retag": retag}
    async with bridged(tmp_path, smarthost, foreign=foreign, bridge=bridge) as b:
        await b.foreign_post("Day of action", "Meet at noon.\n")
        await b.settle()
        raw, _ = reply_all(b.got(ALICE)[-1], ALICE, "I will be there.\n")
        await b.w.send(raw, LIST, mail_from=ALICE)
        await b.settle()
        assert [str(m["Subject"]) for m in b.got(CAROL)][-1] == ours
        [relay] = b.relays()
        assert str(relay.message["Subject"]) == "Re: Day of action"  # the list adds its own
        assert str(b.got(ZED)[-1]["Subject"]) == back
        await b.atl.post_raw(reply_all(b.got(ZED)[-1], ZED, "Good.\n")[0], ZED)
        await b.settle()
        assert [str(m["Subject"]) for m in b.got(CAROL)][-1] == ours

"""A bridge to a list that wraps posts (issue 19, item 1): GNU Mailman 3 with DMARC
`wrap_message` sends each post as a new message, with a new Message-ID, whose first
part is the post (message/rfc822, our trace and Message-ID intact) and whose second is
its footer. Our own posts coming back so are echoes; a foreign post so wrapped is
archived by its own words and author; the same post reaching the list unwrapped by
another way is one post."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from listfed.db import compressed
from listfed.listinfo import Policy
from tests.conftest import RecordingSmarthost, post
from tests.foreignlist import ForeignList
from tests.test_bridge_smtp import FOREIGN, LIST, LOCALS, OTHER, ZED, bridged, pipeline_log

WRAP = {"style": "mailman3", "dmarc": "wrap", "reply_to_list": True}
SHAPES = {
    "wrap": WRAP,
    "wrap, no reply-to munging": {**WRAP, "reply_to_list": False},
    "wrap with a text first": {**WRAP, "wrapped_text": "This post was wrapped for DMARC."},
}


@pytest.mark.parametrize("trace", ["trace kept", "trace dropped"])
@pytest.mark.parametrize("shape", list(SHAPES))
async def test_the_wrapped_echo_of_a_local_post_is_dropped(
    tmp_path: Path,
    smarthost: RecordingSmarthost,
    caplog: pytest.LogCaptureFixture,
    shape: str,
    trace: str,
) -> None:
    caplog.set_level(logging.INFO, logger="listfed.pipeline")
    async with bridged(tmp_path, smarthost, foreign=SHAPES[shape]) as b:
        b.strip_trace = trace == "trace dropped"
        await b.local_post("Bus plan", body="We take the 8 o'clock bus.\n")
        await b.settle()
        [copy] = b.got(ZED)
        assert copy["Message-ID"] != "<m1@example.net>"  # the wrapper's own
        assert "message/rfc822" in [p.get_content_type() for p in copy.walk()]
        for member in LOCALS:
            assert b.subjects(member) == ["[team] Bus plan"]
        assert len(b.relays()) == 1
        assert [a.message_id for a in b.archived()] == ["m1@example.net"]
        [dropped] = [line for line in pipeline_log(caplog) if " drop: " in line]
        assert "echo" in dropped


async def test_a_wrapped_foreign_post_is_archived_by_its_own_words_and_author(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    async with bridged(tmp_path, smarthost, foreign=WRAP) as b:
        await b.foreign_post("Day of action", "Meet at the union hall at noon sharp.\n")
        await b.settle()
        for member in LOCALS:
            assert b.subjects(member) == ["[team] [Atl-coc] Day of action"]
        [archived] = b.archived()
        assert (archived.sender, archived.sender_name) == (ZED, "Zed")
        assert "union hall at noon" in compressed.text_of(archived.body_text)
        # the footer is not the post
        assert "To unsubscribe" not in compressed.text_of(archived.body_text)
        assert b.search('"union hall"') == [(archived.message_id, ZED)]
        assert b.search("unsubscribe") == []


@pytest.mark.parametrize("first", ["the route's copy first", "the wrapped copy first"])
async def test_a_post_relayed_here_and_wrapped_by_a_foreign_list_is_posted_once(
    tmp_path: Path, smarthost: RecordingSmarthost, first: str
) -> None:
    # OTHER's post reaches LIST twice: by a route, and through the foreign list, which
    # wrapped it (OTHER's own bridge sent it there: here it is handed over directly)
    route = {"name": "up", "from": OTHER, "to": [LIST], "match": {"any": True}}
    async with bridged(
        tmp_path, smarthost, foreign=WRAP, bridge={"direction": "in"}, route=[route]
    ) as b:
        b.w.make_list(OTHER, Policy.OPEN)
        raw = post("Caravan", body="The caravan leaves Sunday.\n", to=OTHER)
        relayed = raw.replace(
            b"\r\n\r\n", f"\r\nX-Listfed-Trace: node.example.org {OTHER}\r\n\r\n".encode(), 1
        )
        wrapped = ForeignList(**WRAP).mailmanise(relayed)  # type: ignore[arg-type]
        sends = [
            (raw, OTHER, "alice@example.net"),
            (wrapped, b.w.bridge_address("atl"), f"atl-coc-bounces@{FOREIGN.split('@')[1]}"),
        ]
        for data, rcpt, sender in sends if first.startswith("the route") else sends[::-1]:
            await b.w.send(data, rcpt, mail_from=sender)
            await b.settle()
        for member in LOCALS:
            assert len(b.got(member)) == 1
        assert len(b.archived()) == 1

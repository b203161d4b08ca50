"""Committees of correspondence: routes between lists on two and three nodes over
loopback SMTP, with signed traces, thread following, loops and forged relays."""

from __future__ import annotations

from pathlib import Path

from listfed.listinfo import Policy
from tests.conftest import RecordingSmarthost, post
from tests.federation import domain_of, federation, node_name

ACTIONS = f"actions@{domain_of('philly')}"
COC_NYC = f"coc@{domain_of('nyc')}"
NATIONAL = {
    "name": "national",
    "from": ACTIONS,
    "to": [COC_NYC],
    "match": {"subject_tag": "national"},
    "follow_thread": True,
    "prefix": "[philly]",
}
BACK = {"name": "back", "from": COC_NYC, "to": [ACTIONS], "follow_thread": True}


async def test_a_tagged_post_relays_once_with_trace_and_an_untagged_one_does_not(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    async with federation(tmp_path, smarthost, "philly", "nyc") as fed:
        fed.make_list(ACTIONS, Policy.MEMBERS, ["ann@philly.example"])
        fed.make_list(COC_NYC, Policy.MEMBERS, ["ned@nyc.example"])
        fed.set_routes("philly", NATIONAL)
        await fed["philly"].send(
            post("[national] Day of action", to=ACTIONS, sender="ann@philly.example"),
            ACTIONS,
            mail_from="ann@philly.example",
        )
        await fed["philly"].send(
            post("Local only", to=ACTIONS, sender="ann@philly.example", message_id="<m2@x>"),
            ACTIONS,
            mail_from="ann@philly.example",
        )
        await fed.idle()
        got = fed.got("ned@nyc.example")
        assert [m["Subject"] for m in got] == ["[coc] [philly] [national] Day of action"]
        assert got[0]["Message-ID"] == "<m1@example.net>"
        assert got[0].get_all("X-Listfed-Trace") == [f"{node_name('philly')} {ACTIONS}"]
        assert got[0]["From"] == "Alice <ann@philly.example>"
        assert len(fed.got("ann@philly.example")) == 2
        assert fed.ledger("philly")[0][:3] == ("out", "national", COC_NYC)
        assert fed.ledger("philly")[0][4] == "sent"
        assert fed.ledger("nyc") == [("in", "", ACTIONS, "m1@example.net", "received")]

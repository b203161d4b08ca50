"""`listfed report` (SPEC §11): what a list admin learns about deliverability after a
real node delivered through a smarthost that refuses one provider's mail for DMARC,
defers another's, and disables a member whose address is gone."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from listfed.listinfo import Policy
from listfed.ops import metrics
from tests.conftest import DOMAIN, RecordingSmarthost, post, running_world
from tests.test_web import run

TEAM = f"team@{DOMAIN}"
PEOPLE = ["ann@gmail.example", "bob@gmail.example", "cy@outlook.example", "dee@example.org"]


def reply(address: str) -> str | None:
    if address.endswith("@gmail.example"):
        return "550 5.7.26 Unauthenticated email from example.net is not accepted"
    if address.endswith("@outlook.example"):
        return "451 4.7.0 Temporary server error, please try again later"
    return None


async def test_the_report_tells_per_domain_what_happened_and_why(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    smarthost.rcpt_reply = reply
    async with running_world(tmp_path, smarthost) as w:
        w.make_list(TEAM, Policy.OPEN, people=PEOPLE, bounce_threshold="1")
        # one post at a time: the first one's refusals disable the two gmail members
        # before the second is fanned out (sent together, the second reached them or
        # not depending on which came first, the fan-out or the bounces)
        for n in range(2):
            await w.send(post(f"Post {n}", to=TEAM, message_id=f"<p{n}@x>"), TEAM)
            await w.idle()
    config = tmp_path / "listfed.toml"
    config.write_text(
        f'[node]\nname = "node.example.org"\ndomains = ["{DOMAIN}"]\ndata_dir = "var"\n'
    )
    text = run(config, "report")
    print(text)  # the README's sample comes from this output
    lines = text.splitlines()
    assert lines[0].split() == ["domain", "accepted", "deferred", "refused"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:4]}
    # the first post to the two members, and the notice that each one's delivery is now
    # disabled; the second post goes to neither
    assert rows["gmail.example"] == ["0", "0", "4"]
    assert rows["example.org"] == ["2", "0", "0"]
    assert int(rows["outlook.example"][1]) >= 2  # deferred, retried a few times
    assert (
        "gmail.example: 4 x 5.7.26: DMARC or SPF/DKIM authentication failed "
        "(Gmail: unauthenticated mail)" in text
    )
    assert "outlook.example:" in text and "x 4.7.0: temporarily deferred" in text
    data = json.loads(run(config, "report", "--since", "1d", "--json"))
    [gmail] = [d for d in data["domains"] if d["domain"] == "gmail.example"]
    assert gmail["refused"] == 4 and gmail["codes"][0]["code"] == "5.7.26"
    disabled = {d["address"] for d in data["bounce_disabled"]}
    assert disabled == {"ann@gmail.example", "bob@gmail.example"}
    assert "delivery disabled by bounces:" in text
    # and /metrics counts the refusals as bounces
    database = tmp_path / "var" / "listfed.db"
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        families = {f.name: f for f in metrics.collect(conn, database, time.time(), 0)}
    finally:
        conn.close()
    bounces = {s.labels: s.value for s in families["listfed_bounces_total"].samples}
    assert bounces[(("how", "refused"),)] == 4

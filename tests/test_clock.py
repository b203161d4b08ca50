"""Notices are dated by the node's clock (the Context's), when they are written: a
moderator's notice for a post that waited in the queue, a rejection by a moderator's
reply. Found by the review of the layering change (issue 15)."""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from pathlib import Path

from listfed.addresses import Kind
from listfed.db import lists, queue
from listfed.listinfo import Policy, Role
from listfed.ops import members
from tests.conftest import DOMAIN, RecordingSmarthost, World, post, running_world
from tests.test_moderation import reply, to

TEAM = f"team@{DOMAIN}"
MOD = "mod@example.org"
STRANGER = "eve@elsewhere.example"
NOW = 1_800_000_000.0  # the node's clock: 2027-01-15, far from the wall clock


def _setup(world: World) -> None:
    world.make_list(TEAM, Policy.MEMBERS, people=["alice@example.net"])
    with world.write() as s:
        members.add(s, TEAM, [MOD], Role.MODERATOR)


def _date(msg: object) -> float:
    return parsedate_to_datetime(str(msg["Date"])).timestamp()  # type: ignore[index]


async def test_moderator_notice_is_dated_when_written_not_when_the_post_came(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    """moderation/hold.py: `now = post.received` used to date only the token and the
    expiry; the refactor also feeds it to the notice's Date (it was the time of
    writing, datetime.now) and to the outbox row. A post that waited in the intake
    queue (daemon stopped for a day) now asks the moderators with a notice dated a
    day back, instead of the pass's clock (ctx.now())."""
    async with running_world(tmp_path, smarthost, clock=lambda: NOW) as world:
        _setup(world)
        raw = post(sender=STRANGER, message_id="<waited@elsewhere.example>")
        with world.write() as s:  # spooled a day ago; the pipeline runs now
            list_id = lists.get(s, TEAM).id
            queue.insert(
                s,
                raw,
                [
                    queue.NewItem(
                        kind=Kind.POST.value,
                        list_id=list_id,
                        rcpt=TEAM,
                        received=NOW - 86400,
                        mail_from=STRANGER,
                        message_id="waited@elsewhere.example",
                    )
                ],
            )
        world.node.dispatcher.wake.set()
        await world.idle()
        notices = [m for m in to(world, MOD) if m["X-Listfed-Held"]]
        assert notices, "no moderation notice"
        assert _date(notices[-1]) == NOW, "the notice is dated when the post came in"


async def test_a_moderators_reject_by_mail_dates_the_notice_by_the_nodes_clock(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    """robots/moderate.py has the pass's `now`, but ops.held.reject (and approve,
    discard: token spending) take time.time() themselves, so the one rejection notice
    (notices/rejection.py) is dated by the wall clock when a moderator rejects by
    mail, while the pipeline's rejection notice follows the node's clock: the Context
    clock does not reach the moderator robot's decision."""
    async with running_world(tmp_path, smarthost, clock=lambda: NOW) as world:
        _setup(world)
        await world.send(post(sender=STRANGER), TEAM, STRANGER)
        await world.idle()
        notice = [m for m in to(world, MOD) if m["X-Listfed-Held"]][-1]
        await reply(world, notice, "reject off topic")
        told = [m for m in to(world, STRANGER) if str(m["Subject"]).startswith("Rejected")]
        assert told, "the poster was not told"
        assert _date(told[-1]) == NOW, "dated by the wall clock, not the node's"

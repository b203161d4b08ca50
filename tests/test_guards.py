"""Guards a mutation audit found untested (issue 16, item 8): each test fails if the
guard is weakened by one step (a confirmation code not bound to its list, a hop limit
off by one, a smarthost's temporary refusal taken for acceptance)."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import text

from listfed import checks, tokens
from listfed.config.settings import RouteConfig
from listfed.context import Context, NodeSettings
from listfed.db import lists
from listfed.federation.trial import trial
from listfed.listinfo import ListInfo, Policy
from listfed.post import make_post
from tests.conftest import DOMAIN, World, post

TEAM = f"team@{DOMAIN}"
NEWS = f"news@{DOMAIN}"
PEOPLE = ["alice@example.net", "bob@example.net"]
NODE = "node.example.org"
LST = ListInfo(id=1, local="team", domain=DOMAIN)


def _with_hops(count: int) -> bytes:
    hops = "".join(
        f"X-Listfed-Trace: node{i}.example list@node{i}.example\r\n" for i in range(count)
    )
    return hops.encode() + post(message_id=f"<hops{count}@example.net>")


@pytest.mark.parametrize(("hops", "loop"), [(7, False), (8, False), (9, True)])
def test_a_post_is_a_loop_past_the_hop_limit_not_at_it(hops: int, loop: bool) -> None:
    node = NodeSettings(name=NODE, hop_limit=8)
    found = make_post(1, LST, _with_hops(hops), "alice@example.net", NODE, 0.0)
    verdict = checks.loop(Context(None, node), found)  # type: ignore[arg-type]  # no table read
    assert (verdict is not None) is loop


@pytest.mark.parametrize(("hops", "relayed"), [(6, True), (7, True), (8, False)])
async def test_a_relay_may_make_the_last_allowed_hop_and_no_more(
    world: World, hops: int, relayed: bool
) -> None:
    world.make_list(TEAM, Policy.OPEN)
    route = RouteConfig(name="out", from_=TEAM, to=("coc@lists.nyc.example",), match={"any": True})
    node = NodeSettings(name=NODE, hop_limit=8, domains=(DOMAIN,), routes=(route,))
    with world.write() as s:
        lst = lists.get(s, TEAM)
        [hop] = trial(s, node, lst, _with_hops(hops)).hops
    assert hop.go is relayed, hop.reason


async def test_a_confirmation_code_is_bound_to_its_list(world: World) -> None:
    world.make_list(TEAM, Policy.OPEN)
    world.make_list(NEWS, Policy.OPEN)
    with world.write() as s:
        team, news = lists.get(s, TEAM), lists.get(s, NEWS)
        code = tokens.issue(
            s, "secret", team, "eve@example.net", tokens.Action.SUBSCRIBE, 0.0, 3600.0
        )
        assert tokens.peek(s, code) is not None
        s.connection().execute(  # the same code, claimed for another list
            text("UPDATE token SET list_id = :news WHERE token = :code"),
            {"news": news.id, "code": code},
        )
        with pytest.raises(tokens.TokenRefused, match="not valid"):
            tokens.redeem(s, "secret", code, 1.0)


@pytest.mark.parametrize("when", ["mail", "data"])
async def test_a_temporary_refusal_by_the_smarthost_is_retried_not_taken(
    world: World, when: str
) -> None:
    assert world.smarthost is not None
    first = itertools.count()
    refuse = lambda: "451 4.3.0 try again later" if next(first) == 0 else None  # noqa: E731
    if when == "mail":
        world.smarthost.mail_reply = refuse
    else:
        world.smarthost.data_reply = refuse
    world.make_list(TEAM, Policy.OPEN, people=PEOPLE)
    await world.send(post(message_id="<retried@example.net>"), TEAM)
    await world.idle()
    assert sorted(r for r, _ in world.smarthost.deliveries()) == PEOPLE  # each once

"""Joining from a browser (SPEC §10): the list page's form starts the confirmation that
mail to LIST-join starts; the page says the same whatever the address; one mail per
address and ten per client an hour, so the form cannot mail-bomb anyone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.testclient import TestClient

from listfed.listinfo import Policy
from tests.conftest import DOMAIN, RecordingSmarthost, World, running_world
from tests.test_robots import DAVE, confirm_last, member, to

TEAM = f"team@{DOMAIN}"
HIDDEN = f"hidden@{DOMAIN}"
SAID = "A message asking to confirm is on its way"


def client(w: World) -> TestClient:
    from listfed.web.app import build

    database = w.node.config.node.data_dir / "listfed.db"
    return TestClient(build(database, 5.0, "", w.node.secret, w.node.dispatcher.node))


@asynccontextmanager
async def team(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> AsyncIterator[tuple[World, TestClient]]:
    async with running_world(tmp_path, smarthost) as w:
        w.make_list(TEAM, Policy.MEMBERS, people=["ann@example.net"])
        yield w, client(w)


def confirmations(w: World, address: str) -> int:
    return sum(1 for m in to(w, address) if str(m["Subject"]).startswith("confirm "))


async def test_the_form_sends_a_confirmation_and_answering_it_joins(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    async with team(tmp_path, smarthost) as (w, web):
        assert 'action="/team@lists.example.org/subscribe"' in web.get(f"/{TEAM}/").text
        page = web.post(f"/{TEAM}/subscribe", data={"email": DAVE})
        assert page.status_code == 200 and SAID in page.text
        await w.idle()
        assert confirmations(w, DAVE) == 1
        assert member(w, DAVE) is None
        welcome = await confirm_last(w, DAVE)
        assert "Welcome to team@" in str(welcome["Subject"]) and member(w, DAVE) is not None

        # a member gets the same page: the form never tells who is subscribed
        same = web.post(f"/{TEAM}/subscribe", data={"email": "ann@example.net"})
        assert same.status_code == 200 and SAID in same.text


async def test_one_mail_per_address_and_ten_per_client_an_hour(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    async with team(tmp_path, smarthost) as (w, web):
        for _ in range(3):
            assert SAID in web.post(f"/{TEAM}/subscribe", data={"email": DAVE}).text
        strangers = [f"victim{n}@example.org" for n in range(12)]
        for address in strangers:
            assert SAID in web.post(f"/{TEAM}/subscribe", data={"email": address}).text
        await w.idle()
        assert confirmations(w, DAVE) == 1
        # ten from this client, Dave's the first
        assert sum(confirmations(w, a) for a in strangers) == 9


async def test_no_form_for_a_list_nobody_may_read_and_a_bad_address_is_a_400(
    tmp_path: Path, smarthost: RecordingSmarthost
) -> None:
    async with running_world(tmp_path, smarthost) as w:
        w.make_list(TEAM, Policy.MEMBERS, people=["ann@example.net"])
        w.make_list(HIDDEN, Policy.MEMBERS, people=["ann@example.net"], visibility="private")
        web = client(w)
        assert web.post(f"/{HIDDEN}/subscribe", data={"email": DAVE}).status_code == 404
        assert web.get(f"/{TEAM}/subscribe").status_code == 405
        bad = web.post(f"/{TEAM}/subscribe", data={"email": "not an address"})
        assert bad.status_code == 400 and "not a mail address" in bad.text
        await w.idle()
        assert confirmations(w, DAVE) == 0

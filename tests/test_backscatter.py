"""Rejection notices to senders nobody verified (issue 16, item 5): a list that rejects
non-members must not become a way to send a spammer's words to forged addresses, nor a
flood of notices to one address."""

from __future__ import annotations

from listfed.listinfo import Policy
from tests.conftest import DOMAIN, World, post

TEAM = f"team@{DOMAIN}"
PEOPLE = ["alice@example.net", "bob@example.net"]
FORGED = "victim@elsewhere.example"


async def test_an_automatic_rejection_names_the_post_without_repeating_its_subject(
    world: World,
) -> None:
    world.make_list(TEAM, Policy.MEMBERS, people=PEOPLE, nonmember_action="reject")
    spam = post(
        sender=FORGED, subject="Cheap pills at http://pills.example", message_id="<s1@x.example>"
    )
    await world.send(spam, TEAM, mail_from=FORGED)
    await world.idle()
    assert world.smarthost is not None
    [(rcpt, notice)] = world.smarthost.deliveries()
    assert rcpt == FORGED
    text = notice.message.get_content()
    assert "pills" not in str(notice.message["Subject"]) and "pills" not in text
    assert "<s1@x.example>" in text and "not a member" in text


async def test_automatic_rejections_to_one_address_are_rate_limited(world: World) -> None:
    world.make_list(TEAM, Policy.MEMBERS, people=PEOPLE, nonmember_action="reject")
    for n in range(15):
        raw = post(sender=FORGED, subject=f"spam {n}", message_id=f"<s{n}@x.example>")
        await world.send(raw, TEAM, mail_from=FORGED)
    await world.idle()
    assert world.smarthost is not None
    told = [rcpt for rcpt, _ in world.smarthost.deliveries() if rcpt == FORGED]
    assert len(told) == 10  # [members] replies_per_hour, as for every robot message

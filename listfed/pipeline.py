"""What happens to a post, in order. One screen: rules judge, the first verdict decides,
handlers act. Everything runs in the one transaction that consumes the queue item, so a
crash anywhere leaves the item to be processed again and nothing half-done.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from listfed import checks, policy
from listfed.archive import stage as archive
from listfed.bounces import score
from listfed.bridges import echoes
from listfed.bridges import tags as bridge_tags
from listfed.context import Context
from listfed.delivery import outbox, subjects
from listfed.delivery.decorate import decorate
from listfed.digests import collect
from listfed.dmarc import mitigation as dmarc
from listfed.federation import inbound, outbound
from listfed.moderation import hold
from listfed.notices import rejection
from listfed.post import Decision, Post, Verdict

log = logging.getLogger("listfed.pipeline")

Rule = Callable[[Context, Post], Verdict | None]
Action = Callable[[Context, Post], None]


def _decorate(ctx: Context, post: Post) -> None:
    node = ctx.node
    # the looked-up domain, else the one the parse already found (no second header read)
    domain = post.facts.dmarc.domain if post.facts.dmarc else post.message.sender.rpartition("@")[2]
    mitigation = dmarc.decide(post.lst, domain, post.facts.dmarc, node.domains)
    if mitigation.mode:
        post.reasons.append(f"dmarc: {mitigation.mode} ({mitigation.reason})")
        log.info("%s: DMARC %s: %s", post.log_prefix(), mitigation.mode, mitigation.reason)
    post.outgoing_data = decorate(
        post.raw,
        post.lst,
        base_url=node.base_url,
        archive_url=f"{node.base_url.rstrip('/')}/{post.lst.address}/" if node.base_url else "",
        dmarc=mitigation.mode,
        auth=post.facts.auth,
        authserv_id=node.name,
        parsed=post.message.editable(),
        tags=subjects.route_tags(node.routes),
        foreign=bridge_tags.subject_tags(node, post.lst.address),
        away=bridge_tags.away(node, post),
    )


def _reject(ctx: Context, post: Post) -> None:
    assert post.verdict is not None
    if post.message.auto_submitted or not post.mail_from:
        log.info("%s rejected silently (automatic mail is never answered)", post.log_prefix())
        return
    rejection.send(
        ctx.session,
        post.lst,
        post.mail_from,
        what=rejection.BY_POLICY,
        reason=post.verdict.reason,
        subject=post.message.subject,
        message_id=post.message.message_id,
        now=ctx.now(),
        per_hour=ctx.node.members.replies_per_hour,
    )


def _reenable(ctx: Context, post: Post) -> None:
    """A member whose delivery bounces paused is evidently reachable again."""
    session = ctx.session
    if post.message.sender and not post.relay_from and not post.origin.relayed:
        score.reenable(session, post.lst, post.message.sender)


def _nothing(ctx: Context, post: Post) -> None:
    return None


RULES: list[tuple[str, Rule]] = [
    ("echo", echoes.rule),
    ("loop", checks.loop),
    ("duplicate", checks.duplicate),
    ("emergency", policy.emergency),
    ("size", policy.size),
    ("content", policy.content_types),
    ("relay", inbound.trusted),
    ("policy", policy.posting),
]

ACCEPTED: list[tuple[str, Action]] = [
    ("archive", archive.store),
    ("re-enable", _reenable),
    ("decorate", _decorate),
    ("fan out", outbox.fan_out),
    ("digest", collect.collect),
    ("relay", outbound.relay),
]

HANDLERS: dict[Decision, list[tuple[str, Action]]] = {
    Decision.ACCEPT: ACCEPTED,
    Decision.HOLD: [("re-enable", _reenable), ("hold", hold.hold)],
    Decision.REJECT: [("reject", _reject)],
    Decision.DISCARD: [("discard", _nothing)],
    Decision.DROP: [("drop", _nothing)],
}


def run(ctx: Context, post: Post) -> Verdict:
    """Judge the post, then act on the verdict. Returns the verdict for the log."""
    for name, rule in RULES:
        verdict = rule(ctx, post)
        if verdict is not None:
            post.verdict = verdict
            post.reasons.append(f"{name}: {verdict.reason}")
            break
    if post.verdict is None:  # no rule spoke: the policy rule always does, so never here
        post.verdict = Verdict(Decision.HOLD, "no rule accepted the post")
    for _name, action in HANDLERS[post.verdict.decision]:
        action(ctx, post)
    log.info("%s %s: %s", post.log_prefix(), post.verdict.decision, post.verdict.reason)
    return post.verdict

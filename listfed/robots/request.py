"""The robot addresses of a list: -request (commands), -join, -leave, -confirm+TOKEN.

Automatic mail (RFC 3834 Auto-Submitted, Precedence bulk/junk/list, mailer-daemons,
the list's own traffic) is never answered. Answers go to the From address (else the
envelope sender); a message with neither as a valid address is dropped with a log line.
"""

from __future__ import annotations

from sqlmodel import Session

from listfed import tokens
from listfed.addresses import Kind, normalise
from listfed.context import Context, NodeSettings
from listfed.db import members
from listfed.errors import InvalidAddress
from listfed.listinfo import DeliveryMode
from listfed.notices import replies, templates
from listfed.post import Incoming
from listfed.robots import actions, moderate
from listfed.robots.commands import Command, Reading, Verb, read_commands
from listfed.tokens import Action


def reply_address(mail: Incoming) -> str | None:
    """Who a robot answers: the From address, else the envelope sender, if valid."""
    for candidate in (mail.message.sender, mail.mail_from):
        try:
            return normalise(candidate)
        except InvalidAddress:
            continue
    return None


def handle(ctx: Context, mail: Incoming) -> str:
    """Act on a message to a robot address; what happened, for the log."""
    session, node, now = ctx.session, ctx.node, ctx.now()
    if mail.message.auto_submitted or mail.message.list_ids:
        return "automatic or list mail (it has a List-Id): not answered"
    who = reply_address(mail)
    if who is None:
        return "no valid From or envelope sender to answer: dropped"
    if mail.kind == Kind.JOIN.value:
        return actions.ask(
            session, node, mail.lst, Action.SUBSCRIBE, who, now, mail.message.sender_name
        )
    if mail.kind == Kind.LEAVE.value:
        return actions.ask(session, node, mail.lst, Action.UNSUBSCRIBE, who, now)
    if mail.kind == Kind.CONFIRM.value:
        if moderate.is_moderation(tokens.peek(session, mail.detail)):
            return moderate.by_email(session, node, mail, who, now)
        said, told = actions.confirm(session, node, mail.detail, now)
        if not told:
            replies.answer(session, node, mail, who, f"{said}\n\n{_help_hint(mail)}\n", now)
        return said
    return _commands(session, node, mail, who, now)


def _commands(session: Session, node: NodeSettings, mail: Incoming, who: str, now: float) -> str:
    reading = read_commands(mail.raw)
    if not reading.commands:
        replies.answer(
            session, node, mail, who, templates.render(templates.HELP, mail.lst, who), now
        )
        return "no commands: help sent"
    done = [_run(session, node, mail, who, c, now) for c in reading.commands]
    lines = [f"Results of your message to {mail.lst.sub_address('request')}:", ""]
    for command, said in zip(reading.commands, done, strict=True):
        lines += [f"> {command.line}", said, ""]
    lines += _not_understood(reading)
    lines.append(_help_hint(mail))
    replies.answer(session, node, mail, who, "\n".join(lines) + "\n", now)
    return f"{len(done)} command(s) done"


def _run(
    session: Session, node: NodeSettings, mail: Incoming, who: str, c: Command, now: float
) -> str:
    lst = mail.lst
    if c.error:
        return f"Not done: {c.error}."
    if c.verb is Verb.HELP:
        return templates.render(templates.HELP, lst, who)
    if c.verb is Verb.CONFIRM:
        return actions.confirm(session, node, c.args[0], now)[0]
    if c.verb is Verb.SET:
        # Confirmed like a subscription: a forged From must not silence a member.
        mode = DeliveryMode(c.args[1])
        row = members.find(session, lst.id, who)
        if row is not None and row.delivery == mode.value and not row.delivery_disabled:
            return f"Delivery for {row.display_address} is {mode.value} already."
        return actions.ask(session, node, lst, Action.delivery(mode), who, now, requester=who)
    action = Action.SUBSCRIBE if c.verb is Verb.SUBSCRIBE else Action.UNSUBSCRIBE
    target = c.args[0] if c.args else who
    # Asking for someone else costs the requester too: no flooding third parties.
    other = target.lower() != who.lower()
    if other and not replies.allowed(session, who, now, node.members.replies_per_hour):
        return "Not done: too many requests from you in the last hour."
    name = "" if other else mail.message.sender_name
    return actions.ask(session, node, lst, action, target, now, name, requester=who)


def _not_understood(reading: Reading) -> list[str]:
    if not reading.not_understood:
        return []
    lines = ["Not understood:"] + [f"> {line}" for line in reading.not_understood]
    if reading.ignored:
        lines.append(f"({reading.ignored} more line(s) after it were ignored.)")
    return [*lines, ""]


def _help_hint(mail: Incoming) -> str:
    return f'Write "help" to {mail.lst.sub_address("request")} for the list of commands.'

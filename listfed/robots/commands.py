"""The commands in a message to ``LIST-request``: bytes → `Reading`, never an exception.

One command a line, the Subject first. Reading stops where the commands end: at a
signature, a quote or its attribution, a closing word, or the first line we cannot read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message
from enum import StrEnum

from listfed.addresses import normalise
from listfed.errors import InvalidAddress
from listfed.mail import body, mimeparse
from listfed.mail.message import decode_text

MAX_LINE = 200  # how much of a line we echo in the reply


class Verb(StrEnum):
    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"
    HELP = "help"
    SET = "set"
    CONFIRM = "confirm"


@dataclass(frozen=True)
class Command:
    verb: Verb
    args: tuple[str, ...]  # normalised: an address, ("delivery", MODE), or a token
    line: str  # as written, whitespace collapsed, at most MAX_LINE characters
    error: str = ""  # recognised verb, bad arguments: the reply says why


@dataclass(frozen=True)
class Reading:
    commands: tuple[Command, ...]
    not_understood: tuple[str, ...]  # collapsed and clipped like Command.line
    ignored: int  # non-blank lines skipped after a line we could not read, or the limit


_VERBS = {v.value: v for v in Verb} | {
    "join": Verb.SUBSCRIBE,
    "leave": Verb.UNSUBSCRIBE,
    "signoff": Verb.UNSUBSCRIBE,
    "unsub": Verb.UNSUBSCRIBE,
}
# "set delivery MODE", and the older "set digest on|off" and "set nomail on|off".
_SET_FORMS = {("delivery", m): m for m in ("regular", "digest", "nomail")} | {
    (m, s): m if s == "on" else "regular" for m in ("digest", "nomail") for s in ("on", "off")
}
_SET_USAGE = "use: set delivery regular|digest|nomail"
_CONFIRM_USAGE = "use: confirm TOKEN (the code from the confirmation request)"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{8,128}")

# "Re:", "AW[2]:", "[team]" in any number and order, as mail clients pile them up.
_SUBJECT_PREFIX = re.compile(
    r"(?:(?:re|fwd?|aw|wg|sv|antw)\s*(?:\[\d+\])?\s*:|\[[^\[\]]*\])\s*", re.I
)
_STOP_LINE = re.compile(
    r"--|-{3,} ?original message ?-{3,}|_{8,}|(?:end|stop|thanks|thank you)[.!,;:]*", re.I
)
_WRITER = r"(?:wrote|schrieb|a écrit|escribió|scrisse|schreef|skrev)"
_ENDS_ATTRIBUTION = re.compile(rf"\b{_WRITER}\s?:$", re.I)  # "On <date>, Bob wrote:"
_OPENS_ATTRIBUTION = re.compile(r"(?:on|am|le|el)\s.*\d", re.I)  # "Am <date> schrieb Bob:"
_NAMES_WRITER = re.compile(rf"\b{_WRITER}\b", re.I)
_ATTRIBUTION_MAX = 500  # real ones are short; the bound also keeps the regex work linear

_INVISIBLE = str.maketrans({"\ufeff": " ", "\u200b": " "})  # BOMs and zero-width spaces


def read_commands(raw: bytes, limit: int = 20) -> Reading:
    """The commands in a message to -request; never raises, whatever the bytes."""
    try:
        msg = mimeparse.parse(raw)
    except Exception:  # lenient, but deep multipart nesting hits the recursion limit
        return Reading((), (), 0)
    body = [line for line in map(_collapse, _body(msg).splitlines()) if line]
    return _read(_subject(msg), body, limit)


def reply_line(raw: bytes) -> str:
    """What a reply says, in one line (SPEC §9, moderation by email): its first body
    line that is not quoted or an attribution, reading no further than a signature;
    when the body has none, its Subject. Never raises."""
    try:
        msg = mimeparse.parse(raw)
    except Exception:
        return ""
    lines = [line for line in map(_collapse, _body(msg).splitlines()) if line]
    i = 0
    while i < len(lines):
        line, nxt = lines[i], lines[i + 1] if i + 1 < len(lines) else ""
        if line == "--":  # "-- ", collapsed: the signature starts
            break
        if _wrapped_attribution(line, nxt) and not _is_attribution(line):
            i += 2
            continue
        if not line.startswith(">") and not _is_attribution(line):
            return line[:MAX_LINE]
        i += 1
    return _subject(msg)[:MAX_LINE]


def _read(subject: str, body: list[str], limit: int) -> Reading:
    """Apply the reading rules to the subject and the non-blank body lines."""
    commands: list[Command] = []
    unread: list[str] = []
    lines = [subject, *body]  # the subject is lines[0], possibly ""
    for i, line in enumerate(lines):
        if not line:
            continue
        if len(commands) >= limit:
            return Reading(tuple(commands), tuple(unread), len(lines) - i)
        nxt = lines[i + 1] if 0 < i < len(lines) - 1 else ""
        if _ends_reading(line) or _wrapped_attribution(line, nxt):
            if i == 0:  # a subject of "Thanks" says nothing about the body
                continue
            break
        command = _parse(line)
        if command is None:
            unread.append(line[:MAX_LINE])
            if i == 0:  # "Subject: please add me" with the commands in the body
                continue
            return Reading(tuple(commands), tuple(unread), len(lines) - i - 1)
        # Clients that repeat the subject as the body; two different errors are both shown.
        if i == 1 and commands and _key(commands[0]) == _key(command):
            continue
        commands.append(command)
    return Reading(tuple(commands), tuple(unread), 0)


def _key(command: Command) -> tuple[Verb, tuple[str, ...], str]:
    return command.verb, command.args, command.error


def _parse(line: str) -> Command | None:
    """The command on a collapsed line, or None when it does not start with a verb."""
    word, *args = line.split(" ")
    verb = _VERBS.get(word.lower())
    if verb is None:
        return None
    shown = line[:MAX_LINE]
    if verb is Verb.HELP:
        return Command(verb, (), shown)
    if verb is Verb.SET:
        mode = _SET_FORMS.get((args[0].lower(), args[1].lower())) if len(args) == 2 else None
        if mode is None:
            return Command(verb, (), shown, _SET_USAGE)
        return Command(verb, ("delivery", mode), shown)
    if verb is Verb.CONFIRM:
        if len(args) == 1 and _TOKEN.fullmatch(args[0]):
            return Command(verb, (args[0],), shown)
        return Command(verb, (), shown, _CONFIRM_USAGE)
    if not args:
        return Command(verb, (), shown)
    if len(args) > 1:
        return Command(verb, (), shown, f"use: {verb} [ADDRESS] (one address at most)")
    given = args[0][len("address=") :] if args[0].lower().startswith("address=") else args[0]
    try:
        return Command(verb, (normalise(given),), shown)
    except InvalidAddress:  # its own message would echo the whole of a huge argument
        return Command(verb, (), shown, f"not a valid mail address: {given[:100]!r}")


def _ends_reading(line: str) -> bool:
    """A signature, quote, attribution, forwarded-message rule, or a closing word."""
    return line.startswith(">") or bool(_STOP_LINE.fullmatch(line)) or _is_attribution(line)


def _is_attribution(line: str) -> bool:
    """``On <date>, Bob wrote:``, ``Am <date> schrieb Bob:`` and their kin."""
    if len(line) > _ATTRIBUTION_MAX or not line.endswith(":"):
        return False
    if _ENDS_ATTRIBUTION.search(line):
        return True
    return bool(_OPENS_ATTRIBUTION.match(line) and _NAMES_WRITER.search(line))


def _wrapped_attribution(line: str, nxt: str) -> bool:
    """An attribution folded over two lines, as Gmail does with long names."""
    if not nxt or not _OPENS_ATTRIBUTION.match(line[:_ATTRIBUTION_MAX]):
        return False
    return _is_attribution(f"{line} {nxt}")


def _collapse(line: str) -> str:
    return " ".join(line.translate(_INVISIBLE).split())


def _subject(msg: Message) -> str:
    """The first Subject, decoded, without reply markers and list tags."""
    try:
        # raw_items keeps 8-bit bytes (as surrogates) that msg.get would turn into U+FFFD.
        value = next((str(v) for k, v in msg.raw_items() if k.lower() == "subject"), "")
        text = decode_text(value.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))
    except Exception:  # an unreadable subject is no subject; the body may still be fine
        return ""
    pos = 0
    while match := _SUBJECT_PREFIX.match(text, pos):  # every alternative takes a character
        pos = match.end()
    return _collapse(text[pos:])


def _body(msg: Message) -> str:
    """The text the sender wrote: forwarded messages are not read, and an HTML quote reads
    as ``> `` lines (where reading stops)."""
    return body.text(msg, attached=False, quotes=True)

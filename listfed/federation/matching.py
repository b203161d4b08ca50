"""Does a post match a route's `match` table? Every answer comes with its reason.

Conditions (SPEC §5, §9): `subject_tag` ([tag] anywhere in the subject after `Re:`,
`Fwd:` and list prefixes are stripped, case-insensitively), `header` (name → regex,
searched in each decoded value), `sender` (a glob on the From address) and `any = true`.
All conditions of one route must hold.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping

from listfed.config.settings import RouteConfig
from listfed.mail.message import ParsedMessage

Headers = Callable[[str], list[str]]  # every decoded value of a header field

_REPLY = re.compile(r"\s*(?:(?:re|fwd?|aw|sv|vs|antw)\s*(?:\[\d+\])?\s*:\s*)+", re.IGNORECASE)


def strip_subject(subject: str, prefixes: Iterable[str]) -> str:
    """The subject without reply markers and the given list prefixes, wherever they lead.

    Read from a position that moves on, never copied (nor case-folded whole) per marker:
    that was quadratic in a subject of many prefixes. The text is collapsed, so stripping
    what is left of it is skipping the one blank at `pos`; casefold maps each character
    on its own, to at least one character, so a prefix's length of text is enough to fold.
    """
    text = " ".join(subject.split())
    folded = [p.casefold() for p in prefixes if p.strip()]
    pos, changed = 0, True
    while changed:
        changed = False
        found = _REPLY.match(text, pos)
        if found:
            pos, changed = _skip_blanks(text, found.end()), True
        for prefix in folded:
            if text[pos : pos + len(prefix)].casefold().startswith(prefix):
                pos, changed = _skip_blanks(text, pos + len(prefix)), True
    return text[pos:]


def _skip_blanks(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _subject_tag(tag: str, message: ParsedMessage, prefixes: Iterable[str]) -> tuple[bool, str]:
    subject = strip_subject(message.subject, prefixes)
    if f"[{tag}]".casefold() in subject.casefold():
        return True, f"the subject has the tag [{tag}]"
    return False, f"the subject has no [{tag}] tag"


def _header(patterns: Mapping[str, str], headers: Headers) -> tuple[bool, str]:
    for name, pattern in patterns.items():
        values = headers(name)
        if not values:
            return False, f"there is no {name} header"
        if not any(re.search(pattern, v) for v in values):
            return False, f"{name} does not match /{pattern}/"
    said = ", ".join(f"{n} matches /{p}/" for n, p in patterns.items())
    return True, said


def _sender(glob: str, message: ParsedMessage) -> tuple[bool, str]:
    who = message.sender or "(no From address)"
    if message.sender and fnmatch.fnmatchcase(message.sender.casefold(), glob.casefold()):
        return True, f"the sender {who} matches {glob}"
    return False, f"the sender {who} does not match {glob}"


def check(
    route: RouteConfig, message: ParsedMessage, headers: Headers, prefixes: Iterable[str]
) -> tuple[bool, str]:
    """(all conditions hold, why). A route without `match` never matches on its own."""
    match = route.match
    if not match:
        return False, "it has no match: it carries only threads already shared"
    results: list[tuple[bool, str]] = []
    if "any" in match:
        results.append((True, "any = true") if match["any"] else (False, "any = false"))
    if "subject_tag" in match:
        results.append(_subject_tag(str(match["subject_tag"]), message, list(prefixes)))
    if "header" in match:
        patterns = match["header"]
        assert isinstance(patterns, Mapping)
        results.append(_header(patterns, headers))
    if "sender" in match:
        results.append(_sender(str(match["sender"]), message))
    failed = [why for ok, why in results if not ok]
    if failed:
        return False, "; ".join(failed)
    return True, "; ".join(why for _, why in results)

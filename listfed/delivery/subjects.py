"""Subjects as lists write them: the list's prefix once, in front, then one `Re:` for a
reply, and none of the tags that lists and routes on the way added (SPEC §3, §5).

`Re: [team] Re: [team] Budget` becomes `[team] Re: Budget`, as Mailman writes it; and a
reply that comes back over routes (`[actions] Re: [philly] [nyc] Budget`) loses the tags
this node's routes put on it (each node takes out its own when the thread comes home),
keeping the author's words. Tags nobody here put on (a peer's route, a bridged list's
own prefix) stay: they say where a post came from.

A post of a bridged thread (its subject carries a bridged list's tag, `ForeignTag`) is
written as mail programs write a reply to one of ours: one `Re:` in front of our prefix,
then the foreign list's tag as the bridge shows it (kept, stripped or replaced):
`[Atl-coc] Re: Day of action` and `Re: [coc] [Atl-coc] Re: Day of action` both become
`Re: [coc] [Atl-coc] Day of action`.
Each step is a pass over the words: nothing grows faster than the subject.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from listfed.config.settings import RouteConfig

_REPLY = frozenset({"re:", "aw:", "sv:", "antw:"})  # Re: as mail programs write it


@dataclass(frozen=True)
class ForeignTag:
    """A bridged list's subject tag, and what our members' copies show in its place."""

    tag: str  # as the foreign list writes it ("[Atl-coc]"), found in any case
    shown: str  # the same (kept), "" (stripped) or a tag of the bridge's ("[atl]")


def _is_tag(word: str) -> bool:
    return len(word) > 2 and word.startswith("[") and word.endswith("]")


def _without(text: str, known: Collection[str]) -> tuple[str, int]:
    """`text` (blanks collapsed) without the `known` tags, wherever they stand, any case;
    and how many were taken out."""
    text = " ".join(text.split())
    tags = sorted({" ".join(k.split()) for k in known if k.strip()}, key=len, reverse=True)
    if not tags:
        return text, 0
    pattern = "|".join(re.escape(t) for t in tags)  # literal alternatives only
    return re.subn(pattern, " ", text, flags=re.IGNORECASE)


def _lead(words: list[str]) -> tuple[bool, list[str], int]:
    """Of the words that lead a subject: is there a reply marker, the tags among them
    (each once, in order), and where the author's words start."""
    lead: list[str] = []
    seen: set[str] = set()
    reply, i = False, 0
    while i < len(words) and (words[i].casefold() in _REPLY or _is_tag(words[i])):
        if words[i].casefold() in _REPLY:
            reply = True
        elif words[i].casefold() not in seen:
            seen.add(words[i].casefold())
            lead.append(words[i])
        i += 1
    return reply, lead, i


def _shown(foreign: ForeignTag, subject: str) -> str:
    """What our copies show for a foreign tag: the bridge's own tag, or, where it keeps
    the foreign list's, that tag as the subject writes it."""
    shown = " ".join(foreign.shown.split())
    if shown.casefold() != " ".join(foreign.tag.split()).casefold():
        return shown
    found = re.search(re.escape(shown), " ".join(subject.split()), re.IGNORECASE)
    return found.group(0) if found else shown


def tidy(subject: str, known: Collection[str]) -> str:
    """`subject` without the `known` tags (wherever they stand, any case), its leading
    reply markers made one `Re:` after the tags that lead it. "" when nothing is left."""
    text, removed = _without(subject, known)
    words = text.split()
    if not removed and sum(1 for w in words[:2] if w.casefold() in _REPLY) < 2:
        return " ".join(words)  # nothing to take out: the author's order stays
    reply, lead, i = _lead(words)
    return " ".join([*lead, *(["Re:"] if reply else []), *words[i:]])


def homeward(
    subject: str, prefix: str, foreign: Sequence[ForeignTag], known: Collection[str]
) -> str | None:
    """The subject of a post of a bridged thread as our members get it: `Re:` once and
    first, our `prefix`, the foreign tags it carried as the bridges show them, the other
    tags that led it, the author's words; `known` tags (routes') gone. None when it
    carries no foreign tag (nor a tag shown for one): the list's own rule applies."""
    folded = " ".join(subject.split()).casefold()
    present = [
        f
        for f in foreign
        if any(t.strip() and " ".join(t.split()).casefold() in folded for t in (f.tag, f.shown))
    ]
    if not present:
        return None
    shown = list(dict.fromkeys(_shown(f, subject) for f in present if f.shown.strip()))
    text, _ = _without(subject, {prefix, *known, *(t for f in foreign for t in (f.tag, f.shown))})
    reply, lead, i = _lead(text.split())
    words = [*(["Re:"] if reply else []), prefix, *shown, *lead, *text.split()[i:]]
    rest = " ".join(w for w in words if w)
    return rest if text.split()[i:] else f"{rest} (no subject)"


def untidy(subject: str, prefix: str, known: Collection[str]) -> bool:
    """Does a subject need tidying before `prefix` goes on it: is the prefix there more
    than once (`Re: [team] Re: [team]`), or one of the `known` tags? Otherwise a list
    leaves what the author's mail program wrote alone."""
    folded = " ".join(subject.split()).casefold()
    if prefix and folded.count(prefix.casefold()) > 1:
        return True
    return any(" ".join(k.split()).casefold() in folded for k in known if k.strip())


def route_tags(routes: Iterable[RouteConfig]) -> set[str]:
    """The prefixes this node's routes put on relayed copies."""
    return {" ".join(r.prefix.split()) for r in routes if r.prefix and r.prefix.strip()}

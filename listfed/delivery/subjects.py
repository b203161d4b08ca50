"""Subjects as lists write them: the list's prefix once, in front, then one `Re:` for a
reply, and none of the tags that lists and routes on the way added (SPEC §3, §5).

`Re: [team] Re: [team] Budget` becomes `[team] Re: Budget`, as Mailman writes it; and a
reply that comes back over routes (`[actions] Re: [philly] [nyc] Budget`) loses the tags
this node's routes put on it (each node takes out its own when the thread comes home),
keeping the author's words. Tags nobody here put on (a peer's route, a bridged list's
own prefix) stay: they say where a post came from.
Each step is a pass over the words: nothing grows faster than the subject.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

from listfed.config.settings import RouteConfig

_REPLY = frozenset({"re:", "aw:", "sv:", "antw:"})  # Re: as mail programs write it


def _is_tag(word: str) -> bool:
    return len(word) > 2 and word.startswith("[") and word.endswith("]")


def tidy(subject: str, known: Collection[str]) -> str:
    """`subject` without the `known` tags (wherever they stand, any case), its leading
    reply markers made one `Re:` after the tags that lead it. "" when nothing is left."""
    text = " ".join(subject.split())
    tags = sorted({" ".join(k.split()) for k in known if k.strip()}, key=len, reverse=True)
    removed = 0
    if tags:
        pattern = "|".join(re.escape(t) for t in tags)  # literal alternatives only
        text, removed = re.subn(pattern, " ", text, flags=re.IGNORECASE)
    words = text.split()
    if not removed and sum(1 for w in words[:2] if w.casefold() in _REPLY) < 2:
        return " ".join(words)  # nothing to take out: the author's order stays
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
    return " ".join([*lead, *(["Re:"] if reply else []), *words[i:]])


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

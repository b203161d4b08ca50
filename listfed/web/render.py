"""Templates and their filters. Autoescape is on for every template: all text from mail
is escaped; the few filters that return markup escape what they are given first."""

from __future__ import annotations

import re
import time

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from listfed.archive.network import msgid_segment
from listfed.archive.search import MARK

# An address in text: a local part (no blanks, brackets, quotes or '@') then '@' then a
# domain of two labels or more. Only the '@' changes; everything else shows as written.
_NOT_LOCAL = frozenset("<>()[]\"',;:@")
_DOMAIN = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")  # one reading only: linear
# a search snippet's mark (a private-use character while addresses are looked for) may
# stand inside a domain's labels too: `ann@**example**.org` is still an address
_MARK = "\ue000"
# (a label still needs a letter, digit or hyphen of its own: `ann@x.**é**` is not one)
_LABEL = r"\ue000*+[A-Za-z0-9-][A-Za-z0-9\ue000-]*+"  # possessive: no reading twice
_MARKED_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})+")
DEPTH_CLASSES = 12  # tree indentation steps the stylesheet knows (d0 ... d12)


def at(text: str, domain: re.Pattern[str] | None = None) -> str:
    """Addresses written as `user at domain` (SPEC §10: no address a harvester can read).

    Found from each '@' outwards, not by a regex searched from every position: that
    would read a long run of word characters once per position in it (a 40 KB word took
    12 s). Here each character is looked at a bounded number of times: the local part is
    read back to the previous '@' at most, the domain forward to the next.
    """
    pieces: list[str] = []
    done = floor = 0  # text[:done] is in pieces; no local part starts before floor
    i = text.find("@")
    while i != -1:
        start = i
        while start > floor and _local(text[start - 1]):
            start -= 1
        found = (domain or _DOMAIN).match(text, i + 1) if start < i else None
        if found is not None:
            pieces += (text[done:i], " at ")
            done = i + 1
            floor = found.end()
        i = text.find("@", i + 1)
    return "".join(pieces) + text[done:] if pieces else text


def _local(char: str) -> bool:
    return char not in _NOT_LOCAL and not char.isspace()


def date(ts: float | None) -> str:
    return "" if ts is None else time.strftime("%Y-%m-%d %H:%M", time.gmtime(ts))


def day(ts: float | None) -> str:
    return "" if ts is None else time.strftime("%Y-%m-%d", time.gmtime(ts))


def marked(snippet: str) -> Markup:
    """A search snippet, escaped, with the search's marks around matched words as <mark>.
    Addresses are found in the whole snippet, marks and all, so that a matched word
    cannot split one and leave it readable (`<mark>dana</mark>@example.com`): each mark
    is one private-use character meanwhile, which `at` takes as part of an address and
    escaping leaves alone."""
    text = snippet.replace(_MARK, "\ufffd").replace(MARK[0], _MARK)
    pieces = str(escape(at(text, _MARKED_DOMAIN))).split(_MARK)
    tagged = "".join(f"<mark>{piece}</mark>" if i % 2 else piece for i, piece in enumerate(pieces))
    return Markup(tagged)  # noqa: S704 (every piece escaped above)


def size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    return f"{n / 1024:.0f} KB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.1f} MB"


def depth_class(depth: int) -> str:
    return f"d{min(depth, DEPTH_CLASSES)}"


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("listfed.web"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # the templates ship with the package: no stat() per include
    )
    env.filters.update(
        at=at, msgid=msgid_segment, date=date, day=day, marked=marked, size=size, depth=depth_class
    )
    return env

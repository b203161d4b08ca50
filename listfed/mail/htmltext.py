"""HTML mail reduced to the text a reader sees (for `body`: the archive, the pipeline,
the command robot).

Regular expressions rather than `html.parser`: the parser costs up to a microsecond per
character of tag-dense markup and goes quadratic on ``<a <a <a``; every pass here is linear.
"""

from __future__ import annotations

import html
import re

MAX_HTML = 1_000_000  # characters of markup read; the text of more is never indexed
# "> " marks written in front of one line: a prefix per open blockquote on every line made
# the text quadratic in the markup (1 MB of <blockquote>s, then lines: gigabytes).
MAX_QUOTE_MARKS = 8
# Where hidden content (comments, scripts, styles, the title) or a <pre> block starts.
_SPECIAL = re.compile(r"<!--|<(script|style|title|pre)\b", re.IGNORECASE)
_ENDS = {name: re.compile(rf"</{name}\s*>", re.IGNORECASE) for name in ("script", "style", "title")}
_PRE_END = re.compile(r"</pre\s*>", re.IGNORECASE)
_BLANK_LINES = re.compile(r"\n{3,}")
_MARKERS = re.compile(r"[\x01-\x04]")
_BREAK = re.compile(r"<br\b[^<>]*>", re.IGNORECASE)
# Paragraph-like blocks are set off by a blank line; other blocks only start a new line.
_PARAGRAPH = re.compile(r"</?(?:p|h[1-6]|blockquote|pre|hr)\b[^<>]*>", re.IGNORECASE)
_BLOCK = re.compile(
    r"</?(?:div|li|tr|dt|dd|table|ul|ol|dl|section|article|header|footer|center)\b[^<>]*>",
    re.IGNORECASE,
)
_QUOTE_OPEN = re.compile(r"<blockquote\b[^<>]*>", re.IGNORECASE)
_QUOTE_CLOSE = re.compile(r"</blockquote\s*>", re.IGNORECASE)
_CELL = re.compile(r"<t[dh]\b[^<>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[!/?a-zA-Z][^<>]*>")  # a "<" in text ("a < b") is left alone
_EDGES = re.compile(r"[\x01\x02][\x01\x02 ]*+")  # block edges with nothing between


def html_to_text(markup: str, *, quotes: bool = False) -> str:
    """Visible text: script/style dropped, block tags as line breaks, entities unescaped,
    runs of blank lines made one. ``quotes``: a blockquote's lines start with ``> ``."""
    markup = markup[:MAX_HTML]
    if _MARKERS.search(markup):  # our own markers, below
        markup = _MARKERS.sub("", markup)
    text = " ".join(_visible(markup).split())  # source line breaks are spaces in HTML
    if quotes:  # \x03 opens a quote, \x04 closes one; both also end a paragraph
        text = _QUOTE_CLOSE.sub("\x04\x02", _QUOTE_OPEN.sub("\x02\x03", text))
    text = _PARAGRAPH.sub("\x02", _BREAK.sub("\n", text))
    text = _TAG.sub("", _CELL.sub(" ", _BLOCK.sub("\x01", text)))
    text = _EDGES.sub(lambda edge: "\n\n" if "\x02" in edge.group() else "\n", text)
    text = html.unescape(text).replace("\xa0", " ")
    lines = [line.strip() for line in text.split("\n")]
    text = "\n".join(_quoted(lines) if quotes else lines)
    return _BLANK_LINES.sub("\n\n", text).strip()


def _quoted(lines: list[str]) -> list[str]:
    """Lines with their quote markers made ``> `` prefixes, one per open blockquote (at
    most `MAX_QUOTE_MARKS`)."""
    out: list[str] = []
    depth = 0
    for line in lines:
        depth += line.count("\x03")
        text = line.replace("\x03", "").replace("\x04", "").strip()
        out.append(f"{'> ' * min(depth, MAX_QUOTE_MARKS)}{text}" if text else "")
        depth = max(0, depth - line.count("\x04"))
    return out


def _visible(markup: str) -> str:
    """The markup without comments, scripts, styles and title; line breaks inside <pre>
    made <br> so they survive white-space collapsing. Unclosed, they run to the end."""
    out: list[str] = []
    pos = 0
    while (start := _SPECIAL.search(markup, pos)) is not None:
        out.append(markup[pos : start.start()])
        name = (start.group(1) or "").lower()
        if not name:
            close = markup.find("-->", start.end())
            pos = len(markup) if close < 0 else close + 3
            continue
        end = (_PRE_END if name == "pre" else _ENDS[name]).search(markup, start.end())
        pos = len(markup) if end is None else end.end()
        if name == "pre":
            out.append(markup[start.start() : pos].replace("\n", "<br>"))
    out.append(markup[pos:])
    return "".join(out)

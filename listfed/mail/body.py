"""The text a reader sees in a message: which part, decoded how. Never raises.

One extractor for the archive index, the pipeline's `ParsedMessage.body_text` (held-post
notices, digests) and the -request robot's command reader. It picks the first inline
text/plain part, else HTML, else any other text, preferring the message's own parts to
those of a forwarded message; it undoes transfer encodings and charsets leniently
(`decoding`) and reduces HTML in linear time (`htmltext`). The walk is iterative and
bounded: the structure is the sender's to choose.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message

from listfed.mail import headers
from listfed.mail.decoding import decode_bytes, decode_cte, decode_words
from listfed.mail.htmltext import html_to_text

MAX_BODY = 200_000  # characters of body text
MAX_NAMES = 100  # attachment names
MAX_PARTS = 1_000  # MIME parts looked at
_MAX_PAYLOAD = 4_000_000  # encoded bytes of the chosen part that are decoded
CONTAINERS = ("multipart/", "message/")


@dataclass(frozen=True, slots=True)
class Part:
    """How one MIME part is to be read, from its own Content-* fields."""

    ctype: str
    charset: str
    cte: str
    attachment: bool
    filename: str


def describe(fields: headers.Fields, defects: list[str]) -> Part:
    """How a part is to be read, from its own Content-* fields."""
    ctype, ct_params = headers.params(headers.text(fields, "content-type", defects), defects)
    if ctype.count("/") != 1:  # absent or invalid: RFC 2045's default, as the stdlib does
        ctype = "text/plain"
    disposition, cd_params = headers.params(
        headers.text(fields, "content-disposition", defects), defects
    )
    cte = headers.text(fields, "content-transfer-encoding", defects)
    filename = cd_params.get("filename") or ct_params.get("name") or ""
    if filename:
        filename = decode_words(filename, defects)
    return Part(
        ctype=ctype,
        charset=ct_params.get("charset", ""),
        cte=(cte.split() or [""])[0].strip("\"'").lower(),
        attachment=disposition == "attachment",
        filename=filename,
    )


def _rank(part: Part) -> int | None:
    """Which text a reader sees first: plain, then HTML, then any other inline text."""
    if part.attachment or not part.ctype.startswith("text/"):
        return None
    return {"text/plain": 0, "text/html": 1}.get(part.ctype, 2)


def single(part: Part, body: bytes, defects: list[str]) -> tuple[str, list[str]]:
    """Body text and attachment name of a message that is one part (read without the
    email package)."""
    names = [part.filename] if part.filename else []
    readable = _rank(part) is not None and body.strip()
    return (decode(part, body, defects) if readable else ""), names


def walk(
    msg: Message,
    defects: list[str],
    *,
    attached: bool = True,
    quotes: bool = False,
    unsplit: bool = False,
) -> tuple[str, list[str]]:
    """Body text and attachment names of a parsed message, depth first, without recursion.

    ``attached=False`` leaves forwarded messages (message/*) unread, where the archive
    reads them when the message has no text of its own: a command robot must act on
    what its sender wrote, never on a message they forwarded. ``unsplit``: a multipart
    whose parts were not found (no boundary, or nested too deeply to parse) is read as
    text, as the archive indexes it; shown to a person it would be MIME source, so the
    pipeline leaves it out. ``quotes``: see `decode`.
    """
    names: list[str] = []
    best: tuple[int, Part, bytes] | None = None
    stack: list[tuple[Message, bool]] = [(msg, False)]
    for _ in range(MAX_PARTS):
        if not stack:
            break
        node, nested = stack.pop()
        defects.extend(type(d).__name__ for d in node.defects)
        part = describe(headers.fields_of(node), defects)
        if part.filename and len(names) < MAX_NAMES:
            names.append(part.filename)
        if part.ctype.startswith("message/") and not attached:
            continue
        # compat32's get_payload() would decode 8-bit bytes itself, replacing what does
        # not fit the declared charset: read the payload as the parser stored it.
        payload = vars(node).get("_payload")
        if isinstance(payload, list):
            inner = nested or part.ctype.startswith("message/")
            stack.extend((p, inner) for p in reversed(payload) if isinstance(p, Message))
            continue
        if part.ctype.startswith("multipart/") and unsplit:  # no parts found: as text
            part = Part("text/x-multipart", part.charset, part.cte, False, part.filename)
        rank = _rank(part)
        if rank is None or not isinstance(payload, str):
            continue
        rank += 3 if nested else 0  # a forwarded message's text only if ours has none
        data = payload.encode("utf-8", errors="surrogateescape")  # the bytes as they came
        if data.strip() and (best is None or rank < best[0]):
            best = (rank, part, data)
    if stack:
        defects.append(f"more than {MAX_PARTS} MIME parts")
    return (decode(best[1], best[2], defects, quotes=quotes) if best else ""), names


def text(msg: Message, *, attached: bool = True, quotes: bool = False) -> str:
    """The body text of a parsed message; "" when none can be read."""
    try:
        return walk(msg, [], attached=attached, quotes=quotes)[0]
    except Exception:  # broken MIME reads as an empty body, never as a failure
        return ""


def decode(part: Part, payload: bytes, defects: list[str], *, quotes: bool = False) -> str:
    """A part's payload as text, LF line ends, at most MAX_BODY characters.

    ``quotes``: HTML blockquotes become ``> `` lines, as a mail program quotes in plain
    text (the command robot stops reading at a quote).
    """
    if len(payload) > _MAX_PAYLOAD:  # cut at a line end if there is one (base64 stays whole)
        payload = payload[: payload.rfind(b"\n", 0, _MAX_PAYLOAD) + 1 or _MAX_PAYLOAD]
    found = decode_bytes(decode_cte(payload, part.cte, defects), part.charset, defects)
    if part.ctype == "text/html":
        found = html_to_text(found, quotes=quotes)
    return found.replace("\r\n", "\n").removeprefix("\ufeff")[:MAX_BODY]

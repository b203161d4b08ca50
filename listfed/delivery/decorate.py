"""What every member receives: the accepted post with list headers, prefix and footer.

Works on the raw bytes (`rawmail`), so only what is changed here changes: other header
fields keep their folding and signed parts stay byte-identical. Bad input never raises;
it just gets less done to it (at worst, no footer).
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import secrets
from collections.abc import Callable, Collection, Sequence
from string import Template

from listfed.delivery import homeward, rewrite, subjects
from listfed.listinfo import ListInfo
from listfed.mail import decoding, longlines
from listfed.mail.message import SIGNATURE_HEADER, without_signatures
from listfed.mail.rawmail import RawMessage, crlf, encode_words, fold

log = logging.getLogger("listfed.delivery")

REPLACED = (
    "List-Id", "List-Post", "List-Help", "List-Subscribe", "List-Unsubscribe",
    "List-Unsubscribe-Post", "List-Archive", "List-Owner", "Precedence", "Return-Path",
    "X-Original-To", "Delivered-To",
)  # fmt: skip
_ASCII = frozenset({"", "us-ascii", "ascii"})
_IDENTITY = frozenset({"", "7bit", "8bit", "binary"})
_PARAM = re.compile(r';\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)')
_CHARSET = re.compile(r';\s*charset\s*=\s*(?:"[^"]*"|[^;\s]*)', re.IGNORECASE)
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")
# A comment (closed: group 1 or 2), read as \((?:[^()\\]|\\.)*\) reads it; or, kept as it is,
# an unclosed one's text that holds an escaped "\(": the search goes on after it, not from
# that "(" again (it read the rest once per "\(", quadratic). Other unclosed ones fail at
# their first stop, as they did: no "(" in them to start again from.
_COMMENT = re.compile(r"\((?:[^()\\]|\\[^(\n])*+(?:(\))|\\\((?:[^()\\]|\\.)*+(\))?)")
_MAX_NESTING = 8  # levels of (comments (in comments)) read in an Authentication-Results


def decorate(
    raw: bytes,
    lst: ListInfo,
    *,
    base_url: str = "",
    archive_url: str = "",
    dmarc: str = "",
    auth: str = "",
    authserv_id: str = "",
    parsed: RawMessage | None = None,
    tags: Collection[str] = (),
    foreign: Sequence[subjects.ForeignTag] = (),
    away: Collection[str] = (),
) -> bytes:
    """The bytes every member of `lst` receives for the accepted post `raw`.

    `dmarc` is the DMARC mitigation decided for this post ("", "munge" or "wrap");
    `auth` an Authentication-Results value to add (what ARC sealing records), and
    `authserv_id` the node's name, under which nobody else may write one. `parsed` is
    a copy of `raw`'s header block to change, where the caller has read it already;
    `tags` the subject tags that routes and lists on the way added (delivery/subjects);
    `foreign` the tags of the lists bridged to this one; `away` their addresses, which
    give way to the list's own where replies go (delivery/homeward), for a post taken in
    from one of them."""
    # No copy carries a peer's relay signature, not even inside a wrapper
    if dmarc == "wrap":
        msg = _wrapped(without_signatures(raw), lst)
    else:
        msg = parsed if parsed is not None else RawMessage.parse(raw)
    msg.remove(*REPLACED, SIGNATURE_HEADER)
    _authenticated(msg, authserv_id, auth)
    sender = rewrite.munge if dmarc == "munge" else rewrite.reply_to
    archive = f"{base_url.rstrip('/')}/{lst.address}/" if base_url else ""
    steps: list[tuple[str, Callable[[], None]]] = [
        ("the sender's rewriting", lambda: sender(msg, lst)),
        ("the prefix", lambda: _prefix_subject(msg, lst, tags, foreign)),
        ("the footer", lambda: _add_footer(msg, lst, archive)),
    ]
    if dmarc == "wrap":
        steps = steps[1:]
    # first: the sender's rewriting then sees From as the list's where it was the foreign one
    steps.insert(0, ("replies home", lambda: homeward.readdress(msg, lst, away)))
    for what, step in steps:
        saved = (list(msg.fields), msg.body)
        try:
            step()
        except Exception:  # a bug must cost the decoration, never the post
            msg.fields, msg.body = saved
            log.exception("%s: %s skipped for a post", lst.address, what)
    _add_list_headers(msg, lst, archive_url)
    return longlines.shortened(msg.to_bytes())  # a line the next hop would fold


def _wrapped(raw: bytes, lst: ListInfo) -> RawMessage:
    try:
        return rewrite.wrap(raw, lst)
    except Exception:  # a bug must cost the mitigation, never the post
        log.exception("%s: wrapping a post failed; it goes out as it came", lst.address)
        return RawMessage.parse(raw)


def _authenticated(msg: RawMessage, authserv_id: str, auth: str) -> None:
    """Drop every Authentication-Results that claims to be ours: a sender could forge
    one, and members' filters (and our own ARC seal) would believe it (RFC 8601 §5).
    Then put ours, if any, on top."""
    ours = authserv_id.strip().lower()
    if ours:
        msg.fields = [
            (name, raw)
            for name, raw in msg.fields
            if name.lower() != "authentication-results" or not _claims(raw, ours)
        ]
    if auth:
        msg.fields.insert(0, ("Authentication-Results", fold("Authentication-Results", auth)))


def _claims(raw: bytes, ours: str) -> bool:
    """Does this Authentication-Results field speak in our name? Read as dkimpy reads
    it (UTF-8, Unicode spaces), and, to be safe, any field naming us before its first
    semicolon counts, whatever else surrounds the name. So does one whose comments nest
    deeper than `_MAX_NESTING`: no honest field does, and reading it would be slow."""
    head = raw.partition(b":")[2].decode("utf-8", "replace").partition(";")[0]
    found = _authserv_id(raw)
    return found is None or found == ours or ours in head.lower()


def _authserv_id(raw: bytes) -> str | None:
    """The authserv-id of a raw Authentication-Results field, comments skipped; None
    when they nest deeper than `_MAX_NESTING` (each pass is linear, so the passes are
    bounded: unbounded, a stranger's nesting made them quadratic)."""
    value = raw.partition(b":")[2].decode("utf-8", "replace")
    for _ in range(_MAX_NESTING + 1):  # innermost comments first
        stripped = _COMMENT.sub(_blank_comment, value)
        if stripped == value:
            words = value.partition(";")[0].split()
            return words[0].lower() if words else ""
        value = stripped
    return None


def _blank_comment(found: re.Match[str]) -> str:
    return found.group() if found.lastindex is None else " "  # unclosed: kept


def list_headers(lst: ListInfo, archive_url: str = "") -> list[tuple[str, str]]:
    """The RFC 2369/2919 fields, in order, for mail that `lst` sends to its members."""
    description = " ".join(lst.description.split())
    list_id = f"<{lst.list_id}>"
    fields = [
        ("List-Id", f"{_phrase(description)} {list_id}" if description else list_id),
        ("List-Post", f"<mailto:{lst.address}>"),
        ("List-Help", f"<mailto:{lst.sub_address('request')}?subject=help>"),
        ("List-Subscribe", f"<mailto:{lst.sub_address('join')}>"),
        # The HTTPS unsubscribe link (with RFC 8058 List-Unsubscribe-Post) comes with the
        # web part, from base_url; until then members unsubscribe by mail only.
        ("List-Unsubscribe", f"<mailto:{lst.sub_address('leave')}>"),
    ]
    if archive_url.strip():
        fields.append(("List-Archive", f"<{archive_url.strip()}>"))
    fields.append(("Precedence", "list"))
    return fields


def _add_list_headers(msg: RawMessage, lst: ListInfo, archive_url: str) -> None:
    for name, value in list_headers(lst, archive_url):
        msg.append(name, value)


def _phrase(text: str) -> str:
    """A display phrase: a quoted string, or encoded words (never inside quotes)."""
    if text.isascii():
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return encode_words(text)


def _prefix_subject(
    msg: RawMessage, lst: ListInfo, tags: Collection[str], foreign: Sequence[subjects.ForeignTag]
) -> None:
    """The list's prefix in front, once; `tags` (routes', lists' on the way) gone; a
    bridged thread's subject as `subjects.homeward` writes it."""
    prefix = " ".join(lst.prefix.split())
    subject = " ".join((msg.get_decoded("Subject") or "").split())
    bridged = subjects.homeward(subject, prefix, foreign, tags)
    if bridged is not None:
        if bridged != subject:
            msg.replace("Subject", bridged)
        return
    if subjects.untidy(subject, prefix, tags):  # Re: [team] Re: [team] ..., or relayed
        rest = subjects.tidy(subject, {*tags, prefix}) or "(no subject)"
        msg.replace("Subject", f"{prefix} {rest}".strip())
        return
    if not prefix or prefix.casefold() in subject.casefold():
        return  # already there (a reply): the field stays byte for byte
    msg.replace("Subject", f"{prefix} {subject or '(no subject)'}")


def _content_type(msg: RawMessage) -> tuple[str, dict[str, str]]:
    """The lower-case type and parameters; text/plain when there is none."""
    value = msg.get("Content-Type")
    if not value or not value.strip():
        return "text/plain", {}
    kind = value.split(";", 1)[0].strip().lower()
    params: dict[str, str] = {}
    for name, raw in _PARAM.findall(value):
        if raw.startswith('"'):
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        params.setdefault(name.lower(), raw)
    return kind, params


def footer_text(lst: ListInfo, archive: str = "") -> str:
    """The list's footer with its placeholders filled: $list, $description, $request,
    $join, $leave, $owner, and $archive (the list's web page, "" without base_url)."""
    text = lst.footer.replace("\r\n", "\n").replace("\r", "\n").strip("\n")
    return Template(text).safe_substitute({**lst.placeholders(), "archive": archive})


def _add_footer(msg: RawMessage, lst: ListInfo, archive: str = "") -> None:
    footer = footer_text(lst, archive)
    if not footer.strip():
        return
    kind, params = _content_type(msg)
    disposition = (msg.get("Content-Disposition") or "").strip().lower()
    if kind == "multipart/mixed":
        _insert_part(msg, params.get("boundary", ""), footer)
        return
    # Everything else that is not plain text, above all multipart/signed, multipart/
    # encrypted and (x-)pkcs7-mime, is never touched inside: it is wrapped, unchanged.
    plain = kind == "text/plain" and not disposition.startswith("attachment")
    if not plain or not _append_text(msg, params.get("charset", "").strip().lower(), footer):
        _wrap(msg, footer)


def _ascii_compatible(codec: str, text: str) -> bool:
    try:
        return "\n".encode(codec) == b"\n" and text.encode(codec).isascii() == text.isascii()
    except (LookupError, ValueError):
        return False


def _join(body: bytes, footer: bytes) -> bytes:
    """`body`, an empty line, then `footer`."""
    end = b"" if not body or body.endswith(b"\n") else b"\n"
    return body + end + b"\n" + footer + b"\n"


def _append_text(msg: RawMessage, charset: str, footer: str) -> bool:
    """Put the footer at the end of a text/plain body; False when that cannot be done."""
    cte = (msg.get("Content-Transfer-Encoding") or "").strip().lower()
    body = msg.body
    if cte in _IDENTITY:
        codec = "us-ascii" if charset in _ASCII else charset
        if _ascii_compatible(codec, footer):  # the footer fits the body's charset
            msg.body = _join(body, footer.encode(codec))
            if cte in ("", "7bit") and not footer.isascii():
                _set_utf8(msg, "8bit", charset_too=False)
            return True
        if charset in _ASCII and body.isascii():
            msg.body = _join(body, footer.encode("utf-8"))
            _set_utf8(msg, "8bit" if cte in ("", "7bit") else "")
            return True
    text = _decode_body(body, cte, charset)
    if text is None:
        return False
    newline = "\r\n" if "\r\n" in text else "\n"
    ending = "" if not text or text.endswith("\n") else newline
    data = (text + ending + newline + footer.replace("\n", newline) + newline).encode("utf-8")
    if cte == "quoted-printable":
        msg.body = binascii.b2a_qp(data, istext=True)
    elif cte == "base64":
        msg.body = base64.encodebytes(data)
    else:
        msg.body = data
    changed_cte = cte in ("", "7bit") and not data.isascii()
    _set_utf8(msg, "8bit" if changed_cte else "")
    return True


def _decode_body(body: bytes, cte: str, charset: str) -> str | None:
    """The text of a body, or None when its encoding or charset is not understood."""
    data: bytes | None = body
    if cte == "quoted-printable":
        data = binascii.a2b_qp(body)
    elif cte == "base64":
        data = _from_base64(body)
    elif cte not in _IDENTITY:
        return None
    if data is None:
        return None
    # undeclared 8-bit text is most likely UTF-8 (which ASCII is part of); a charset
    # that is no charset (punycode: quadratic on a stranger's body) is not understood
    name = "utf-8" if charset in _ASCII else decoding.codec(charset)
    if name is None:
        return None
    try:
        return data.decode(name)
    except (LookupError, ValueError):
        return None


def _from_base64(body: bytes) -> bytes | None:
    """Lenient: junk and padding dropped, a dangling character (no whole byte) too."""
    data = _NOT_BASE64.sub(b"", body)
    data = data[:-1] if len(data) % 4 == 1 else data
    try:
        return binascii.a2b_base64(data + b"=" * (-len(data) % 4))
    except binascii.Error:
        return None


def _set_utf8(msg: RawMessage, cte: str, *, charset_too: bool = True) -> None:
    """Declare UTF-8 (and `cte` when given) on a text/plain message."""
    if charset_too:
        value = msg.get("Content-Type") or ""
        if not value.strip():
            value = "text/plain; charset=utf-8"
        elif _CHARSET.search(value):
            value = _CHARSET.sub("; charset=utf-8", value, count=1)
        else:
            value = value.rstrip("; \t") + "; charset=utf-8"
        msg.replace("Content-Type", value)
    if cte:
        msg.replace("Content-Transfer-Encoding", cte)
    _ensure_mime(msg)


def _ensure_mime(msg: RawMessage) -> None:
    if not (msg.get("MIME-Version") or "").strip().startswith("1.0"):
        msg.replace("MIME-Version", "1.0")


def _footer_part(footer: str) -> bytes:
    """A complete inline text/plain body part, ending in CRLF."""
    data = (footer + "\n").encode("utf-8")
    if data.isascii() and max(len(line) for line in data.split(b"\n")) <= 998:
        cte, payload = "7bit", data
    else:
        cte, payload = "quoted-printable", binascii.b2a_qp(data, istext=True)
    head = (
        "Content-Type: text/plain; charset=utf-8\r\nContent-Disposition: inline\r\n"
        f"Content-Transfer-Encoding: {cte}\r\n\r\n"
    )
    return head.encode("ascii") + crlf(payload)


def _insert_part(msg: RawMessage, boundary: str, footer: str) -> None:
    """Add the footer part just before the closing delimiter of a multipart/mixed."""
    delimiter = b"--" + boundary.encode("utf-8", "surrogateescape")
    close = re.compile(rb"(\r?\n|\A)" + re.escape(delimiter) + rb"--[ \t]*(?:\r?\n|\Z)")
    found = close.search(msg.body) if boundary else None
    if found is None:
        log.info("broken multipart/mixed (no closing delimiter): no footer added")
        return
    at, part = found.start(), _footer_part(footer)
    if found.group(1):
        added = b"\r\n" + delimiter + b"\r\n" + part  # the newline at `at` opens the close
    else:
        added = delimiter + b"\r\n" + part + b"\r\n"
    msg.body = msg.body[:at] + added + msg.body[at:]


def _wrap(msg: RawMessage, footer: str) -> None:
    """Make the post the first part of a new multipart/mixed, the footer the second."""
    inner = [(name, raw) for name, raw in msg.fields if name.lower().startswith("content-")]
    msg.fields = [(n, raw) for n, raw in msg.fields if not n.lower().startswith("content-")]
    original = b"".join(crlf(raw) + b"\r\n" for _, raw in inner) + b"\r\n" + crlf(msg.body)
    boundary = f"=_listfed_{secrets.token_hex(12)}"
    while boundary.encode("ascii") in original:
        boundary = f"=_listfed_{secrets.token_hex(12)}"
    delimiter = b"--" + boundary.encode("ascii")
    msg.body = (
        delimiter + b"\r\n" + original + b"\r\n" + delimiter + b"\r\n"
        + _footer_part(footer) + b"\r\n" + delimiter + b"--\r\n"
    )  # fmt: skip
    msg.append("Content-Type", f'multipart/mixed; boundary="{boundary}"')
    _ensure_mime(msg)

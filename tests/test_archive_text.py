"""Text extraction for the archive index: lenient, the same on both paths, never raising."""

from __future__ import annotations

import base64
import quopri
from datetime import UTC, datetime
from email.header import Header
from email.utils import encode_rfc2231
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from listfed.mail.htmltext import html_to_text
from listfed.mail.text import MAX_BODY, Extract, extract


def _msg(headers: str, body: bytes | str = b"") -> bytes:
    """A message from a header block written in this file and a body."""
    head = headers.strip("\n").encode("utf-8")
    return head + b"\n\n" + (body.encode("utf-8") if isinstance(body, str) else body)


def _ts(year: int, month: int, day: int, hour: int = 0, minute: int = 0, sec: int = 0) -> float:
    return datetime(year, month, day, hour, minute, sec, tzinfo=UTC).timestamp()


PLAIN = _msg(
    """
From: Alice Smith <alice@Example.ORG>
To: list@lists.example.org
Subject: Hello   world
Date: Mon, 01 Jan 2024 10:00:00 +0000
Message-ID: <plain-1@example.org>
In-Reply-To: <mid@example.org>
References: <root@example.org>
 <mid@example.org>
""",
    "Hello,\nthis is the body.\n",
)
LATIN1_QP = _msg(
    """
From: bob@example.net
Subject: qp
Content-Type: text/plain; charset=ISO-8859-1
Content-Transfer-Encoding: quoted-printable
""",
    b"Caf=E9 cr=E8me br=FBl=E9e, a soft =\nbreak.\n",
)
UTF8_B64 = _msg(
    """
From: bob@example.net
Subject: b64
MIME-Version: 1.0
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: base64
""",
    base64.encodebytes("Grüße aus Köln — ✓\n".encode()),
)
UNKNOWN_CHARSET = _msg(
    "From: bob@example.net\nContent-Type: text/plain; charset=x-unknown",
    "plain words, café\n",
)
HTML_ONLY = _msg(
    "From: bob@example.net\nContent-Type: text/html; charset=utf-8",
    """<html><head><title>T</title><style>p { color: red }</style>
<script>alert("x < y")</script></head>
<body><p>First &amp;   foremost</p><p>Second&nbsp;para<br>line two</p>


<div>caf&eacute; &#8212; &lt;tag&gt;</div>
<ul><li>one</li><li>two</li></ul></body></html>
""",
)
ALTERNATIVE = _msg(
    'From: bob@example.net\nContent-Type: multipart/alternative; boundary="b1"',
    """--b1
Content-Type: text/html

<p>the <b>html</b> version</p>
--b1
Content-Type: text/plain

the plain version
--b1--
""",
)
MIXED = _msg(
    'From: bob@example.net\nContent-Type: multipart/mixed; boundary="XYZ"',
    """--XYZ
Content-Type: text/plain; charset=utf-8

See attached.
--XYZ
Content-Type: application/pdf; name="resume.pdf"
Content-Disposition: attachment; filename*=UTF-8''R%C3%A9sum%C3%A9.pdf
Content-Transfer-Encoding: base64

JVBERi0xLjQK
--XYZ
Content-Type: image/png; name="=?ISO-8859-1?Q?gr=FC=DFe.png?="
Content-Disposition: attachment

iVBORw0KGgo=
--XYZ
Content-Type: text/plain
Content-Disposition: attachment; filename*0*=utf-8''na%C3%AFve; filename*1=" notes.txt"

attached text is not the body
--XYZ--
""",
)
NESTED = _msg(
    'From: bob@example.net\nContent-Type: multipart/mixed; boundary="outer"',
    """--outer
Content-Type: text/plain

Forwarding this.
--outer
Content-Type: message/rfc822
Content-Disposition: attachment; filename="fwd.eml"

From: Carol <carol@example.com>
Subject: inner
Content-Type: multipart/mixed; boundary="inner"

--inner
Content-Type: text/plain

Inner text.
--inner
Content-Type: text/csv; name="data.csv"
Content-Disposition: attachment; filename="data.csv"

a,b
--inner--
--outer--
""",
)
SINGLE_PARTS = [PLAIN, LATIN1_QP, UTF8_B64, UNKNOWN_CHARSET, HTML_ONLY]
ALL = [*SINGLE_PARTS, ALTERNATIVE, MIXED, NESTED]


def test_plain_ascii() -> None:
    assert extract(PLAIN) == Extract(
        message_id="plain-1@example.org",
        subject="Hello world",
        sender="alice@example.org",
        sender_name="Alice Smith",
        date=_ts(2024, 1, 1, 10, 0),
        references=("root@example.org", "mid@example.org"),
        in_reply_to="mid@example.org",
        body_text="Hello,\nthis is the body.\n",
        attachments="",
        defects=(),
    )


def test_latin1_quoted_printable() -> None:
    assert extract(LATIN1_QP).body_text == "Café crème brûlée, a soft break.\n"


def test_utf8_base64() -> None:
    assert extract(UTF8_B64).body_text == "Grüße aus Köln — ✓\n"


def test_unknown_charset_keeps_the_text() -> None:
    ex = extract(UNKNOWN_CHARSET)
    assert ex.body_text == "plain words, café\n"
    assert ex.defects == ("unknown charset x-unknown",)


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (b"caf\xe9 cr\xe8me", "café crème"),  # Latin-1 sent as UTF-8: read as cp1252
        ("Grüße ".encode() + b"\xff ok", "Grüße \ufffd ok"),  # UTF-8 with damage: kept
    ],
)
def test_invalid_utf8_body(body: bytes, text: str) -> None:
    ex = extract(_msg('Content-Type: text/plain; charset="utf-8"', body))
    assert ex.body_text == text
    assert ex.defects == ("bytes not valid utf-8",)


def test_html_only() -> None:
    assert extract(HTML_ONLY).body_text == (
        "First & foremost\n\nSecond para\nline two\n\ncafé — <tag>\none\ntwo"
    )


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("<!-- hidden --><p>a &lt; b</p><!--[if mso]>mso only<![endif]-->", "a < b"),
        ("a < b and <3, <i>kept</i>", "a < b and <3, kept"),
        ("<table><tr><td>x</td><td>y</td></tr><tr><td>z</td></tr></table>", "x y\nz"),
        ("<pre>line 1\n  line 2</pre>after", "line 1\nline 2\n\nafter"),
        ("<SCRIPT type=x>var a = '<p>';</SCRIPT >shown<style>never", "shown"),
        ("<p>unclosed <!-- comment", "unclosed"),
        ("<div>Gmail</div><div>lines</div><div><br></div><div>-- </div>", "Gmail\nlines\n\n--"),
        ("<a <a <a", "<a <a <a"),
    ],
)
def test_html_to_text(markup: str, text: str) -> None:
    assert html_to_text(markup) == text


def test_alternative_prefers_plain() -> None:
    assert extract(ALTERNATIVE).body_text == "the plain version"
    html_only = ALTERNATIVE.replace(b"text/plain", b"image/gif")
    assert extract(html_only).body_text == "the html version"


def test_attachments_rfc2231_and_rfc2047_names() -> None:
    ex = extract(MIXED)
    assert ex.body_text == "See attached."
    assert ex.attachments == "Résumé.pdf\ngrüße.png\nnaïve notes.txt"
    assert ex.defects == ()


def test_nested_message_attachments() -> None:
    ex = extract(NESTED)
    assert ex.body_text == "Forwarding this."
    assert ex.attachments == "fwd.eml\ndata.csv"
    # With no text of its own, the forwarded message's text is what a reader sees.
    assert extract(NESTED.replace(b"Forwarding this.", b"")).body_text == "Inner text."


def test_attachment_names_are_capped() -> None:
    part = "--b\nContent-Type: application/octet-stream; name=f{}.bin\n\nx\n"
    body = "".join(part.format(i) for i in range(150)) + "--b--\n"
    ex = extract(_msg("Content-Type: multipart/mixed; boundary=b", body))
    assert ex.attachments.split("\n") == [f"f{i}.bin" for i in range(100)]


@pytest.mark.parametrize(
    ("subject", "text"),
    [(b"Caf\xe9 cr\xe8me", "Café crème"), ("Café ✓".encode(), "Café ✓")],
)
def test_8bit_subject(subject: bytes, text: str) -> None:
    raw = b"From: a@example.org\nSubject: " + subject + b"\n\nbody\n"
    for fast in (True, False):
        ex = extract(raw, fast=fast)
        assert (ex.subject, ex.defects) == (text, ("8-bit bytes in headers",))


def test_folded_subject_with_encoded_words() -> None:
    raw = _msg(
        "Subject: =?UTF-8?B?w4dh?=\n =?UTF-8?Q?_va_bien?= and\n\tmore =?utf-8?b?ww==?=\n"
        " =?utf-8?b?h2E=?= done"
    )
    assert extract(raw).subject == "Ça va bien and more Ça done"


@pytest.mark.parametrize(
    "value",
    [
        "alice at example.org (Alice Smith)",
        "Alice Smith <alice at Example.org>",
        "=?utf-8?q?Alice_Smith?= <alice@EXAMPLE.ORG>",
        '"Alice Smith" <alice@example.org>',
    ],
)
def test_sender_forms(value: str) -> None:
    ex = extract(_msg(f"From: {value}", "x"))
    assert (ex.sender, ex.sender_name) == ("alice@example.org", "Alice Smith")


def test_sender_that_is_no_address() -> None:
    ex = extract(_msg("From: Bob at Work", "x"))
    assert ex.sender == ""


@pytest.mark.parametrize(
    ("value", "when"),
    [
        ("Mon, 1 Jan 2024 10:00:00 +0100 (CET)", _ts(2024, 1, 1, 9)),
        ("Mon, 1 Jan 2024 10:00:00 (CET)", _ts(2024, 1, 1, 9)),
        ("Mon, 1 Jan 2024 10:00:00 CEST", _ts(2024, 1, 1, 8)),
        ("1 Jan 2024 10:00 EST", _ts(2024, 1, 1, 15)),
        ("Fri, 1 Jan 99 10:00:00 GMT", _ts(1999, 1, 1, 10)),
        ("Mon, 1 Jan 2024 10:00:60 +0000", _ts(2024, 1, 1, 10, 0, 59)),
        ("2024-01-05 10:00:00", _ts(2024, 1, 5, 10)),
        ("Mon, 32 Jan 2024 10:00:00 +0000", None),
        ("Mon, 1 Jan 2024 99:00:00 +0000", None),
        ("Mon, 1 Jan 2400 10:00:00 +0000", None),
        ("yesterday", None),
    ],
)
def test_dates(value: str, when: float | None) -> None:
    ex = extract(_msg(f"Date: {value}", "x"))
    assert ex.date == when
    assert ("unreadable date" in ex.defects) == (when is None)


def test_missing_message_id_and_date() -> None:
    ex = extract(_msg("Subject: s", "x"))
    assert (ex.message_id, ex.date, ex.defects) == ("", None, ())


def test_multipart_without_boundary() -> None:
    ex = extract(_msg("Content-Type: multipart/mixed", "some text here\n"))
    assert ex.body_text == "some text here\n"
    assert "NoBoundaryInMultipartDefect" in ex.defects


def test_multipart_without_closing_boundary() -> None:
    ex = extract(_msg("Content-Type: multipart/mixed; boundary=b", "--b\n\nfirst part\n"))
    assert ex.body_text.strip() == "first part"
    assert "CloseBoundaryNotFoundDefect" in ex.defects


@pytest.mark.parametrize("fast", [True, False])
def test_garbage_base64(fast: bool) -> None:
    raw = _msg("Content-Transfer-Encoding: base64", "!!!this is not base64###\n")
    assert "broken base64" in extract(raw, fast=fast).defects
    footer = base64.encodebytes(b"the message\n") + b"-- \nlist footer\n"
    ex = extract(_msg("Content-Transfer-Encoding: base64", footer), fast=fast)
    assert ex.body_text == "the message\n\n-- \nlist footer\n"
    unpadded = _msg("Content-Transfer-Encoding: base64", b"aGVsbG8")
    assert extract(unpadded, fast=fast).body_text == "hello"


def test_unknown_transfer_encoding_is_left_as_is() -> None:
    ex = extract(_msg("Content-Transfer-Encoding: x-rot13", "uryyb"))
    assert (ex.body_text, ex.defects) == ("uryyb", ("unknown transfer encoding x-rot13",))


def test_headers_only() -> None:
    ex = extract(b"From: a@example.org\nSubject: only headers\n")
    assert (ex.subject, ex.body_text) == ("only headers", "")
    assert ex.defects == ("no header/body separator",)


def test_empty() -> None:
    ex = extract(b"")
    assert (ex.message_id, ex.body_text, ex.defects) == ("", "", ("empty message",))


def test_mbox_from_line_and_odd_header_lines() -> None:
    raw = b"From alice@example.org Mon Jan  1 10:00:00 2024\n" + PLAIN
    assert extract(raw) == extract(PLAIN)
    junk = _msg("Subject: s\nthis line is no header\nX-After: y", "body\n")
    assert extract(junk).body_text == "this line is no header\nX-After: y\n\nbody\n"


def test_body_is_capped() -> None:
    ex = extract(_msg("Subject: big", "x" * (MAX_BODY + 10)))
    assert len(ex.body_text) == MAX_BODY


@pytest.mark.parametrize("fast", [True, False])
def test_deep_nesting_is_not_given_to_the_email_package(fast: bool) -> None:
    # The email package would take minutes over this (every line × every open boundary).
    head = "".join(f"Content-Type: multipart/mixed; boundary=b{i}\n\n--b{i}\n" for i in range(900))
    raw = b"Subject: deep\n" + head.encode() + b"\ntext\n" + b"line\n" * 100_000
    with mock.patch("email.message_from_bytes", side_effect=AssertionError("parsed")):
        ex = extract(raw, fast=fast)
    assert ex.subject == "deep"
    assert ex.defects == ("MIME nested too deeply (900 levels)",)
    assert "text\nline\n" in ex.body_text


def test_deep_message_nesting_never_raises() -> None:
    ex = extract(b"Subject: deep\n" + b"Content-Type: message/rfc822\n\n" * 3000 + b"\ntext\n")
    assert ex.subject == "deep"


@pytest.mark.parametrize("raw", ALL)
def test_crlf_is_the_same_as_lf(raw: bytes) -> None:
    assert extract(raw.replace(b"\n", b"\r\n")) == extract(raw)


@pytest.mark.parametrize("raw", SINGLE_PARTS)
def test_fixtures_fast_equals_slow(raw: bytes) -> None:
    assert extract(raw) == extract(raw, fast=False)


def _ok(ex: Extract) -> None:
    for value in (ex.subject, ex.sender, ex.sender_name, ex.body_text, ex.attachments):
        value.encode("utf-8")  # storable in SQLite
        assert "\x00" not in value


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=3000))
def test_random_bytes_never_raise(raw: bytes) -> None:
    for fast in (True, False):
        _ok(extract(raw, fast=fast))


_FRAGMENTS = [
    b"Content-Type: multipart/mixed; boundary=x\n", b"Content-Type: message/rfc822\n",
    b"Content-Type: text/html; charset=x-bogus\n", b"--x\n", b"--x--\n", b"\n", b"\r\n",
    b"Content-Transfer-Encoding: base64\n", b"Content-Transfer-Encoding: quoted-printable\n",
    b"Subject: =?utf-8?b?w6k=?= \xe9\n", b"Content-Disposition: attachment; filename*0*=x''%ff\n",
    b"<p>a&amp;b</p>", b"=E9=\n", b"aGVsbG8=\n", b" folded\n", b"From \n", b"\xff\xfe\x00",
    b"Date: Mon, 1 Jan 99 25:61 XYZ\n", b"From: a at b.c (n)\n", b"<script>",
]  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=40))
def test_mime_shaped_garbage_never_raises(pieces: list[bytes]) -> None:
    raw = b"".join(pieces)
    for fast in (True, False):
        _ok(extract(raw, fast=fast))


_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=300)
_HEADER_TEXT = st.text(st.characters(exclude_categories=["Cs", "Cc"]), max_size=60)


@st.composite
def single_parts(draw: st.DrawFn) -> bytes:
    """Simple single-part messages in many charsets, encodings and header spellings."""
    eol = draw(st.sampled_from([b"\n", b"\r\n"]))
    subject = draw(_HEADER_TEXT)
    subject_form = draw(st.sampled_from(["utf-8", "latin-1", "2047"]))
    if subject_form == "2047":
        raw_subject = Header(subject, "utf-8").encode(linesep="\n").encode("ascii")
    else:
        raw_subject = subject.encode(subject_form, errors="replace")
    charset = draw(st.sampled_from(["utf-8", "iso-8859-1", "koi8-r", "us-ascii", "x-unknown"]))
    cte = draw(st.sampled_from(["7bit", "8bit", "base64", "quoted-printable", ""]))
    ctype = draw(st.sampled_from(["text/plain", "text/html", "application/pdf", ""]))
    data = draw(_TEXT).encode("utf-8" if charset == "x-unknown" else charset, errors="replace")
    if cte == "base64":
        body = base64.encodebytes(data)
    elif cte == "quoted-printable":
        body = quopri.encodestring(data)
    else:
        body = data
    lines = [
        b"From: " + draw(st.sampled_from([b"a@Example.org", b"N <n at x.org>", b"\xe9 <e@x.org>"])),
        b"Subject: " + raw_subject,
        b"Date: " + draw(st.sampled_from([b"Mon, 1 Jan 2024 10:00:00 +0100", b"junk"])),
        b"Message-ID: <" + draw(st.from_regex(rb"\A[a-z0-9.]{1,20}@[a-z]{1,9}\Z")) + b">",
    ]
    if ctype:
        params = draw(st.sampled_from(["", f'; charset="{charset}"', f"; charset={charset}"]))
        name = draw(
            st.sampled_from(["", "; name=a.txt", "; name*=" + encode_rfc2231("é", "utf-8")])
        )
        lines.append(f"Content-Type: {ctype}{params}{name}".encode())
    if cte:
        lines.append(b"Content-Transfer-Encoding: " + cte.encode())
    if draw(st.booleans()):
        lines.append(b'Content-Disposition: attachment; filename="f.txt"')
    head = b"\n".join(lines).replace(b"\r", b"").replace(b"\n", eol)
    return head + eol + eol + body.replace(b"\n", eol)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(single_parts())
def test_fast_path_equals_slow_path(raw: bytes) -> None:
    with mock.patch("email.message_from_bytes", side_effect=AssertionError("slow path ran")):
        quick = extract(raw)
    assert quick == extract(raw, fast=False)

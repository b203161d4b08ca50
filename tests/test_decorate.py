"""What a member notices on a decorated post: list headers, one prefix, one footer."""

from __future__ import annotations

import base64
import email
import email.policy
import logging
import re
import time
from email.message import EmailMessage, MIMEPart

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from listfed.delivery.decorate import decorate
from listfed.listinfo import ListInfo
from listfed.mail.rawmail import RawMessage, crlf

FOOTER = "To leave the list, mail team-leave@example.org"
LST = ListInfo(id=1, local="team", domain="example.org", description="Team talk", footer=FOOTER)
BARE = ListInfo(id=2, local="team", domain="example.org")


def read(out: bytes) -> EmailMessage:
    msg = email.message_from_bytes(out, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def head(out: bytes) -> bytes:
    return out.split(b"\r\n\r\n", 1)[0] + b"\r\n"


def body(out: bytes) -> bytes:
    return out.split(b"\r\n\r\n", 1)[1]


def message(*headers: str, body: bytes = b"Hello.\r\n") -> bytes:
    return "".join(f"{h}\r\n" for h in headers).encode() + b"\r\n" + body


def subject_of(out: bytes) -> str:
    return str(read(out)["Subject"])


def text(part: MIMEPart) -> str:
    """A text part's decoded content, with LF line endings."""
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


def texts(msg: EmailMessage) -> list[str]:
    """The decoded text of every text/plain leaf."""
    return [text(p) for p in msg.walk() if p.get_content_type() == "text/plain"]


def assert_crlf(out: bytes) -> None:
    assert b"\n" not in out.replace(b"\r\n", b"")
    assert out.endswith(b"\r\n")


PLAIN = message("From: a@example.com", "To: team@example.org", "Subject: Hello")

# --- list headers ---------------------------------------------------------------------


def test_list_headers_exactly_once_with_incoming_ones_replaced() -> None:
    raw = message(
        "Return-Path: <x@example.com>",
        "Delivered-To: someone@example.net",
        "X-Original-To: someone@example.net",
        "From: a@example.com",
        "List-Id: Other list <other.example.net>",
        "List-Post: <mailto:other@example.net>",
        "list-unsubscribe: <https://example.net/u>",
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        "List-Archive: <https://example.net/a>",
        "List-Owner: <mailto:o@example.net>",
        "Precedence: bulk",
        "Subject: Hello",
    )
    out = decorate(raw, LST, base_url="https://lists.example.org")
    msg = read(out)
    expected = {
        "List-Id": '"Team talk" <team.example.org>',
        "List-Post": "<mailto:team@example.org>",
        "List-Help": "<mailto:team-request@example.org?subject=help>",
        "List-Subscribe": "<mailto:team-join@example.org>",
        "List-Unsubscribe": "<mailto:team-leave@example.org>",
        "Precedence": "list",
    }
    for name, value in expected.items():
        assert msg.get_all(name) == [value], name
        assert f"{name}: {value}\r\n".encode() in head(out)
    for gone in ("List-Archive", "List-Owner", "List-Unsubscribe-Post", "Return-Path",
                 "Delivered-To", "X-Original-To"):  # fmt: skip
        assert msg[gone] is None, gone
    assert_crlf(out)


@pytest.mark.parametrize("dmarc", ["", "munge", "wrap"])
def test_no_copy_carries_a_relay_signature_not_even_inside_a_wrapper(dmarc: str) -> None:
    raw = message(
        "X-Listfed-Signature: v=2; n=philly.example; t=1;\r\n s=AAAA",
        "From: Ann <ann@example.com>",
        "Subject: Hello",
        "X-Listfed-Trace: philly.example actions@lists.philly.example",
        "x-listfed-signature: v=1; n=atl.example; t=2; s=BBBB",
    )
    for parsed in (None, RawMessage.parse(raw)):
        out = decorate(raw, LST, dmarc=dmarc, parsed=parsed)
        assert b"listfed-signature" not in out.lower()
        assert b"X-Listfed-Trace: philly.example actions@lists.philly.example\r\n" in out
    if dmarc == "wrap":  # the post inside is the rest of the post, byte for byte
        inner = message(
            "From: Ann <ann@example.com>",
            "Subject: Hello",
            "X-Listfed-Trace: philly.example actions@lists.philly.example",
        )
        assert inner in out


def test_a_stray_line_before_the_headers_leaves_them_headers_in_the_copy() -> None:
    raw = b" stray continuation\r\n" + message(
        "From: Ann <ann@example.net>",
        "Date: Mon, 1 Jan 2024 10:00:00 +0000",
        "Message-ID: <stray@example.net>",
        "Subject: hello",
    )
    out = decorate(raw, LST)
    copy = read(out)
    assert copy["From"] == "Ann <ann@example.net>"
    assert b"\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n" in head(out)
    assert copy["Message-ID"] == "<stray@example.net>"
    assert copy["Subject"] == "[team] hello"
    assert not copy.defects and b"stray continuation" not in out
    assert texts(copy)[0].startswith("Hello.\n")


def test_list_archive_only_when_given() -> None:
    out = decorate(PLAIN, LST, archive_url="https://lists.example.org/team/")
    assert read(out).get_all("List-Archive") == ["<https://lists.example.org/team/>"]


def test_list_id_without_description_and_with_quotes() -> None:
    assert read(decorate(PLAIN, BARE))["List-Id"] == "<team.example.org>"
    lst = ListInfo(id=1, local="team", domain="example.org", description='The "A" team')
    assert b'List-Id: "The \\"A\\" team" <team.example.org>\r\n' in decorate(PLAIN, lst)


def test_list_id_non_ascii_description_is_encoded() -> None:
    lst = ListInfo(id=1, local="team", domain="example.org", description="Grüße – Köln")
    out = decorate(PLAIN, lst)
    assert head(out).isascii()
    assert read(out)["List-Id"] == "Grüße – Köln <team.example.org>"


# --- subject prefix -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Hello", "[team] Hello"),
        ("Re: Hello", "[team] Re: Hello"),
        ("=?iso-8859-1?q?Gr=FC=DFe?=", "[team] Grüße"),
        ("=?utf-8?b?R3LDvMOfZQ==?= aus =?x-unknown?q?K=F6ln?=", "[team] Grüße aus Köln"),
        ("", "[team] (no subject)"),
        ("   ", "[team] (no subject)"),
    ],
)
def test_prefix_added_once(subject: str, expected: str) -> None:
    out = decorate(message("From: a@example.com", f"Subject: {subject}"), LST)
    assert subject_of(out) == expected
    assert head(out).isascii()


@pytest.mark.parametrize(
    "subject",
    [
        "[team] Hello",
        "Re: [team] Hello",
        "RE: [TEAM] Hello",
        "Re: Re: [Team] x",
        "Fwd: news [team]",
        "=?utf-8?q?Re=3A_=5Bteam=5D_Gr=C3=BC=C3=9Fe?=",
        "=?iso-8859-1?q?AW=3A_=5BTeam=5D_=FCber?=",
    ],
)
def test_existing_prefix_leaves_subject_byte_for_byte(subject: str) -> None:
    raw = message("From: a@example.com", f"Subject: {subject}", "X-After: 1")
    out = decorate(raw, LST)
    assert f"Subject: {subject}\r\nX-After: 1\r\n".encode() in out
    assert subject_of(out).casefold().count("[team]") == 1


def test_missing_subject_gets_one() -> None:
    out = decorate(message("From: a@example.com"), LST)
    assert subject_of(out) == "[team] (no subject)"


@pytest.mark.parametrize("raw_subject", ["Grüße aus Köln".encode(), b"Gr\xfc\xdfe aus K\xf6ln"])
def test_8bit_subject_is_prefixed_encoded_and_stays_in_place(raw_subject: bytes) -> None:
    raw = b"Subject: " + raw_subject + b"\r\nFrom: a@example.com\r\n\r\nHi\r\n"
    out = decorate(raw, LST)
    assert head(out).split(b"\r\n")[0].startswith(b"Subject: [team] =?utf-8?")
    assert head(out).isascii()
    assert subject_of(out) == "[team] Grüße aus Köln"
    assert list(read(out).keys())[:2] == ["Subject", "From"]


def test_long_subject_is_folded_and_reads_back() -> None:
    words = " ".join(["Grüße"] + [f"word{i}" for i in range(40)])
    out = decorate(message(f"Subject: {words}"), LST)
    fields = head(out).split(b"\r\n")
    assert all(len(line) <= 78 for line in fields if not line.startswith(b"List-"))
    assert subject_of(out) == "[team] " + words


def test_empty_prefix_leaves_subject_alone() -> None:
    lst = ListInfo(id=1, local="team", domain="example.org", subject_prefix="")
    raw = message("Subject: =?utf-8?q?caf=C3=A9?=")
    assert b"Subject: =?utf-8?q?caf=C3=A9?=\r\n" in decorate(raw, lst)
    custom = ListInfo(id=1, local="team", domain="example.org", subject_prefix="(T)")
    assert subject_of(decorate(raw, custom)) == "(T) café"


# --- footer on text/plain -------------------------------------------------------------


def test_plain_body_gets_footer_appended() -> None:
    out = decorate(PLAIN, LST)
    assert body(out) == b"Hello.\r\n\r\n" + FOOTER.encode() + b"\r\n"
    assert texts(read(out)) == [f"Hello.\n\n{FOOTER}\n"]


def test_no_footer_no_change_to_body() -> None:
    assert body(decorate(PLAIN, BARE)) == b"Hello.\r\n"


def test_utf8_body_and_non_ascii_footer() -> None:
    lst = ListInfo(id=1, local="team", domain="example.org", footer="Grüße vom Team")
    raw = message(
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        body="Schöne Grüße\r\n".encode(),
    )
    out = decorate(raw, lst)
    assert body(out) == "Schöne Grüße\r\n\r\nGrüße vom Team\r\n".encode()
    assert b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n" in out


def test_ascii_body_and_non_ascii_footer_switches_to_utf8() -> None:
    lst = ListInfo(id=1, local="team", domain="example.org", footer="Grüße vom Team")
    raw = message("Subject: x", "Content-Type: text/plain; charset=us-ascii; format=flowed")
    msg = read(decorate(raw, lst))
    assert msg.get_content_charset() == "utf-8"
    assert msg["Content-Type"].params["format"] == "flowed"
    assert msg["Content-Transfer-Encoding"] == "8bit"
    assert msg["MIME-Version"] == "1.0"
    assert texts(msg) == ["Hello.\n\nGrüße vom Team\n"]
    no_type = read(decorate(message("Subject: x"), lst))
    assert no_type.get_content_type() == "text/plain"
    assert texts(no_type) == ["Hello.\n\nGrüße vom Team\n"]


def test_quoted_printable_body() -> None:
    lst = ListInfo(id=1, local="team", domain="example.org", footer="Grüße – das Team")
    raw = message(
        "Content-Type: text/plain; charset=iso-8859-1",
        "Content-Transfer-Encoding: quoted-printable",
        body=b"Sch=F6ne Gr=FC=DFe, eine sehr lange Zeile=\r\n die weitergeht\r\n",
    )
    msg = read(decorate(raw, lst))
    assert msg["Content-Transfer-Encoding"] == "quoted-printable"
    assert msg.get_content_charset() == "utf-8"
    [text] = texts(msg)
    assert text == "Schöne Grüße, eine sehr lange Zeile die weitergeht\n\nGrüße – das Team\n"


def test_base64_body() -> None:
    text = "Schöne Grüße\r\nzweite Zeile\r\n"
    raw = message(
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: base64",
        body=base64.encodebytes(text.encode()),
    )
    out = decorate(raw, LST)
    msg = read(out)
    assert msg["Content-Transfer-Encoding"] == "base64"
    assert texts(msg) == [f"Schöne Grüße\nzweite Zeile\n\n{FOOTER}\n"]
    assert base64.b64decode(body(out)).endswith(f"\r\n\r\n{FOOTER}\r\n".encode())


def test_latin1_body() -> None:
    raw = message(
        "Content-Type: text/plain; charset=ISO-8859-1",
        "Content-Transfer-Encoding: 8bit",
        body=b"Gr\xfc\xdfe\r\n",
    )
    out = decorate(raw, LST)
    assert body(out) == b"Gr\xfc\xdfe\r\n\r\n" + FOOTER.encode() + b"\r\n"  # fits: appended
    assert texts(read(out)) == [f"Grüße\n\n{FOOTER}\n"]
    euro = ListInfo(id=1, local="team", domain="example.org", footer="Beitrag: 5 €")
    msg = read(decorate(raw, euro))  # € is not Latin-1: re-encoded as UTF-8
    assert msg.get_content_charset() == "utf-8"
    assert texts(msg) == ["Grüße\n\nBeitrag: 5 €\n"]


def test_footer_appears_once_after_body_without_final_newline() -> None:
    out = decorate(message("Subject: x", body=b"no newline"), LST)
    assert body(out) == b"no newline\r\n\r\n" + FOOTER.encode() + b"\r\n"


def test_text_attachment_is_wrapped_not_appended() -> None:
    raw = message("Content-Type: text/plain", 'Content-Disposition: attachment; filename="a.txt"')
    msg = read(decorate(raw, LST))
    assert msg.get_content_type() == "multipart/mixed"
    assert [p.get_content_disposition() for p in msg.iter_parts()] == ["attachment", "inline"]


# --- footer on other types ------------------------------------------------------------

MIXED = message(
    "From: a@example.com",
    "Subject: files",
    "MIME-Version: 1.0",
    'Content-Type: multipart/mixed; boundary="outer"',
    body=b"preamble\r\n--outer\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n"
    b"--outer\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    b"JVBERi0=\r\n--outer--\r\nepilogue\r\n",
)


def test_multipart_mixed_gets_an_extra_part() -> None:
    out = decorate(MIXED, LST)
    msg = read(out)
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "application/pdf", "text/plain"]
    assert text(parts[2]) == FOOTER + "\n"
    assert parts[2].get_content_disposition() == "inline"
    original = body(MIXED)
    close = original.index(b"\r\n--outer--")
    assert body(out).startswith(original[:close])
    assert body(out).endswith(original[close:])
    assert msg.defects == []


def test_multipart_mixed_with_non_ascii_footer() -> None:
    lst = ListInfo(id=1, local="team", domain="example.org", footer="Grüße\n" + "x" * 200)
    msg = read(decorate(MIXED, lst))
    assert texts(msg)[-1] == "Grüße\n" + "x" * 200 + "\n"


def test_multipart_mixed_without_closing_delimiter_gets_no_footer() -> None:
    raw = MIXED.replace(b"--outer--", b"--outer")
    out = decorate(raw, LST)
    assert body(out) == body(raw)
    assert b"boundary=" not in head(out).replace(b'boundary="outer"', b"")


def test_multipart_mixed_without_boundary_gets_no_footer() -> None:
    raw = MIXED.replace(b'; boundary="outer"', b"")
    assert body(decorate(raw, LST)) == body(raw)


def assert_wrapped(raw: bytes, out: bytes) -> EmailMessage:
    """`out` is multipart/mixed of [the original part byte for byte, the footer]."""
    msg = read(out)
    assert msg.get_content_type() == "multipart/mixed"
    assert msg["MIME-Version"] == "1.0"
    boundary = msg.get_boundary()
    assert boundary is not None
    delimiter = b"--" + boundary.encode()
    chunks = body(out).split(b"\r\n" + delimiter)
    content = re.findall(rb"(?mi)^content-.*\r\n(?:[ \t].*\r\n)*", head(raw))
    first = chunks[0].removeprefix(delimiter + b"\r\n")
    assert first == b"".join(content) + b"\r\n" + body(raw)
    assert texts(msg)[-1] == FOOTER + "\n"
    assert re.findall(rb"(?mi)^content-.*$", head(out)) == [
        f'Content-Type: multipart/mixed; boundary="{boundary}"\r'.encode()
    ]
    return msg


def test_text_html_is_wrapped() -> None:
    raw = message("Subject: x", "Content-Type: text/html; charset=utf-8", body=b"<p>Hello</p>\r\n")
    msg = assert_wrapped(raw, decorate(raw, LST))
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/html", "text/plain"]


def test_multipart_alternative_is_wrapped() -> None:
    raw = message(
        "Subject: x",
        "MIME-Version: 1.0",
        'Content-Type: multipart/alternative; boundary="alt"',
        body=b"--alt\r\nContent-Type: text/plain\r\n\r\nHi\r\n--alt\r\n"
        b"Content-Type: text/html\r\n\r\n<p>Hi</p>\r\n--alt--\r\n",
    )
    msg = assert_wrapped(raw, decorate(raw, LST))
    inner = next(msg.iter_parts())
    assert [p.get_content_type() for p in inner.iter_parts()] == ["text/plain", "text/html"]


SIGNED_PART = (
    b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n"
    b"\r\nSigned text =C3=BC \r\n-- \r\nsig\r\n"
)
SIGNED = message(
    "From: a@example.com",
    "Subject: [team] signed",
    "MIME-Version: 1.0",
    "Content-Type: multipart/signed; micalg=pgp-sha256;",
    '\tprotocol="application/pgp-signature"; boundary="sig"',
    body=b"--sig\r\n" + SIGNED_PART + b"\r\n--sig\r\nContent-Type: application/pgp-signature\r\n"
    b"\r\n-----BEGIN PGP SIGNATURE-----\r\nxyz\r\n-----END PGP SIGNATURE-----\r\n--sig--\r\n",
)


@pytest.mark.parametrize("kind", ["multipart/signed", "Multipart/SIGNED"])
def test_signed_part_is_byte_identical(kind: str) -> None:
    raw = SIGNED.replace(b"multipart/signed", kind.encode())
    out = decorate(raw, LST)
    msg = assert_wrapped(raw, out)
    assert b"--sig\r\n" + SIGNED_PART + b"\r\n--sig\r\n" in out
    assert next(msg.iter_parts()).get_content_type() == "multipart/signed"
    assert subject_of(out) == "[team] signed"


@pytest.mark.parametrize(
    "ctype", ["application/pkcs7-mime; smime-type=enveloped-data", "multipart/encrypted"]
)
def test_encrypted_is_wrapped(ctype: str) -> None:
    raw = message(
        f"Content-Type: {ctype}",
        "Content-Transfer-Encoding: base64",
        body=b"MIAGCSqGSIb3DQEHA6CAMIACAQA=\r\n",
    )
    assert_wrapped(raw, decorate(raw, LST))


def test_wrap_boundary_does_not_occur_in_the_body() -> None:
    out = decorate(SIGNED, LST)
    boundary = read(out).get_boundary()
    assert boundary is not None
    assert body(out).count(boundary.encode()) == 3


# --- untouched bytes ------------------------------------------------------------------

UNTOUCHED = (
    b"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s1;\r\n"
    b"\th=from:to:subject:date; bh=abc=;\r\n"
    b"\tb=AAAABBBBCCCC\r\n"
    b"References: <" + b"a" * 60 + b"@example.com>\r\n <" + b"b" * 60 + b"@example.com>\r\n"
    b"\t<c@example.com>\r\n"
    b"X-Foo: \xc3\xbcmlaut \xfc\r\n"
    b"Received: from x\r\n    by y\r\n"
)


@pytest.mark.parametrize("lst", [LST, BARE])
def test_other_headers_are_byte_identical(lst: ListInfo) -> None:
    raw = b"From: a@example.com\r\nSubject: hi\r\n" + UNTOUCHED + b"\r\nbody\r\n"
    out = decorate(raw, lst)
    assert UNTOUCHED in out
    lf = decorate(raw.replace(b"\r\n", b"\n"), lst)
    assert UNTOUCHED in lf
    assert_crlf(lf)


@pytest.mark.parametrize("raw", [PLAIN, MIXED, SIGNED])
def test_lf_only_input_comes_out_crlf(raw: bytes) -> None:
    out = decorate(raw.replace(b"\r\n", b"\n"), LST)
    assert_crlf(out)
    if raw is not SIGNED:  # wrapping picks a random boundary
        assert out == decorate(raw, LST)


# --- junk -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        (b"", b""),
        (b"Subject: only headers", b""),
        (b"just a body\nwith no headers\n", b"just a body\r\nwith no headers\r\n"),
        (b"\nbody after a blank line\n", b"body after a blank line\r\n"),
        (b"Subject: x\nnot a header line\nmore\n", b"not a header line\r\nmore\r\n"),
        (
            message("Content-Type: text/plain; charset=x-unknown", body=b"caf\xe9\r\n"),
            b"caf\xe9\r\n",
        ),
        (
            message(
                "Content-Type: text/plain; charset=x-unknown",
                "Content-Transfer-Encoding: base64",
                body=b"Y2Fm6Q==\r\n",
            ),
            b"Y2Fm6Q==\r\n",
        ),
        (
            message("Content-Transfer-Encoding: base64", body=b"%%%not base64\r\n"),
            b"%%%not base64\r\n",
        ),
        (
            message("Content-Transfer-Encoding: x-uuencode", body=b"begin 644 a\r\n"),
            b"begin 644 a\r\n",
        ),
        (
            message("Content-Type: multipart/mixed; boundary=", body=b"--\r\n--\r\n"),
            b"--\r\n--\r\n",
        ),
        (
            message('Content-Type: multipart/mixed; boundary="b"', body=b"--b\r\nno end\r\n"),
            b"--b\r\nno end\r\n",
        ),
        (message("Content-Type: garbage", body=b"\x00\xff\r\n"), b"\x00\xff\r\n"),
        (
            b"Subject: =?utf-8?b?###?= =?x-unknown?q?=FF?=\r\nX: \xff\r\n\r\nHello.\r\n",
            b"Hello.\r\n",
        ),
    ],
)
@pytest.mark.parametrize("lst", [LST, BARE])
def test_junk_never_raises_and_keeps_the_body(raw: bytes, kept: bytes, lst: ListInfo) -> None:
    out = decorate(raw, lst)
    assert kept in out
    assert read(out)["List-Id"] is not None
    assert_crlf(out)


def test_undeclared_8bit_body_with_non_ascii_footer_is_wrapped() -> None:
    lst = ListInfo(id=1, local="team", domain="example.org", footer="Grüße")
    raw = message("Subject: x", body=b"caf\xe9\r\n")
    out = decorate(raw, lst)
    assert read(out).get_content_type() == "multipart/mixed"
    assert b"\r\n\r\ncaf\xe9\r\n\r\n--=_listfed" in out


def test_huge_header_block() -> None:
    raw = b"".join(b"X-Junk-%d: %s\r\n" % (i, b"v" * 50) for i in range(20000)) + PLAIN
    out = decorate(raw, LST)
    assert out.count(b"X-Junk-") == 20000
    assert b"Hello.\r\n" in out


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


HEADER_LINES = st.sampled_from(
    [
        b"Subject: x",
        b"Subject: =?utf-8?q?=C3?=",
        b"Subject: [team] re",
        b"Content-Type: text/plain",
        b'Content-Type: text/plain; charset="x-unknown"',
        b"Content-Type: text/plain; charset=utf-16",
        b"Content-Type: multipart/mixed; boundary=b",
        b"Content-Type: multipart/signed; boundary=b",
        b"Content-Type: text/html",
        b"Content-Transfer-Encoding: base64",
        b" folded",
        b"Content-Transfer-Encoding: quoted-printable",
        b"Content-Type: text/plain; charset=idna",
        b"Content-Type: text/plain; charset=iso-2022-jp",
        b"X-8bit: \xff\xfe",
        b"no header",
        b"List-Id: <x.y>",
        b"MIME-Version: 2",
        b"Content-Type: text/plain; charset=utf-7",
    ]
)
BODIES = st.one_of(
    st.binary(),
    st.lists(st.sampled_from([b"--b", b"--b--", b"=FF=", b"4pyTIMOgIGxh", b"\xff", b"", b"a"])).map(
        b"\n".join
    ),
)
LISTS = st.builds(
    ListInfo,
    id=st.just(1),
    local=st.just("team"),
    domain=st.just("example.org"),
    description=st.text(max_size=100),
    subject_prefix=st.none() | st.text(max_size=10),
    footer=st.text(max_size=100) | st.just("Grüße €"),
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(
    headers=st.lists(HEADER_LINES, max_size=6),
    sep=st.sampled_from([b"\r\n", b"\n"]),
    blank=st.booleans(),
    body=BODIES,
    lst=LISTS,
)
def test_decorate_never_raises(
    headers: list[bytes], sep: bytes, blank: bool, body: bytes, lst: ListInfo
) -> None:
    raw = sep.join(headers) + (sep + sep if blank else sep) + body
    errors = _Errors()
    logger = logging.getLogger("listfed.delivery")
    logger.addHandler(errors)
    try:
        out = decorate(raw, lst)
    finally:
        logger.removeHandler(errors)
    assert errors.records == []
    if not lst.footer.strip():  # nothing to add: the body passes through
        assert crlf(RawMessage.parse(raw).body).rstrip(b"\r\n") in out
    assert re.findall(rb"(?im)^List-Id:", head(out)) == [b"List-Id:"]
    assert_crlf(out)
    read(out)


@given(raw=st.binary(), lst=LISTS)
def test_decorate_never_raises_on_random_bytes(raw: bytes, lst: ListInfo) -> None:
    out = decorate(raw, lst)
    assert b"\r\nList-Id: " in out or out.startswith(b"List-Id: ")


def test_a_body_in_a_charset_that_is_no_charset_is_not_decoded() -> None:
    """charset=punycode decodes in time quadratic in the body (issue 16): the footer goes
    in its own part instead, and the post is decorated at once."""
    body = b"a" * 500_000 + b"-" + b"b" * 500_000
    raw = message(
        "From: a@example.com",
        "To: team@example.org",
        "Subject: Hi",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=punycode",
        "Content-Transfer-Encoding: quoted-printable",
        body=body,
    )
    start = time.process_time()
    out = decorate(raw, LST)
    assert time.process_time() - start < 1.0
    assert FOOTER.encode() in out and body in out


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Re: [team] Re: [team] Budget", "[team] Re: Budget"),
        ("RE: [Team] AW: [team]  Budget", "[team] Re: Budget"),
        ("[team] [team] Budget", "[team] Budget"),
        ("Re: [team] Budget", "Re: [team] Budget"),  # once: left as it is
        ("Budget", "[team] Budget"),
    ],
)
def test_a_doubled_prefix_is_collapsed_to_one(subject: str, expected: str) -> None:
    assert subject_of(decorate(message(f"Subject: {subject}"), LST)) == expected


def test_footer_placeholders_are_filled() -> None:
    lst = ListInfo(
        id=1,
        local="team",
        domain="example.org",
        footer="$list: leave by writing to $leave; owners: $owner; archive: $archive; $5",
    )
    out = decorate(message("Subject: Hi"), lst, base_url="https://lists.example.org")
    assert (
        "team@example.org: leave by writing to team-leave@example.org; owners: "
        "team-owner@example.org; archive: https://lists.example.org/team@example.org/; $5"
    ) in body(out).decode()

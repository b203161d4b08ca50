"""The raw header editor: untouched bytes stay, edited fields come out well-formed."""

from __future__ import annotations

import re

from hypothesis import assume, given
from hypothesis import strategies as st

from listfed.mail.message import parse
from listfed.mail.rawmail import RawMessage, crlf, decode_words, encode_value, fold, without
from listfed.mail.text import extract

RAW = (
    b"Received: from a\r\n\tby b; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
    b"Subject: =?iso-8859-1?q?Gr=FC=DFe?= aus\r\n =?utf-8?q?K=C3=B6ln?=\r\n"
    b"X-Foo: \xc3\xbcmlaut\r\n"
    b"x-foo: second\r\n"
    b"\r\n"
    b"Body line\r\n\r\nSubject: not a header\r\n"
)


def test_round_trip_is_byte_identical() -> None:
    msg = RawMessage.parse(RAW)
    assert [name for name, _ in msg.fields] == ["Received", "Subject", "X-Foo", "x-foo"]
    assert msg.body == b"Body line\r\n\r\nSubject: not a header\r\n"
    assert msg.to_bytes() == RAW


def test_lf_input_leaves_as_crlf() -> None:
    raw = RAW.replace(b"\r\n", b"\n")
    out = RawMessage.parse(raw).to_bytes()
    assert out == RAW
    assert b"\n" not in out.replace(b"\r\n", b"")


def test_get_unfolds_and_decodes() -> None:
    msg = RawMessage.parse(RAW)
    assert msg.get("received") == "from a\tby b; Mon, 1 Jan 2024 00:00:00 +0000"
    assert msg.get("X-FOO") == "ümlaut"
    assert msg.get_all("x-foo") == ["ümlaut", "second"]
    assert msg.get_decoded("Subject") == "Grüße aus Köln"
    assert msg.get("Missing") is None
    assert msg.get_decoded("Missing") is None


def test_get_keeps_undecodable_bytes_as_surrogates_and_decodes_latin1() -> None:
    msg = RawMessage.parse(b"X-Bad: caf\xe9\r\n\r\n")
    assert msg.get("X-Bad") == "caf\udce9"
    assert msg.get_decoded("X-Bad") == "café"


def test_remove_append_replace() -> None:
    msg = RawMessage.parse(RAW)
    assert msg.remove("X-FOO") == 2
    assert msg.remove("X-Foo") == 0
    msg.replace("subject", "new")
    assert msg.fields[1] == ("subject", b"subject: new")
    msg.append("X-New", "Grüße")
    assert msg.get_decoded("X-New") == "Grüße"
    assert msg.fields[-1][1].isascii()
    msg.replace("X-Absent", "at the end")
    assert msg.fields[-1] == ("X-Absent", b"X-Absent: at the end")


def test_replace_removes_duplicates_keeping_the_first_position() -> None:
    msg = RawMessage.parse(b"A: 1\r\nB: 1\r\nA: 2\r\n\r\n")
    msg.replace("a", "3")
    assert msg.to_bytes() == b"a: 3\r\nB: 1\r\n\r\n"


def test_long_values_are_folded_and_unfold_to_the_same_text() -> None:
    value = " ".join(f"word{i}" for i in range(60))
    raw = fold("X-Long", value)
    assert all(len(line) <= 78 for line in raw.split(b"\r\n"))
    msg = RawMessage.parse(raw + b"\r\n\r\n")
    assert msg.get("X-Long") == value


def test_control_characters_cannot_inject_fields() -> None:
    msg = RawMessage()
    msg.append("Subject", "hi\r\nBcc: victim@example.org")
    assert b"\n" not in msg.fields[0][1]
    assert RawMessage.parse(msg.to_bytes()).get("Bcc") is None


def test_no_blank_line() -> None:
    assert RawMessage.parse(b"Subject: x").fields == [("Subject", b"Subject: x")]
    body_only = RawMessage.parse(b"just text\nSubject: y\n")
    assert body_only.fields == []
    assert body_only.body == b"just text\nSubject: y\n"
    mixed = RawMessage.parse(b"Subject: x\nnot a header\n")
    assert mixed.body == b"not a header\n"
    assert mixed.to_bytes() == b"Subject: x\r\n\r\nnot a header\r\n"
    assert RawMessage.parse(b" continued\nA: b\n").fields == [("A", b"A: b")]  # see below
    assert RawMessage.parse(b" indented\nbody\n").body == b" indented\nbody\n"
    assert RawMessage.parse(b"").to_bytes() == b"\r\n"
    assert RawMessage.parse(b"\nbody").to_bytes() == b"\r\nbody\r\n"


STRAY = (
    b" stray continuation line\r\n\tand another\r\n"
    b"From: Ann <ann@example.net>\r\n"
    b"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
    b"Message-ID: <stray@example.net>\r\n"
    b"Subject: hello\r\n"
    b"\r\n"
    b"Body.\r\n"
)


def test_continuation_lines_before_the_first_field_are_dropped_as_mail_programs_do() -> None:
    msg = RawMessage.parse(STRAY)
    assert [name for name, _ in msg.fields] == ["From", "Date", "Message-ID", "Subject"]
    assert msg.body == b"Body.\r\n"
    assert msg.to_bytes() == STRAY.split(b"\r\n", 2)[2]
    # Every reader in mail/ agrees: the pipeline's and the archive's.
    parsed = parse(STRAY)
    assert (parsed.message_id, parsed.sender, parsed.date) == (
        "stray@example.net",
        "ann@example.net",
        1704103200.0,
    )
    assert not parsed.generated_id
    ex = extract(STRAY)
    assert (ex.message_id, ex.sender, ex.date) == (
        "stray@example.net",
        "ann@example.net",
        1704103200.0,
    )


def test_decode_words_is_lenient() -> None:
    assert decode_words(b"=?utf-8?q?=C3?= =?utf-8?q?=BC?=") == "ü"  # split character
    assert decode_words(b"=?x-unknown?q?caf=C3=A9?=") == "café"
    assert decode_words(b"=?x-unknown?q?caf=E9?=") == "café"
    assert decode_words(b"a =?utf-8?q?b?= c") == "a b c"
    assert decode_words(b"=?utf-8?b?w7w?=") == "ü"  # missing padding
    assert decode_words(b"=?utf-8*en?q?x?=") == "x"


@given(st.text())
def test_encoded_values_decode_back(text: str) -> None:
    value = encode_value(text)
    assert value.isascii()
    unfolded = RawMessage.parse(fold("X", value) + b"\r\n\r\n").get("X") or ""
    expected = re.sub(r"[\x00-\x08\x0a-\x1f\x7f]", " ", text)  # controls become blanks
    assert " ".join(decode_words(unfolded.encode()).split()) == " ".join(expected.split())


@given(st.binary())
def test_parse_never_raises_and_keeps_bytes(raw: bytes) -> None:
    msg = RawMessage.parse(raw)
    out = msg.to_bytes()
    assert crlf(msg.body).rstrip(b"\r\n") in out
    for _, field in msg.fields:
        assert crlf(field) in out


def test_without_takes_out_every_such_field_and_keeps_every_other_byte() -> None:
    raw = (
        b"X-Listfed-Signature: v=2; n=a; t=1;\n s=AAAA\n"
        b"Subject: hi\r\n"
        b"x-listfed-signature : v=1; n=b\r\n"
        b"X-Foo: keep\n\tfolded\n"
        b"\n"
        b"X-Listfed-Signature: in the body\n"
    )
    out = without(raw, "X-Listfed-Signature")
    assert out == b"Subject: hi\r\nX-Foo: keep\n\tfolded\n\nX-Listfed-Signature: in the body\n"
    assert without(RAW, "X-Listfed-Signature") is RAW  # none: the very same bytes
    assert without(RAW, "x-foo") == RAW.replace(b"X-Foo: \xc3\xbcmlaut\r\nx-foo: second\r\n", b"")


def test_without_a_last_field_and_no_body() -> None:
    assert without(b"Subject: a\r\nX-Gone: b", "X-Gone") == b"Subject: a\r\n"
    assert without(b"Subject: a\r\nX-Gone: b\r\n", "X-Gone") == b"Subject: a\r\n"
    assert without(b"X-Gone: b\r\nnot a header\r\n", "X-Gone") == b"not a header\r\n"
    assert without(b" stray\r\nX-Gone: b\r\n\r\nbody", "X-Gone") == b" stray\r\n\r\nbody"


@given(st.binary(), st.sampled_from(["Subject", "X-Foo", "From"]))
def test_without_reads_the_fields_as_parse_does(raw: bytes, name: str) -> None:
    # (stray lines before the first field are kept, and read as body if no field is left)
    assume(not raw.startswith((b" ", b"\t")))
    before, after = RawMessage.parse(raw), RawMessage.parse(without(raw, name))
    assert after.fields == [(n, f) for n, f in before.fields if n.lower() != name.lower()]
    assert after.body == before.body

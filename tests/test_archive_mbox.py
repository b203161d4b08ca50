"""mbox reading (classic, pipermail, HyperKitty, damaged files) and mboxrd round trips."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from listfed.archive.mbox import (
    Entry,
    MboxError,
    mboxrd_escape,
    mboxrd_unescape,
    read_mbox,
    read_stream,
    write_entry,
)

THREE = (
    b"From alice@example.org Mon Mar  4 10:00:00 2019\n"
    b"From: alice@example.org\nSubject: one\n\nFirst body.\n\n"
    b"From bob@example.org Tue Mar  5 11:30:15 2019\n"
    b"From: bob@example.org\nSubject: two\n\nSecond body.\n>From the archive\n\n"
    b"From carol@example.org Wed Mar  6 12:00:00 2019\n"
    b"From: carol@example.org\nSubject: three\n\nThird body.\n"
)

PIPERMAIL = (
    b"From alice at example.org  Mon Mar  4 10:00:00 2019\n"
    b"From: alice at example.org (Alice)\nDate: Mon, 04 Mar 2019 10:00:00 +0000\n"
    b"Subject: [Test] Hello\nMessage-ID: <1@example.org>\n\nHello all.\n\n"
    b"From bob at example.org  Mon Mar  4 11:00:00 2019\n"
    b"From: bob at example.org (Bob)\nSubject: Re: [Test] Hello\n"
    b"In-Reply-To: <1@example.org>\nMessage-ID: <2@example.org>\n\nHi.\n\n"
)

HYPERKITTY = (
    b"From alice@example.org Thu Mar 14 17:18:08 2019\n"
    b"Return-Path: <alice@example.org>\nFrom: Alice <alice@example.org>\n"
    b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\nMessage-ID-Hash: ABCDEF\n"
    b"Content-Type: text/plain; charset=utf-8\n\n\xc3\xa4 body\n\n"
    b"From 1628465421936520916@xxx Thu Mar 14 17:18:08 +0000 2019\n"
    b"X-GM-THRID: 1628465421936520916\nFrom: bob@example.org\nSubject: takeout\n\nbody\n\n"
)


def write(tmp_path: Path, data: bytes, name: str = "archive.mbox") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_three_messages(tmp_path: Path) -> None:
    entries = list(read_mbox(write(tmp_path, THREE)))
    assert [e.number for e in entries] == [1, 2, 3]
    assert [e.error for e in entries] == ["", "", ""]
    assert [e.envelope_sender for e in entries] == [
        "alice@example.org",
        "bob@example.org",
        "carol@example.org",
    ]
    assert entries[0].envelope_date == 1551693600.0
    assert entries[0].raw == b"From: alice@example.org\nSubject: one\n\nFirst body.\n"
    assert entries[1].raw.endswith(b"\nFrom the archive\n")  # one '>' removed
    assert entries[2].raw.endswith(b"Third body.\n")
    for entry in entries:
        assert THREE[entry.offset : entry.offset + 5] == b"From "
    assert entries[1].offset == THREE.index(b"From bob@")


def test_mboxrd_quoting_round_trip(tmp_path: Path) -> None:
    raws = [
        b"Subject: quotes\n\nFrom here\n>From there\n>>From everywhere\nFrom\n>From\n",
        b"Subject: crlf\r\n\r\nFrom a CRLF line\r\n>From another\r\n\r\n",
        b"Subject: ends with blank lines\n\nbody\n\n\n",
        b"From: first header line quoted\nSubject: x\n\nbody\n",
    ]
    path = tmp_path / "out.mbox"
    with path.open("wb") as out:
        for i, raw in enumerate(raws):
            write_entry(out, raw, f"u{i}@example.org", 1551693600 + i)
    data = path.read_bytes()
    assert b"\n>From here\n>>From there\n>>>From everywhere\nFrom\n>From\n" in data
    assert data.startswith(b"From u0@example.org Mon Mar  4 10:00:00 2019\n")
    entries = list(read_mbox(path))
    assert [e.raw for e in entries] == raws
    assert [e.envelope_date for e in entries] == [1551693600 + i for i in range(4)]


def test_last_line_without_newline_gets_one(tmp_path: Path) -> None:
    """The documented exception to byte-identical round trips."""
    out = io.BytesIO()
    write_entry(out, b"Subject: a\n\nno newline", "", 0)
    write_entry(out, b"Subject: b\r\n\r\nno newline either\r", "x@example.org", 0)
    assert out.getvalue().startswith(b"From MAILER-DAEMON Thu Jan  1 00:00:00 1970\n")
    entries = list(read_stream(io.BytesIO(out.getvalue())))
    assert [e.raw for e in entries] == [
        b"Subject: a\n\nno newline\n",
        b"Subject: b\r\n\r\nno newline either\r\n",
    ]


def test_escape_functions() -> None:
    raw = b"From a\n>From b\nxFrom c\n >From d\n>>>From e"
    escaped = mboxrd_escape(raw)
    assert escaped == b">From a\n>>From b\nxFrom c\n >From d\n>>>>From e"
    assert mboxrd_unescape(escaped) == raw


def test_pipermail_gzipped(tmp_path: Path) -> None:
    # the name says .txt, the bytes say gzip: the bytes win
    entries = list(read_mbox(write(tmp_path, gzip.compress(PIPERMAIL), "2019-March.txt")))
    assert [e.error for e in entries] == ["", ""]
    assert [e.envelope_sender for e in entries] == ["alice@example.org", "bob@example.org"]
    assert entries[1].envelope_date == 1551697200.0
    assert entries[1].raw.endswith(b"Message-ID: <2@example.org>\n\nHi.\n")
    assert entries[1].offset == PIPERMAIL.index(b"From bob")


def test_hyperkitty_and_takeout_separators(tmp_path: Path) -> None:
    entries = list(read_mbox(write(tmp_path, HYPERKITTY)))
    assert [e.error for e in entries] == ["", ""]
    assert entries[0].raw.endswith(b"\xc3\xa4 body\n")
    assert entries[1].envelope_sender == "1628465421936520916@xxx"
    assert entries[1].envelope_date == entries[0].envelope_date == 1552583888.0


def test_body_line_from_without_date_does_not_split(tmp_path: Path) -> None:
    data = (
        b"From alice@example.org Mon Mar  4 10:00:00 2019\n"
        b"Subject: opinions\n\nHello,\n\nFrom my point of view, this is fine.\n\n"
        b"From the desk of Alice\n"
    )
    (entry,) = read_mbox(write(tmp_path, data))
    assert entry.raw.endswith(
        b"\n\nFrom my point of view, this is fine.\n\nFrom the desk of Alice\n"
    )


def test_separator_without_blank_line(tmp_path: Path) -> None:
    data = (
        b"From alice@example.org Mon Mar  4 10:00:00 2019\nSubject: one\n\nbody one\n"
        b"From bob@example.org Mon Mar  4 10:05:00 2019\nSubject: two\n\nbody two\n"
        # without a blank line before it, a loose date is not enough
        b"From there at 10:30 in 2019 we went on\n"
    )
    entries = list(read_mbox(write(tmp_path, data)))
    assert [e.raw for e in entries] == [
        b"Subject: one\n\nbody one\n",
        b"Subject: two\n\nbody two\nFrom there at 10:30 in 2019 we went on\n",
    ]


def test_damaged_entry_in_the_middle(tmp_path: Path) -> None:
    junk = bytes(range(256)).replace(b"\n", b"") * 3
    data = (
        b"From a@example.org Mon Mar  4 10:00:00 2019\nSubject: one\n\nok\n\n"
        b"From b@example.org Mon Mar  4 10:01:00 2019\n" + junk + b"\n\x00\x00\n\n"
        b"From c@example.org Mon Mar  4 10:02:00 2019\n\nno headers at all\n\n"
        b"From d@example.org Mon Mar  4 10:03:00 2019\nSubject: four\n\nok\n\n"
    )
    entries = list(read_mbox(write(tmp_path, data)))
    assert [e.number for e in entries] == [1, 2, 3, 4]
    assert entries[1].error.startswith("not a mail message (line 1: ")
    assert entries[2].error == "no headers"
    assert [e.raw for e in entries[1:3]] == [b"", b""]
    assert [e.error for e in (entries[0], entries[3])] == ["", ""]
    assert entries[3].raw == b"Subject: four\n\nok\n"


def test_oversized_entry_is_skipped(tmp_path: Path) -> None:
    big = b"Subject: big\n\n" + b"x" * 80 + b"\n" * 200
    data = b"".join(
        b"From a@example.org Mon Mar  4 10:00:00 2019\n" + raw + b"\n"
        for raw in (b"Subject: small\n\nok\n", big, b"Subject: small\n\nok\n")
    )
    entries = list(read_mbox(write(tmp_path, data), max_size=200))
    assert [bool(e.error) for e in entries] == [False, True, False]
    assert entries[1].error == "message over 200 bytes"
    assert entries[1].raw == b""


def test_truncated_gzip(tmp_path: Path) -> None:
    whole = gzip.compress(THREE * 200)
    entries = list(read_mbox(write(tmp_path, whole[: len(whole) // 2], "cut.mbox.gz")))
    assert len(entries) > 10
    assert all(e.error == "" for e in entries[:-1])
    assert entries[-1].error.startswith("file ends early")
    assert entries[-1].raw == b""
    assert [e.number for e in entries] == list(range(1, len(entries) + 1))


def test_empty_file(tmp_path: Path) -> None:
    assert list(read_mbox(write(tmp_path, b""))) == []
    assert list(read_mbox(write(tmp_path, b"\n\n", "blank.mbox"))) == []
    assert list(read_mbox(write(tmp_path, gzip.compress(b""), "empty.mbox.gz"))) == []


def test_not_an_mbox(tmp_path: Path) -> None:
    path = write(tmp_path, b"From: alice@example.org\nSubject: an .eml file\n\nhi\n", "a.eml")
    with pytest.raises(MboxError, match=r"a\.eml: not an mbox file: .*'From: alice"):
        list(read_mbox(path))
    with pytest.raises(MboxError, match="cannot open"):
        list(read_mbox(tmp_path / "missing.mbox"))


def test_leading_blank_lines_and_loose_first_separator() -> None:
    data = b"\n\nFrom - Mon, 4 Mar 2019 10:00:00 +0100\nSubject: x\n\nbody\n"
    (entry,) = read_stream(io.BytesIO(data))
    assert entry == Entry(1, 2, b"Subject: x\n\nbody\n", "-", 1551690000.0, "")


header = st.sampled_from([b"Subject: x\n", b"From: a@example.org\r\n", b"X-Y: z\n\n"])
message = st.builds(
    lambda head, lines: head + b"\n".join(lines),
    header,
    st.lists(st.binary(max_size=40) | st.sampled_from([b"From x", b">From y", b""]), max_size=8),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(message, max_size=6))
def test_round_trip_property(raws: list[bytes]) -> None:
    out = io.BytesIO()
    for raw in raws:
        write_entry(out, raw, "s@example.org", 1551693600.0)
    entries = list(read_stream(io.BytesIO(out.getvalue())))
    assert [e.error for e in entries] == [""] * len(raws)
    assert [e.raw for e in entries] == [r if r.endswith(b"\n") else r + b"\n" for r in raws]

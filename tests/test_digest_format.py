"""What a digest reader notices: a table of contents, every post intact, list headers."""

from __future__ import annotations

import email
import email.policy
import secrets
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from listfed.digests.format import digest_subject, mime_digest, plain_digest
from listfed.listinfo import ListInfo

LST = ListInfo(id=1, local="team", domain="lists.example.org", description="Team talk", footer="")
WHEN = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
DASHES = "-" * 30


def post(*headers: str, body: bytes = b"Hello.\r\n") -> bytes:
    return "".join(f"{h}\r\n" for h in headers).encode() + b"\r\n" + body


ALICE = post(
    "Received: from mx.example.com by lists.example.org; Mon, 6 May 2024 07:00:00 +0000",
    'From: "Alice Smith" <alice@example.com>',
    "To: team@lists.example.org",
    "Subject: First things",
    "Message-ID: <first@example.com>",
    body=b"First body.\r\n",
)
BOB = post(
    "From: =?utf-8?q?B=C3=B6b?= <bob@example.net>",
    "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=",
    "Message-ID: <second@example.net>",
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: 8bit",
    body="Schöne Grüße, Bøb\r\n".encode(),
)
SIGNED_KEPT = (
    b"From: Carol <carol@example.org>\r\n"
    b"Subject: signed\r\n"
    b"Message-ID: <signed@example.org>\r\n"
    b"X-Odd:   folded\r\n\t  oddly  \r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/signed; protocol="application/pgp-signature";\r\n'
    b' micalg=pgp-sha256; boundary="sig"\r\n'
    b"\r\n"
    b"--sig\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"Signed text, caf\xc3\xa9   \r\n"
    b"--sig\r\n"
    b"Content-Type: application/pgp-signature\r\n"
    b"\r\n"
    b"-----BEGIN PGP SIGNATURE-----\r\nabc\r\n-----END PGP SIGNATURE-----\r\n"
    b"--sig--\r\n"
)
SIGNED = (
    b"Received: from a\r\n\tby b\r\n"
    b"DKIM-Signature: v=1; a=rsa-sha256;\r\n d=example.org; b=xyz\r\n"
    b"X-Listfed-Trace: node-a 123\r\n"
    b"Authentication-Results: mx; dkim=pass\r\n" + SIGNED_KEPT
)


def read(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def parts(data: bytes) -> list[EmailMessage]:
    msg = read(data)
    assert msg.get_content_type() == "multipart/digest"
    found = list(msg.iter_parts())
    assert all(isinstance(p, EmailMessage) for p in found)
    return found  # type: ignore[return-value]


def inner(part: EmailMessage) -> EmailMessage:
    assert part.get_content_type() == "message/rfc822"
    content = part.get_content()
    assert isinstance(content, EmailMessage)
    return content


def text(part: EmailMessage) -> str:
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


def raw_parts(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(part head, part content) as they are in the bytes, split at the boundary."""
    boundary = read(data).get_boundary()
    assert boundary
    body = data.split(b"\r\n\r\n", 1)[1]
    pieces = (b"\r\n" + body).split(b"\r\n--" + boundary.encode())
    assert pieces[0] == b"" and pieces[-1] == b"--\r\n"
    for piece in pieces[1:-1]:
        head, _, content = piece.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        yield head, content


def test_digest_headers_and_list_fields() -> None:
    data = mime_digest(LST, 3, [ALICE, BOB], WHEN)
    msg = read(data)
    assert msg["From"] == "team-request@lists.example.org"
    assert msg["To"] == "team@lists.example.org"
    assert msg["Subject"] == digest_subject(LST, 3) == "team digest, issue 3"
    assert msg["Date"].datetime == WHEN
    assert msg["Message-ID"].endswith("@lists.example.org>")
    assert msg["MIME-Version"] == "1.0"
    assert msg["List-Id"] == '"Team talk" <team.lists.example.org>'
    assert msg["List-Post"] == "<mailto:team@lists.example.org>"
    assert msg["List-Unsubscribe"] == "<mailto:team-leave@lists.example.org>"
    assert msg["Precedence"] == "list"
    assert msg["Content-Transfer-Encoding"] == "8bit"  # Bob's body
    assert b"\n" not in data.replace(b"\r\n", b"")
    ascii_only = read(mime_digest(LST, 3, [ALICE], WHEN))
    assert ascii_only["Content-Transfer-Encoding"] == "7bit"


def test_table_of_contents_lists_every_post_in_order() -> None:
    toc, *_ = parts(mime_digest(LST, 3, [ALICE, BOB, b"Subject: \r\n\r\nx\r\n"], WHEN))
    assert toc.get_content_type() == "text/plain"
    lines = text(toc).splitlines()
    assert lines[:5] == ["team digest, issue 3", "Team talk", "", "Today's Topics:", ""]
    assert lines[5:8] == [
        "   1. First things (Alice Smith <alice@example.com>)",
        "   2. Grüße aus Köln (Böb <bob@example.net>)",
        "   3. (no subject) (unknown sender)",
    ]
    rest = " ".join(lines[8:])
    assert "To post, write to team@lists.example.org." in rest
    assert "write to team-request@lists.example.org with the word help" in rest
    assert "edit your Subject line" in rest


def test_long_topics_wrap_and_names_with_commas_are_quoted() -> None:
    name = "=?utf-8?q?Doe=2C_Jane?="  # a comma once decoded
    long = post(f"From: {name} <jane@example.com>", "Subject: " + "word " * 40)
    toc = text(parts(mime_digest(LST, 1, [long], WHEN))[0])
    assert all(len(line) <= 72 for line in toc.splitlines())
    assert '("Doe, Jane" <jane@example.com>)' in " ".join(toc.split())


def test_posts_are_messages_with_their_own_from_subject_and_id() -> None:
    _, first, second = parts(mime_digest(LST, 3, [ALICE, BOB], WHEN))
    alice, bob = inner(first), inner(second)
    assert alice["From"].addresses[0].display_name == "Alice Smith"
    assert alice["From"].addresses[0].addr_spec == "alice@example.com"
    assert alice["Subject"] == "First things"
    assert alice["Message-ID"] == "<first@example.com>"
    assert bob["From"].addresses[0].display_name == "Böb"
    assert bob["Subject"] == "Grüße aus Köln"
    assert text(bob) == "Schöne Grüße, Bøb\n"


def test_signed_post_is_byte_identical_minus_trace_fields() -> None:
    data = mime_digest(LST, 1, [SIGNED, ALICE], WHEN)
    (_, _), (head, content), (_, alice) = raw_parts(data)
    assert head == b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: 8bit"
    assert content == SIGNED_KEPT
    assert b"Received:" not in alice
    assert alice.startswith(b'From: "Alice Smith" <alice@example.com>\r\nTo: ')
    signed = inner(parts(data)[1])
    assert signed.get_content_type() == "multipart/signed"
    for name in ("Received", "DKIM-Signature", "X-Listfed-Trace", "Authentication-Results"):
        assert name not in signed
    assert signed["X-Odd"].split() == ["folded", "oddly"]


def test_lf_posts_come_out_with_crlf() -> None:
    data = mime_digest(LST, 1, [ALICE.replace(b"\r\n", b"\n")], WHEN)
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert inner(parts(data)[1])["Subject"] == "First things"


def test_footer_is_a_last_text_part_when_set() -> None:
    assert len(parts(mime_digest(LST, 1, [ALICE], WHEN))) == 2
    footed = replace(LST, footer="Leave: team-leave@lists.example.org\nBye.")
    *_, last = parts(mime_digest(footed, 1, [ALICE], WHEN))
    assert last.get_content_type() == "text/plain"
    assert text(last) == "Leave: team-leave@lists.example.org\nBye.\n"


def test_garbage_post_is_listed_and_leaves_the_others_intact() -> None:
    garbage = b"\x00\xff not a message at all\r\n--\r\n\r"
    data = mime_digest(LST, 2, [ALICE, garbage, BOB, b""], WHEN)
    toc, first, _, third, _ = parts(data)
    assert "   2. (no subject) (unknown sender)" in text(toc)
    assert inner(first)["Message-ID"] == "<first@example.com>"
    assert text(inner(third)) == "Schöne Grüße, Bøb\n"
    contents = [content for _, content in raw_parts(data)]
    assert contents[2] == b"\x00\xff not a message at all\r\n--\r\n\r\r\n"
    only_trace = mime_digest(LST, 2, [b"Received: x\r\n\r\nbody\r\n"], WHEN)
    assert [content for _, content in raw_parts(only_trace)][1] == b"\r\nbody\r\n"


def test_boundary_found_in_a_post_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = iter(["a" * 32, "b" * 32])
    monkeypatch.setattr(secrets, "token_hex", lambda _n: next(tokens))
    tricky = post("Subject: tricky", body=b"--=_listfed_digest_" + b"a" * 32 + b"--\r\nafter\r\n")
    data = mime_digest(LST, 1, [tricky, ALICE], WHEN)
    assert read(data).get_boundary() == "=_listfed_digest_" + "b" * 32
    _, first, second = parts(data)
    assert text(inner(first)).endswith("after\n")
    assert inner(second)["Subject"] == "First things"


def test_nested_multipart_post_keeps_the_digest_structure() -> None:
    nested = post(
        "Subject: nested",
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="x"',
        body=b"--x\r\nContent-Type: text/plain\r\n\r\none\r\n--x\r\n\r\ntwo\r\n--x",  # unclosed
    )
    _, first, second = parts(mime_digest(LST, 1, [nested, ALICE], WHEN))
    assert inner(first).get_content_type() == "multipart/mixed"
    assert inner(second)["Message-ID"] == "<first@example.com>"


def test_plain_digest_is_rfc1153() -> None:
    html = post(
        "From: dee@example.org",
        "Subject: html only",
        "Content-Type: text/html; charset=utf-8",
        body=b"<p>Some <b>bold</b> words</p>\r\n",
    )
    dashes = post("From: eve@example.org", body=f"above\r\n{DASHES}\r\nbelow\r\n".encode())
    footed = replace(LST, footer="The footer.")
    msg = read(plain_digest(footed, 4, [ALICE, BOB, html, dashes], WHEN))
    assert msg.get_content_type() == "text/plain"
    assert msg["Subject"] == "team digest, issue 4"
    assert msg["List-Id"] == '"Team talk" <team.lists.example.org>'
    body = text(msg)
    toc, rule, rest = body.partition("\n" + "-" * 70 + "\n")
    assert rule
    assert "   2. Grüße aus Köln (Böb <bob@example.net>)" in toc
    sections = rest.split(f"\n{DASHES}\n")
    assert len(sections) == 6  # four posts, the footer, the end
    assert sections[0].strip().splitlines() == [
        "Message: 1",
        "From: Alice Smith <alice@example.com>",
        "Subject: First things",
        "Message-ID: <first@example.com>",
        "",
        "First body.",
    ]
    assert "Message: 2" in sections[1] and "Schöne Grüße, Bøb" in sections[1]
    assert "Some bold words" in sections[2] and "<b>" not in sections[2]
    assert f"above\n {DASHES}\nbelow" in sections[3]
    assert sections[4].strip() == "The footer."
    assert sections[5].strip().splitlines() == ["End of team digest, issue 4", "*" * 27]


def test_plain_digest_with_a_very_long_line_is_quoted_printable() -> None:
    long = post("Subject: long", body=b"x" * 2000 + b"\r\n")
    data = plain_digest(LST, 1, [long], WHEN)
    msg = read(data)
    assert msg["Content-Transfer-Encoding"] == "quoted-printable"
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))
    assert "x" * 2000 in text(msg)


def test_no_posts_still_makes_a_digest() -> None:
    assert len(parts(mime_digest(LST, 1, [], WHEN))) == 1
    assert "End of team digest, issue 1" in text(read(plain_digest(LST, 1, [], WHEN)))


HEADS = st.sampled_from(
    [b"", b"From: a@b\r\nSubject: =?utf-8?q?x?=", b"Content-Type: multipart/mixed; boundary=", b"X"]
)
POSTS = st.lists(
    st.one_of(
        st.binary(max_size=200), st.builds(lambda h, b: h + b"\r\n\r\n" + b, HEADS, st.binary())
    ),
    max_size=5,
)


@settings(max_examples=100, derandomize=True, deadline=None)
@given(posts=POSTS, footer=st.text(max_size=40), description=st.text(max_size=20))
def test_builders_never_raise(posts: list[bytes], footer: str, description: str) -> None:
    lst = replace(LST, footer=footer, description=description)
    digest = parts(mime_digest(lst, 7, posts, WHEN))
    assert len(digest) >= len(posts) + 1
    assert all(p.get_content_type() == "message/rfc822" for p in digest[1 : len(posts) + 1])
    plain = read(plain_digest(lst, 7, posts, WHEN))
    assert plain.get_content_type() == "text/plain"
    lines = text(plain).split("\n")
    assert lines.count(DASHES) == len(posts) + (1 if footer.strip() else 0)


def test_the_footer_placeholders_are_filled_in_both_forms() -> None:
    lst = ListInfo(id=1, local="team", domain="example.org", footer="Leave: $leave")
    mime = mime_digest(lst, 1, [ALICE], WHEN)
    plain = plain_digest(lst, 1, [ALICE], WHEN)
    for data in (mime, plain):
        assert b"Leave: team-leave@example.org" in data and b"$leave" not in data

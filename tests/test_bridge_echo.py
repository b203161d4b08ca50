"""Echo recognition: our post as Mailman, Sympa and Google Groups send it back, and the
look-alikes that must not be taken for it."""

from __future__ import annotations

import base64
import quopri
from email.header import Header
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from listfed.bridges.fingerprint import Fingerprint, fingerprint, is_echo, lookup_key, normalise
from listfed.mail.text import extract
from tests.foreignlist import ForeignList

LIST = "atl-coc@groups.example"
ANN = "Ann.Lee@Philly.example"
DATE = "Tue, 04 Mar 2025 18:30:05 -0500"
SUBJECT = "Café on Thursday — agenda"
BODY = (
    "Friends,\n"
    "\n"
    "We meet at the Café Zoë on Thursday at 7.   \n"  # trailing blanks a list may drop
    "Agenda: ballots, the süßes Fest, and the bus to Atlanta.\n"
    "\n"
    "\n"
    "-- \n"
    "Ann\n"
)
MM2_FOOTER = (
    "_______________________________________________\n"
    "atl-coc mailing list\n"
    "atl-coc@groups.example\n"
    "https://groups.example/mailman/listinfo/atl-coc\n"
)
GG_FOOTER = (
    "-- \n"
    "You received this message because you are subscribed to the Google Groups "
    '"atl-coc" group.\n'
    "To unsubscribe from this group and stop receiving emails from it, send an email to "
    "atl-coc+unsubscribe@groups.example.\n"
)


def subject_field(text: str) -> str:
    plain = text.isascii() and text.isprintable()
    return text if plain else Header(text, "utf-8").encode()


def render(fields: list[tuple[str, str]], body: bytes, crlf: bool = False) -> bytes:
    head = "".join(f"{name}: {value}\n" for name, value in fields).encode("ascii")
    raw = head + b"\n" + body
    return raw.replace(b"\n", b"\r\n") if crlf else raw


def text_part(text: str, cte: str = "8bit") -> tuple[list[tuple[str, str]], bytes]:
    data = text.encode("utf-8")
    if cte == "quoted-printable":
        data = quopri.encodestring(data)
    elif cte == "base64":
        data = base64.encodebytes(data)
    fields = [
        ("MIME-Version", "1.0"),
        ("Content-Type", 'text/plain; charset="utf-8"'),
        ("Content-Transfer-Encoding", cte),
    ]
    return fields, data


def sent(
    body: str = BODY,
    author: str = f'"Ann Lee" <{ANN}>',
    date: str | None = DATE,
    subject: str = SUBJECT,
    msgid: str = "<agenda-1@lists.philly.example>",
) -> bytes:
    fields = [("From", author), ("To", LIST), ("Subject", subject_field(subject))]
    if date is not None:
        fields.append(("Date", date))
    fields.append(("Message-ID", msgid))
    mime, data = text_part(body)
    return render(fields + mime, data)


def list_fields(subject: str = f"[atl-coc] {SUBJECT}") -> list[tuple[str, str]]:
    return [
        ("Received", "from lists.philly.example by groups.example; " + DATE),
        ("DKIM-Signature", "v=1; a=rsa-sha256; d=groups.example; s=x; b=AAAA"),
        ("Subject", subject_field(subject)),
        ("Date", DATE),
        ("List-Id", "<atl-coc.groups.example>"),
        ("List-Post", f"<mailto:{LIST}>"),
        ("Precedence", "list"),
    ]


def mailman2(body: str = BODY, cte: str = "base64") -> bytes:
    """Mailman 2.1: prefix, From munged with the author in Reply-To, footer inline."""
    mime, data = text_part(body + MM2_FOOTER, cte)
    fields = [
        *list_fields(),
        ("From", f'"Ann Lee via atl-coc" <{LIST}>'),
        ("Reply-To", f'"Ann Lee" <{ANN}>'),
        ("Message-ID", "<agenda-1@lists.philly.example>"),
        ("Sender", '"atl-coc" <atl-coc-bounces@groups.example>'),
    ]
    return render(fields + mime, data)


def multipart_echo(fields: list[tuple[str, str]], original: bytes, footer: str) -> bytes:
    """The original text as the first part of a multipart/mixed, the footer after it."""
    boundary = "===============1234567890=="
    foot_fields, foot = text_part(footer, "quoted-printable")
    part1 = b"".join(f"{n}: {v}\n".encode() for n, v in text_part("")[0] if n != "MIME-Version")
    part2 = b"".join(f"{n}: {v}\n".encode() for n, v in foot_fields if n != "MIME-Version")
    body = (
        b"--" + boundary.encode() + b"\n" + part1 + b"\n" + original + b"\n"
        b"--" + boundary.encode() + b"\n" + part2 + b"\n" + foot + b"\n"
        b"--" + boundary.encode() + b"--\n"
    )
    mime = [
        ("MIME-Version", "1.0"),
        ("Content-Type", f'multipart/mixed; boundary="{boundary}"'),
    ]
    return render(fields + mime, body)


def mailman3() -> bytes:
    """Mailman 3: prefix, From munged with the author in Cc, footer as a second part."""
    fields = [
        *list_fields(),
        ("From", f'"Ann Lee via atl-coc" <{LIST}>'),
        ("Reply-To", LIST),
        ("Cc", f'"Ann Lee" <{ANN}>, someone@else.example'),
        ("Message-ID-Hash", "ABCDEF"),
        ("Message-ID", "<agenda-1@lists.philly.example>"),
    ]
    footer = "atl-coc mailing list -- atl-coc@groups.example\nTo unsubscribe ..."
    return multipart_echo(fields, BODY.encode("utf-8"), footer)


def sympa() -> bytes:
    """Sympa: prefix, From kept, footer as a MIME part."""
    fields = [
        *list_fields(),
        ("From", f'"Ann Lee" <{ANN}>'),
        ("Message-ID", "<agenda-1@lists.philly.example>"),
    ]
    return multipart_echo(fields, BODY.encode("utf-8"), "Liste atl-coc -- désabonnement ...")


def google_groups(cte: str = "quoted-printable") -> bytes:
    """Google Groups: prefix, inline footer, new Message-ID, X-Original-From."""
    mime, data = text_part(BODY + "\n" + GG_FOOTER, cte)
    fields = [
        *list_fields(),
        ("From", f"\"'Ann Lee' via atl-coc\" <{LIST}>"),
        ("X-Original-From", f'"Ann Lee" <{ANN}>'),
        ("X-Original-Sender", ANN.lower()),
        ("Reply-To", f'"Ann Lee" <{ANN}>'),
        ("Message-ID", "<CAB+echo-rewritten@mail.groups.example>"),
    ]
    return render(fields + mime, data)


def test_fingerprint_of_sent_post() -> None:
    fp = fingerprint(sent())
    assert fp.author == ANN.lower()
    assert fp.key == lookup_key(sent())
    assert fp.body_len == len(normalise(BODY))
    assert normalise(BODY).endswith("Atlanta.\n\n--\nAnn")


def test_normalise() -> None:
    text = "\n\r\n  \nA  \r\n\n\n\nB\t\r\ne\u0301\n\n"
    assert normalise(text) == "A\n\nB\n\u00e9"


def test_echoes_are_recognised() -> None:
    fp = fingerprint(sent())
    echoes = {
        "mailman 2.1": mailman2(),
        "mailman 2.1 qp": mailman2(cte="quoted-printable"),
        "mailman 2.1 8bit": mailman2(cte="8bit"),
        "mailman 3": mailman3(),
        "sympa": sympa(),
        "google groups": google_groups(),
        "google groups base64": google_groups("base64"),
        "crlf": mailman2(cte="quoted-printable").replace(b"\n", b"\r\n"),
        "as sent": sent(),
    }
    for name, raw in echoes.items():
        assert lookup_key(raw) == fp.key, name
        assert is_echo(fp, raw), name


def test_the_foreign_list_simulators_copies_are_echoes() -> None:
    alternative = (
        sent()
        .replace(
            b"Content-Type: text/plain",
            b"Content-Type: multipart/alternative; boundary=BB\n\n--BB\nContent-Type: text/plain",
        )
        .replace(b"Content-Transfer-Encoding: 8bit\n", b"Content-Transfer-Encoding: 8bit\n\n", 1)
    )
    alternative += b"--BB\nContent-Type: text/html\n\n<p>Friends</p>\n--BB--\n"
    options: list[dict[str, Any]] = [
        {},
        {"munge_from": True},
        {"munge_from": True, "replace_message_id": True, "body_encoding": "quoted-printable"},
        {"body_encoding": "8bit"},
    ]
    for raw in (sent(), sent().replace(b"\n", b"\r\n"), alternative):
        fp = fingerprint(raw)
        for option in options:
            assert is_echo(fp, ForeignList(**option).mailmanise(raw)), option


def test_reply_prefix_kept_and_reordered() -> None:
    original = sent(subject="Re: bus times")
    fp = fingerprint(original)
    raw = original.replace(b"Subject: Re: bus times", b"Subject: [atl-coc] Re: bus times")
    assert is_echo(fp, raw)
    raw = original.replace(b"Subject: Re: bus times", b"Subject: Re: [atl-coc] bus times")
    assert is_echo(fp, raw)


def test_date_rewritten_into_another_zone_still_matches() -> None:
    fp = fingerprint(sent())
    raw = sent(date="Tue, 04 Mar 2025 23:30:05 +0000")
    assert is_echo(fp, raw)


def test_reply_quoting_the_whole_original_is_not_an_echo() -> None:
    fp = fingerprint(sent())
    quoted = "".join(f"> {line}\n" for line in BODY.splitlines())
    # reply-all: Ann in Cc, the same second, the same subject key; only the body differs
    for body in (f"Count me in.\n\nOn Tue, Ann wrote:\n{quoted}", f"{quoted}\nCount me in.\n"):
        mime, data = text_part(body)
        fields = [
            ("From", "Bob <bob@atl.example>"),
            ("Cc", f"Ann Lee <{ANN}>"),
            ("Subject", subject_field(f"Re: [atl-coc] {SUBJECT}")),
            ("Date", DATE),
            ("Message-ID", "<reply-1@atl.example>"),
        ]
        raw = render(fields + mime, data)
        assert lookup_key(raw) == fp.key
        assert not is_echo(fp, raw)


def test_reply_top_posted_over_the_unquoted_original_is_not_an_echo() -> None:
    fp = fingerprint(sent())
    raw = sent(body="Yes!\n\n" + BODY)
    assert not is_echo(fp, raw)


def test_other_post_same_subject_and_date() -> None:
    fp = fingerprint(sent())
    raw = sent(body="Friends,\n\nThe meeting moves to Friday.\n")
    assert lookup_key(raw) == fp.key
    assert not is_echo(fp, raw)


def test_same_text_other_author_other_date() -> None:
    fp = fingerprint(sent(body="+1\n"))
    raw = sent(body="+1\n", author="Bob <bob@atl.example>", date="Tue, 04 Mar 2025 18:31:00 -0500")
    assert lookup_key(raw) != fp.key
    assert not is_echo(fp, raw)


def test_same_text_other_author_same_second() -> None:
    fp = fingerprint(sent(body="+1\n"))
    raw = sent(body="+1\n", author="Bob <bob@atl.example>")
    assert lookup_key(raw) == fp.key
    assert not is_echo(fp, raw)


def test_sent_text_must_end_at_a_line_end() -> None:
    fp = fingerprint(sent(body="+1\n"))
    assert not is_echo(fp, sent(body="+10 from me\n"))
    assert is_echo(fp, sent(body="+1\n" + MM2_FOOTER))


def test_without_date_the_body_decides() -> None:
    fp = fingerprint(sent(date=None))
    assert fp.key != fingerprint(sent()).key
    assert lookup_key(sent(date=None, body="other\n")) == fp.key
    assert is_echo(fp, sent(date=None, body=BODY + MM2_FOOTER))
    assert not is_echo(fp, sent(date=None, body="other\n"))


def test_no_subject_as_mailman_writes_it() -> None:
    fp = fingerprint(sent(subject=""))
    assert is_echo(fp, sent(subject="[atl-coc] (no subject)", body=BODY + MM2_FOOTER))


def test_unreadable_sent_message_matches_nothing() -> None:
    fp = fingerprint(b"")
    assert fp.author == ""
    assert not is_echo(fp, b"")
    assert not is_echo(fp, sent())


_TEXT = st.text(max_size=300)  # no surrogates: text that can be sent


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    subject=_TEXT,
    body=_TEXT,
    footer=_TEXT,
    tag=st.from_regex(r"\[[a-z0-9 -]{1,12}\]", fullmatch=True),
    reply=st.booleans(),
    inline=st.booleans(),
    cte=st.sampled_from(["8bit", "quoted-printable", "base64"]),
    other=_TEXT,
)
def test_random_echoes(
    subject: str,
    body: str,
    footer: str,
    tag: str,
    reply: bool,
    inline: bool,
    cte: str,
    other: str,
) -> None:
    original = sent(subject=subject, body=body)
    fp = fingerprint(original)
    arrived_subject = f"{tag} {'Re: ' if reply else ''}{subject}"
    fields = [
        ("From", f'"Ann via list" <{LIST}>'),
        ("Reply-To", ANN),
        ("Subject", Header(arrived_subject, "utf-8").encode()),
        ("Date", DATE),
    ]
    if inline:
        mime, data = text_part(body + "\n" + footer, cte)
        echo = render(fields + mime, data)
    else:
        echo = multipart_echo(fields, body.encode("utf-8"), footer or "footer")
    assert is_echo(fp, echo)
    # a different body, not one that merely adds lines after ours
    mime, data = text_part(other + "\n" + footer, cte)
    different = render(fields + mime, data)
    wanted = normalise(extract(original).body_text)
    got = normalise(extract(different).body_text)
    assume(wanted)  # an empty sent body is recognised by key and author alone
    assume(not (got.startswith(wanted) and got[len(wanted) : len(wanted) + 1] in ("", "\n")))
    assert not is_echo(fp, different)


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=2000), prefix=st.sampled_from([b"", b"From: a@b.c\nDate: x\n\n"]))
def test_random_bytes_never_raise(raw: bytes, prefix: bytes) -> None:
    data = prefix + raw
    fp = fingerprint(data)
    assert isinstance(fp, Fingerprint)
    assert isinstance(lookup_key(data), str)
    assert isinstance(is_echo(fp, data), bool)
    assert isinstance(is_echo(fingerprint(sent()), data), bool)

"""What a reader sees after the Reply-To policy and DMARC munge/wrap: who it is from,
where a reply goes, and that nothing else moved by a byte."""

from __future__ import annotations

import email
import email.policy
import logging
import re
from email.message import EmailMessage

import mailparser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from listfed.delivery.rewrite import munge, reply_to, wrap
from listfed.listinfo import ListInfo
from listfed.mail.rawmail import RawMessage, crlf

LIST = "team@example.org"
AUTHOR = "alice@example.com"
THEIRS = "elsewhere@example.net"  # a Reply-To the poster set
EXPLICIT = "help@example.org"
POLICIES = {"none": None, "list": LIST, f"explicit {EXPLICIT}": EXPLICIT}


def lst(reply: str = "none", override: bool = False) -> ListInfo:
    return ListInfo(
        id=1, local="team", domain="example.org", reply_to=reply, reply_to_override=override
    )


def message(*headers: str, body: bytes = b"Hello.\r\n") -> bytes:
    return "".join(f"{h}\r\n" for h in headers).encode() + b"\r\n" + body


def read(out: bytes) -> EmailMessage:
    msg = email.message_from_bytes(out, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def munged(raw: bytes, info: ListInfo) -> bytes:
    msg = RawMessage.parse(raw)
    munge(msg, info)
    return msg.to_bytes()


def replied(raw: bytes, info: ListInfo) -> bytes:
    msg = RawMessage.parse(raw)
    reply_to(msg, info)
    return msg.to_bytes()


def addresses(msg: EmailMessage, name: str) -> list[str]:
    """The addresses of every `name` field, lower-cased, in order."""
    return [a.addr_spec.lower() for field in msg.get_all(name, []) for a in field.addresses]


def from_of(out: bytes) -> tuple[str, str]:
    (box,) = read(out)["From"].addresses
    return box.display_name, box.addr_spec


def others(data: bytes, *names: str) -> list[tuple[str, bytes]]:
    """Every field not called one of `names`, as raw bytes with CRLF, in order."""
    skip = {n.lower() for n in names}
    return [(n, crlf(raw)) for n, raw in RawMessage.parse(data).fields if n.lower() not in skip]


def body(out: bytes) -> bytes:
    return out.split(b"\r\n\r\n", 1)[1]


def from_count(out: bytes) -> int:
    return sum(n.lower() == "from" for n, _ in RawMessage.parse(out).fields)


# --- munge: where replies go ----------------------------------------------------------


@pytest.mark.parametrize("override", [False, True])
@pytest.mark.parametrize("theirs", [False, True])
@pytest.mark.parametrize("policy", list(POLICIES))
def test_munge_reply_policy(policy: str, theirs: bool, override: bool) -> None:
    headers = ["From: Alice Example <alice@example.com>", "To: team@example.org", "Subject: Hi"]
    if theirs:
        headers.append(f"Reply-To: Elsewhere <{THEIRS}>")
    msg = read(munged(message(*headers), lst(policy, override)))

    assert msg["From"].addresses[0].display_name == "Alice Example via team"
    assert addresses(msg, "From") == [LIST]
    target = POLICIES[policy]
    kept = theirs and not override
    if target is None:  # replies go to the author: Reply-To, unless the poster said otherwise
        assert addresses(msg, "Reply-To") == [THEIRS if kept else AUTHOR]
        assert addresses(msg, "Cc") == []
    else:  # replies go to the list: the author in Cc, so reply-all reaches them
        assert addresses(msg, "Reply-To") == [THEIRS if kept else target]
        assert addresses(msg, "Cc") == [AUTHOR]
        assert msg["Cc"].addresses[0].display_name == "Alice Example"


def test_author_appended_to_existing_cc_which_keeps_its_bytes() -> None:
    cc = "Cc: Bob <bob@example.net>,\r\n carol@example.net"
    raw = message("From: Alice <alice@example.com>", cc, "Subject: Hi")
    out = munged(raw, lst("list"))
    assert addresses(read(out), "Cc") == ["bob@example.net", "carol@example.net", AUTHOR]
    assert out.count(b"\r\nCc:") == 1
    assert (cc + ",\r\n").encode() in out


@pytest.mark.parametrize(
    "where", ["Cc: ALICE@Example.COM", "To: team@example.org, Alice@example.com"]
)
def test_author_already_reached_is_not_added_again(where: str) -> None:
    raw = message("From: Alice <alice@example.com>", where, "Subject: Hi")
    out = munged(raw, lst("list"))  # reply-all reaches them: To and Cc stay as they were
    assert others(out, "From", "Reply-To") == others(raw, "From", "Reply-To")
    assert addresses(read(out), "Reply-To") == [LIST]


def test_empty_poster_reply_to_is_no_reply_to() -> None:
    raw = message("From: Alice <alice@example.com>", "Reply-To:  ", "Subject: Hi")
    assert addresses(read(munged(raw, lst())), "Reply-To") == [AUTHOR]
    assert addresses(read(replied(raw, lst("list"))), "Reply-To") == [LIST]


# --- munge: the new From --------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ('"Doe, John" <j@example.com>', "Doe, John via team"),
        ('"Say \\"hi\\" \\\\ bye" <j@example.com>', 'Say "hi" \\ bye via team'),
        ("=?utf-8?q?J=C3=B6rg_M=C3=BCller?= <j@example.com>", "Jörg Müller via team"),
        ("=?utf-8?q?Doe=2C_John_=3Cx=3E?= <j@example.com>", "Doe, John <x> via team"),
        ('"=?iso-8859-1?q?J=F6rg?=" <j@example.com>', "Jörg via team"),
        ("=?utf-8?q?A=0Ab?= <j@example.com>", "A b via team"),
        ("j@example.com", "j at example.com via team"),
        ("<j@example.com>", "j at example.com via team"),
        ("j@example.com (John Doe)", "John Doe via team"),
        ("Jörg <j@example.com>", "Jörg via team"),
        ("John <j@example.com>, Bob <b@example.net>", "John via team"),
        ("Authors: John <j@example.com>, b@example.net;", "John via team"),
        ("undisclosed:;, John <j@example.com>", "John via team"),
    ],
)
def test_munged_from_names(value: str, name: str) -> None:
    out = munged(message(f"From: {value}", "Subject: Hi"), lst())
    assert from_of(out) == (name, LIST)
    field = out.split(b"\r\n\r\n")[0].split(b"From: ", 1)[1]
    assert field.isascii()
    assert b'"=?' not in field  # an encoded word is never inside quotes
    assert addresses(read(out), "Reply-To") == ["j@example.com"]  # the first mailbox only


def test_8bit_latin1_name_is_read_and_encoded() -> None:
    raw = b"From: J\xf6rg <j@example.com>\r\nSubject: Hi\r\n\r\nHello.\r\n"
    out = munged(raw, lst())
    assert from_of(out) == ("Jörg via team", LIST)
    assert read(out)["Reply-To"].addresses[0].display_name == "Jörg"


def test_long_non_ascii_name_is_folded_into_short_encoded_words() -> None:
    value = " ".join(["Grüße"] * 30)
    out = munged(message(f"From: {value} <g@example.com>"), lst())
    head = out.split(b"\r\n\r\n")[0]
    assert all(len(word) <= 75 for word in re.findall(rb"=\?[^?]*\?[bq]\?[^?]*\?=", head))
    # Adjacent encoded words join without the blank between them (RFC 2047 §6.2), which
    # email.policy.default does not do inside a phrase; the legacy decoder does.
    mail = mailparser.parse_from_bytes(out)
    assert mail.from_ == [(f"{value} via team", LIST)]
    assert mail.reply_to == [(value, "g@example.com")]


def test_internationalised_address_stays_utf8() -> None:
    raw = message("From: J <jörg@exämple.de>", "Subject: Hi")
    out = munged(raw, lst())
    assert 'Reply-To: "J" <jörg@exämple.de>\r\n'.encode() in out
    assert from_of(out) == ("J via team", LIST)


def test_mailparser_reads_the_munged_mail() -> None:
    raw = message("From: =?utf-8?q?J=C3=B6rg?= <j@example.com>", "Cc: b@example.net", "Subject: Hi")
    mail = mailparser.parse_from_bytes(munged(raw, lst("list")))
    assert mail.from_ == [("Jörg via team", LIST)]
    assert mail.reply_to == [("", LIST)]
    assert mail.cc == [("", "b@example.net"), ("Jörg", "j@example.com")]


# --- munge: everything else stays -----------------------------------------------------


RICH = (
    b"Received: from mx.example.com by mx.example.org;\n\tMon, 1 Jan 2024 00:00:00 +0000\n"
    b"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s1;\n\th=from:to:subject; b=AbC=\n"
    b"From: Alice <alice@example.com>\n"
    b"To: team@example.org\n"
    b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= and a long\n  folded subject\n"
    b"X-Eight: caf\xc3\xa9 \xff\n"
    b"Message-ID: <1@example.com>\n"
    b"Content-Type: text/plain; charset=utf-8\n"
    b"\n"
    b"Body with \xc3\xa9, a bare\rCR,  trailing blanks  \n\n-- \nsig\n"
)


@pytest.mark.parametrize("policy", list(POLICIES))
def test_munge_leaves_every_other_field_and_the_body_byte_identical(policy: str) -> None:
    out = munged(RICH, lst(policy))
    assert others(out, "From", "Reply-To", "Cc") == others(RICH, "From", "Reply-To", "Cc")
    assert body(out) == crlf(RICH.split(b"\n\n", 1)[1])
    assert read(out)["DKIM-Signature"] is not None  # left to fail; see the module docstring
    assert from_count(out) == 1
    assert [n for n, _ in RawMessage.parse(out).fields][2] == "From"  # where it was


@pytest.mark.parametrize(
    "headers",
    [("To: team@example.org",), ("From: garbage",), ("From: ",), ("From: <>",), ("From: a@",)],
)
def test_no_usable_from_is_not_munged_and_logged(
    headers: tuple[str, ...], caplog: pytest.LogCaptureFixture
) -> None:
    raw = message(*headers, "Subject: Hi")
    with caplog.at_level(logging.WARNING, "listfed.delivery"):
        assert munged(raw, lst()) == raw
    assert "not munged" in caplog.text
    out = munged(raw, lst("list"))  # the list's reply policy still holds
    assert others(out, "Reply-To") == others(raw)
    assert addresses(read(out), "Reply-To") == [LIST]


def test_a_from_already_the_list_is_left_alone() -> None:
    raw = message('From: "Alice via team" <Team@example.org>', "Subject: Hi")
    assert munged(raw, lst()) == raw


# --- reply_to alone -------------------------------------------------------------------


@pytest.mark.parametrize("override", [False, True])
@pytest.mark.parametrize("theirs", [False, True])
@pytest.mark.parametrize("policy", list(POLICIES))
def test_reply_to_policy(policy: str, theirs: bool, override: bool) -> None:
    headers = ["From: Alice <alice@example.com>", "Subject: Hi"]
    if theirs:
        headers.append(f"Reply-To: {THEIRS}")
    raw = message(*headers)
    out = replied(raw, lst(policy, override))
    target = POLICIES[policy]
    if target is None or (theirs and not override):
        assert out == raw
    else:
        assert addresses(read(out), "Reply-To") == [target]
        assert others(out, "Reply-To") == others(raw, "Reply-To")


@pytest.mark.parametrize("policy", ["explicit", "explicit not-an-address", "sometimes"])
def test_unusable_reply_policy_changes_nothing(
    policy: str, caplog: pytest.LogCaptureFixture
) -> None:
    raw = message("From: Alice <alice@example.com>", "Subject: Hi")
    with caplog.at_level(logging.WARNING, "listfed.delivery"):
        assert replied(raw, lst(policy)) == raw
    assert "none used" in caplog.text
    assert addresses(read(munged(raw, lst(policy))), "Reply-To") == [AUTHOR]


def test_explicit_address_with_a_name() -> None:
    raw = message("From: Alice <alice@example.com>")
    out = replied(raw, lst("explicit Help Desk <help@example.org>"))
    assert read(out)["Reply-To"].addresses[0].display_name == "Help Desk"
    assert addresses(read(out), "Reply-To") == [EXPLICIT]


# --- wrap -----------------------------------------------------------------------------


POST = message(
    "Received: from mx.example.com by mx.example.org",
    "DKIM-Signature: v=1; d=example.com; b=AbC=",
    "From: Alice Example <alice@example.com>",
    "To: team@example.org",
    "Cc: bob@example.net",
    "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=",
    "Date: Mon, 1 Jan 2024 00:00:00 +0000",
    "Message-ID: <1@example.com>",
    "In-Reply-To: <0@example.com>",
    "References: <0@example.com>",
    "X-Listfed-Trace: node1 other@example.net",
    "Auto-Submitted: auto-generated",
    "X-Mailer: Mutt",
    "Content-Type: text/plain; charset=us-ascii",
)


def test_wrap_outer_fields() -> None:
    out = wrap(POST, lst("list")).to_bytes()
    msg = read(out)
    assert from_of(out) == ("Alice Example via team", LIST)
    assert addresses(msg, "Reply-To") == [LIST]
    assert addresses(msg, "Cc") == ["bob@example.net", AUTHOR]
    assert msg["Subject"] == "Grüße"
    assert msg["Message-ID"] == "<1@example.com>"
    assert msg["In-Reply-To"] == msg["References"] == "<0@example.com>"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["X-Listfed-Trace"] == "node1 other@example.net"
    assert msg["MIME-Version"] == "1.0"
    assert msg.get_content_type() == "message/rfc822"
    assert msg["Content-Disposition"] == "inline"
    for gone in ("Received", "DKIM-Signature", "X-Mailer", "Content-Transfer-Encoding"):
        assert msg[gone] is None, gone
    copied = {"To", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
              "X-Listfed-Trace", "Auto-Submitted"}  # fmt: skip
    added = ("From", "Cc", "Reply-To", "MIME-Version", "Content-Type", "Content-Disposition")
    assert others(out, *added) == [f for f in others(POST) if f[0] in copied]  # bytes reused
    assert from_count(out) == 1


def test_wrap_inner_is_the_post_byte_for_byte() -> None:
    raw = POST.replace(b"\r\n", b"\n")  # arrives with LF; leaves with CRLF, as DKIM reads it
    out = wrap(raw, lst()).to_bytes()
    assert body(out) == crlf(raw)
    inner = read(out).get_content()
    assert isinstance(inner, EmailMessage)
    assert inner["From"] == "Alice Example <alice@example.com>"
    assert inner["Subject"] == "Grüße"
    assert inner["DKIM-Signature"] is not None
    assert addresses(read(out), "Reply-To") == [AUTHOR]


def test_wrap_read_by_mailparser() -> None:
    mail = mailparser.parse_from_bytes(wrap(POST, lst()).to_bytes())
    assert mail.from_ == [("Alice Example via team", LIST)]
    assert mail.reply_to == [("Alice Example", AUTHOR)]
    assert mail.subject == "Grüße"


@pytest.mark.parametrize(
    ("post_body", "cte"),
    [
        (b"plain ascii\r\n", None),
        ("Grüße\r\n".encode(), "8bit"),
        (b"x" * 999 + b"\r\n", "binary"),
        (b"nul \0 here\r\n", "binary"),
    ],
)
def test_wrap_declares_an_identity_encoding(post_body: bytes, cte: str | None) -> None:
    out = wrap(message("From: a@example.com", "Subject: Hi", body=post_body), lst()).to_bytes()
    assert read(out)["Content-Transfer-Encoding"] == cte
    assert body(out).endswith(post_body)


def test_wrap_without_usable_from_is_from_the_list(caplog: pytest.LogCaptureFixture) -> None:
    raw = message("From: nobody", "Subject: Hi")
    with caplog.at_level(logging.WARNING, "listfed.delivery"):
        out = wrap(raw, lst("list")).to_bytes()
    assert from_of(out) == ("", LIST)
    assert addresses(read(out), "Reply-To") == [LIST]
    assert body(out) == raw
    assert "wrapped as the list" in caplog.text
    assert from_count(wrap(b"", lst()).to_bytes()) == 1


# --- never raises ---------------------------------------------------------------------


FRAGMENTS = st.sampled_from(
    ['"', "<", ">", "(", ")", ",", ":", ";", "\\", "@", " ", "=?utf-8?q?=C3=B6?=",
     "=?x?b?!!?=", "a@b.c", "A", "é", "\udcff", "\t", "\x00", "\x7f"]
)  # fmt: skip
VALUES = st.one_of(st.text(max_size=40), st.lists(FRAGMENTS, max_size=12).map("".join)).map(
    lambda v: v.encode("utf-8", "surrogateescape").replace(b"\r", b" ").replace(b"\n", b" ")
)
LISTS = st.builds(lst, st.sampled_from([*POLICIES, "explicit", "explicit @", "odd"]), st.booleans())


@settings(max_examples=100, derandomize=True, deadline=None)
@given(
    values=st.fixed_dictionaries(
        {"From": VALUES}, optional={"Reply-To": VALUES, "Cc": VALUES, "To": VALUES}
    ),
    info=LISTS,
)
def test_never_raises_and_leaves_one_from(values: dict[str, bytes], info: ListInfo) -> None:
    raw = b"".join(name.encode() + b": " + v + b"\r\n" for name, v in values.items())
    raw += b"Subject: s\r\n\r\nbody\r\n"

    out = munged(raw, info)
    assert from_count(out) == 1
    assert others(out, "From", "Reply-To", "Cc") == others(raw, "From", "Reply-To", "Cc")
    assert body(out) == b"body\r\n"
    new_from = RawMessage.parse(out).get("From")
    if new_from != RawMessage.parse(raw).get("From"):
        assert from_of(out)[1] == LIST

    assert from_count(replied(raw, info)) == 1
    wrapped = wrap(raw, info).to_bytes()
    assert from_count(wrapped) == 1
    assert from_of(wrapped)[1] == LIST
    assert body(wrapped) == raw

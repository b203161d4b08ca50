"""Posts a list wrapped (issue 19, item 1): the post inside is found through Mailman 3's
`wrap_message` shapes, judged by its Message-ID, trace and content, and indexed by its
text and author; nothing else is taken for a wrapper, and no stranger's nesting is read
deeper than MAX_LEVELS."""

from __future__ import annotations

import base64
import email
import email.policy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from listfed.bridges.fingerprint import fingerprint, is_echo, lookup_key
from listfed.mail.message import parse
from listfed.mail.text import extract
from listfed.mail.wrapped import MAX_LEVELS, unwrap
from tests.foreignlist import ForeignList

SENT = (
    b'From: "Alice via team" <bridge-atl@lists.example.org>\r\n'
    b"Reply-To: Alice <alice@example.net>\r\n"
    b"To: atl-coc@groups.example\r\n"
    b"Subject: Re: Day of action\r\n"
    b"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
    b"Message-ID: <m1@example.net>\r\n"
    b"X-Listfed-Trace: node.example.org team@lists.example.org\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: text/plain; charset="utf-8"\r\n'
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"The banners are at the union hall.\r\n"
)


def mailman3(raw: bytes = SENT, **options: object) -> bytes:
    """`raw` as a Mailman 3 list with DMARC wrap_message delivers it."""
    return ForeignList(style="mailman3", dmarc="wrap", **options).mailmanise(raw)  # type: ignore[arg-type]


def forwarded(first: bytes, second: bytes, sender: str = "Bob <bob@example.org>") -> bytes:
    """A multipart/mixed of two parts, as a person's mail program writes a forward."""
    head = (
        f"From: {sender}\r\nTo: team@lists.example.org\r\nSubject: Fwd: Day of action\r\n"
        "Message-ID: <fwd@example.org>\r\nDate: Mon, 23 Nov 2026 11:00:00 +0000\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="fw"\r\n\r\n'
    )
    return b"%s--fw\r\n%s\r\n--fw\r\n%s\r\n--fw--\r\n" % (head.encode(), first, second)


NOTE = b'Content-Type: text/plain; charset="utf-8"\r\n\r\nWorth reading, I think.'
ATTACHED = b"Content-Type: message/rfc822\r\n\r\n" + SENT


def test_mailman3s_wrapper_with_its_footer_holds_the_post() -> None:
    raw = mailman3()
    outer = email.message_from_bytes(raw, policy=email.policy.default)
    assert outer.get_content_type() == "multipart/mixed"
    assert outer["Message-ID"] != "<m1@example.net>"
    found = unwrap(raw)
    assert found is not None and found.levels == 1 and found.by_list
    assert b"Message-ID: <m1@example.net>" in found.inner
    assert found.inner.rstrip().endswith(b"The banners are at the union hall.")


def test_the_shapes_of_a_wrapper() -> None:
    bare = (
        b"From: Alice via Atl-coc <atl-coc@groups.example>\r\n"
        b"List-Post: <mailto:atl-coc@groups.example>\r\nSubject: x\r\n"
        b"Content-Type: message/rfc822\r\n\r\n" + SENT
    )
    encoded = bare.replace(
        b"message/rfc822\r\n\r\n",
        b"message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n",
    ).replace(SENT, base64.encodebytes(SENT))
    text_first = mailman3(wrapped_text="This post was wrapped because of DMARC.")
    for raw in (bare, encoded, text_first, forwarded(ATTACHED, NOTE)):
        found = unwrap(raw)
        assert found is not None
        assert parse(found.inner).message_id == "m1@example.net"
    # a forward from a person: Bob is the author, the words inside are what is indexed
    found = unwrap(forwarded(ATTACHED, NOTE))
    assert found is not None and not found.by_list


def test_what_is_not_a_wrapper() -> None:
    assert unwrap(SENT) is None
    assert unwrap(forwarded(NOTE, ATTACHED)) is None  # a person's forward: their text first
    listy = forwarded(NOTE, ATTACHED, sender="atl-coc@groups.example")  # no List-* named it
    assert unwrap(listy) is None
    broken = forwarded(ATTACHED, NOTE).replace(b"--fw", b"--xx")  # no delimiter found
    assert unwrap(broken) is None
    assert unwrap(b"Content-Type: message/rfc822\r\n\r\n") is None
    assert unwrap(b"") is None


def test_a_wrapper_in_a_wrapper_and_no_deeper_than_the_limit() -> None:
    twice = mailman3(mailman3())
    found = unwrap(twice)
    assert found is not None and found.levels == 2
    assert parse(found.inner).message_id == "m1@example.net"
    deep = SENT
    for _ in range(10_000):  # a stranger's nesting: only MAX_LEVELS are read
        deep = b"Content-Type: message/rfc822\r\n\r\n" + deep
    found = unwrap(deep)
    assert found is not None and found.levels == MAX_LEVELS


def test_the_pipelines_reading_of_a_wrapped_post() -> None:
    read = parse(mailman3(), "atl-coc-bounces@groups.example", "node.example.org")
    assert read.inner is not None
    assert read.message_id != "m1@example.net"
    assert read.message_ids == (read.message_id, "m1@example.net")
    assert read.all_traces == ("node.example.org team@lists.example.org",)
    assert read.inner.sender == "bridge-atl@lists.example.org"
    assert read.body_text.strip() == "The banners are at the union hall."
    plain = parse(SENT)
    assert plain.inner is None and plain.message_ids == ("m1@example.net",)


def test_the_archive_indexes_the_post_inside() -> None:
    foreign = SENT.replace(b'"Alice via team" <bridge-atl@lists.example.org>', b"Zed <zed@atl.ex>")
    found = extract(mailman3(foreign))
    assert found.body_text.strip() == "The banners are at the union hall."
    assert (found.sender, found.sender_name) == ("zed@atl.ex", "Zed")
    assert found.subject == "[Atl-coc] Re: Day of action"
    assert found.message_id != "m1@example.net"  # the wrapper's: its thread knows it
    # a person's forward with the message first keeps its own author
    forward = extract(forwarded(ATTACHED, NOTE))
    assert forward.sender == "bob@example.org"
    assert "banners" in forward.body_text


def test_the_echo_of_a_wrapped_post_matches_its_fingerprint() -> None:
    sent = fingerprint(SENT)
    for raw in (mailman3(), mailman3(reply_to_list=True), mailman3(wrapped_text="Wrapped.")):
        assert lookup_key(raw) == sent.key
        assert is_echo(sent, raw)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    layers=st.lists(
        st.sampled_from(["rfc822", "first", "text-first", "base64", "junk"]), max_size=8
    ),
    tail=st.binary(max_size=300),
)
def test_random_wrappers_never_raise(layers: list[str], tail: bytes) -> None:
    raw = SENT + tail
    for layer in layers:
        if layer == "rfc822":
            raw = b"Content-Type: message/rfc822\r\n\r\n" + raw
        elif layer == "first":
            raw = forwarded(b"Content-Type: message/rfc822\r\n\r\n" + raw, NOTE)
        elif layer == "text-first":
            raw = forwarded(NOTE, b"Content-Type: message/rfc822\r\n\r\n" + raw)
        elif layer == "base64":
            head = b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            raw = head + base64.encodebytes(raw)
        else:
            raw = b'Content-Type: multipart/mixed; boundary="--"\r\n\r\n----\r\n' + raw
    found = unwrap(raw)
    assert found is None or 1 <= found.levels <= MAX_LEVELS
    parse(raw)
    extract(raw)

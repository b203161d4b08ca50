"""Long lines re-encoded before the node signs (mail/longlines.py): a leaf part with a
line over 998 octets becomes quoted-printable, what a reader sees stays the same, and
a wrapped original or a message without a long line keeps its bytes."""

from __future__ import annotations

from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

from listfed.mail.longlines import shortened

LONG = "word " * 400  # 2,000 octets on one line


def lines(data: bytes) -> list[bytes]:
    return data.split(b"\r\n")


def test_a_message_without_a_long_line_keeps_its_bytes() -> None:
    raw = b"From: a@example.org\r\nSubject: short\r\n\r\nHello.\r\n"
    assert shortened(raw) is raw


def test_a_long_text_part_is_made_quoted_printable_and_reads_the_same() -> None:
    raw = (
        "From: a@example.org\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        f"{LONG}caf\u00e9\r\n"
        "--b\r\nContent-Type: message/rfc822\r\n\r\n"
        f"From: b@example.org\r\nSubject: wrapped\r\n\r\n{LONG}\r\n"
        "--b--\r\n"
    ).encode()
    out = shortened(raw)
    message = message_from_bytes(out, policy=default)
    assert isinstance(message, EmailMessage)
    text, wrapped = list(message.iter_parts())
    assert text["Content-Transfer-Encoding"] == "quoted-printable"
    assert str(text.get_content()).rstrip("\r\n") == f"{LONG}caf\u00e9"
    # the wrapped original is left as it came (its author's signature covers it)
    assert f"{LONG}".encode() in out
    assert sum(1 for line in lines(out) if len(line) > 998) == 1  # only inside it
    assert wrapped.get_content_type() == "message/rfc822"


def test_a_single_part_post_is_re_encoded_too() -> None:
    raw = f"From: a@example.org\r\nSubject: one\r\n\r\n{LONG}\r\nbye\r\n".encode()
    out = shortened(raw)
    assert max(len(line) for line in lines(out)) <= 998
    message = message_from_bytes(out, policy=default)
    assert isinstance(message, EmailMessage)
    assert str(message.get_content()).replace("\r\n", "\n") == f"{LONG}\nbye\n"

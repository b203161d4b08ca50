"""The mail reader's time grows at most linearly with what a stranger sends (issue 16,
item 1): runs of one character in the places parsers backtrack on, nested parentheses,
many header lines, many MIME boundaries. Each shape is read at two sizes, eight times
apart: linear work takes about 8 times as long, quadratic 64 times; the test fails past
24 (the floor of 5 ms keeps timer noise out of the ratio)."""

from __future__ import annotations

import time
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from listfed.mail.message import parse
from listfed.mail.text import extract

Shape = Callable[[bytes, int], bytes]


def _html(c: bytes, n: int) -> bytes:
    return b"From: a@b.example\r\nContent-Type: text/html\r\n\r\n" + c * n


def _from(c: bytes, n: int) -> bytes:
    return b"From: " + c * (n // 2) + b" <a@b.example>" + c * (n // 2) + b"\r\n\r\nx"


def _subject(c: bytes, n: int) -> bytes:
    return b"Subject: =?utf-8?q?" + c * n + b"?=\r\nFrom: a@b.example\r\n\r\nx"


def _nested(c: bytes, n: int) -> bytes:
    return b"From: " + b"(" * (n // 2) + c + b")" * (n // 2) + b" a@b.example\r\n\r\nx"


def _headers(c: bytes, n: int) -> bytes:
    return b"".join(b"X-" + c + b": " + c + b"\r\n" for _ in range(n // 8)) + b"\r\nbody"


def _boundaries(c: bytes, n: int) -> bytes:
    head = b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
    return head + (b"--b\r\n\r\n" + c + b"\r\n") * (n // 10)


def _wrappers(c: bytes, n: int) -> bytes:
    """Wrappers in wrappers (Mailman's DMARC wrap_message), then one whose first part
    holds a message among many delimiter lines."""
    head = b"Content-Type: message/rfc822\r\n\r\n" * (n // 40)
    mixed = b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
    inner = b"Content-Type: message/rfc822\r\n\r\nFrom: a@b.example\r\n\r\n"
    return head + mixed + inner + (c * 30 + b"\r\n--b\r\n") * (n // 40)


SHAPES: list[Shape] = [_html, _from, _subject, _nested, _headers, _boundaries, _wrappers]
SMALL = 40_000
FLOOR = 0.005


def _cost(raw: bytes) -> float:
    best = float("inf")
    for _ in range(2):
        start = time.process_time()
        parse(raw, "a@b.example", "node.example")
        extract(raw)
        best = min(best, time.process_time() - start)
    return best


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    shape=st.sampled_from(SHAPES),
    char=st.sampled_from([b"<", b"(", b"a", b"=", b" ", b"@", b";", b"\\", b"\xff"]),
)
def test_reading_grows_linearly_on_adversarial_input(shape: Shape, char: bytes) -> None:
    small, large = _cost(shape(char, SMALL)), _cost(shape(char, 8 * SMALL))
    assert large / max(small, FLOOR) < 24, (shape.__name__, char, small, large)

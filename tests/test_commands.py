"""Reading a message to LIST-request: what a user writes, what we run, what we skip."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from listfed.robots.commands import Command, Reading, Verb, read_commands

HEADERS = "From: Bob <bob@example.net>\nTo: team-request@lists.example.org\n"


def mail(body: str = "", subject: str = "", extra: str = "") -> bytes:
    # surrogateescape: "\udcfc" in a test's text stands for the raw byte 0xfc
    return f"{HEADERS}Subject: {subject}\n{extra}\n{body}".encode("utf-8", "surrogateescape")


def verbs(reading: Reading) -> list[Verb]:
    return [c.verb for c in reading.commands]


def only(line: str) -> Command:
    reading = read_commands(mail(line))
    assert len(reading.commands) == 1, reading
    return reading.commands[0]


@pytest.mark.parametrize(
    "subject",
    [
        "subscribe",
        "Re: subscribe",
        "RE: [team] AW[2]: Fwd: subscribe",
        "=?utf-8?q?subscribe?=",
    ],
)
def test_subject_is_the_first_command(subject: str) -> None:
    reading = read_commands(mail("", subject))
    assert reading == Reading((Command(Verb.SUBSCRIBE, (), "subscribe"),), (), 0)


def test_subject_that_is_no_command_does_not_stop_the_body() -> None:
    reading = read_commands(mail("subscribe\nset delivery digest\n", "Please add me"))
    assert verbs(reading) == [Verb.SUBSCRIBE, Verb.SET]
    assert reading.not_understood == ("Please add me",)
    assert reading.ignored == 0


def test_subject_repeated_as_body_runs_once() -> None:
    reading = read_commands(mail("Subscribe\nhelp\n", "subscribe"))
    assert verbs(reading) == [Verb.SUBSCRIBE, Verb.HELP]


def test_several_commands_in_the_body() -> None:
    body = "  subscribe   <Bob@EXAMPLE.net>\n\n\tSET Delivery Digest\nhelp me please\n"
    body += "confirm Ab-12_cd34\n"
    reading = read_commands(mail(body))
    assert [(c.verb, c.args, c.error) for c in reading.commands] == [
        (Verb.SUBSCRIBE, ("Bob@example.net",), ""),
        (Verb.SET, ("delivery", "digest"), ""),
        (Verb.HELP, (), ""),
        (Verb.CONFIRM, ("Ab-12_cd34",), ""),
    ]
    assert reading.commands[0].line == "subscribe <Bob@EXAMPLE.net>"
    assert (reading.not_understood, reading.ignored) == ((), 0)


@pytest.mark.parametrize(
    "stopper",
    [
        "-- ",
        "--",
        "> subscribe",
        ">subscribe",
        "On Mon, 1 Jan 2024 at 10:00, Alice <alice@example.org> wrote:",
        "On Mon, 1 Jan 2024 at 10:00 Alice Example <\nalice@example.org> wrote:",
        "Alice schrieb:",
        "Am 01.01.24 um 10:00 schrieb Alice Example:",
        "Le lun. 1 janv. 2024, Alice a écrit :",
        "-----Original Message-----",
        "________________________________",
        "end",
        "STOP",
        "Thanks!",
        "thank you.",
    ],
)
def test_reading_stops_silently(stopper: str) -> None:
    reading = read_commands(mail(f"help\n{stopper}\nsubscribe\nfoo bar\n"))
    assert reading == Reading((Command(Verb.HELP, (), "help"),), (), 0)


def test_a_reply_quoting_the_help_text_runs_only_what_was_written() -> None:
    body = (
        "unsubscribe\n\n"
        "On Mon, 1 Jan 2024 at 10:00, team-request@lists.example.org wrote:\n"
        "> To join, send:\n>\n> subscribe\n> set delivery digest\n"
    )
    reading = read_commands(mail(body, "Re: Help for team@lists.example.org"))
    assert verbs(reading) == [Verb.HELP, Verb.UNSUBSCRIBE]  # the subject still says help
    assert (reading.not_understood, reading.ignored) == ((), 0)


def test_first_unknown_line_is_reported_and_the_rest_counted() -> None:
    body = "subscribe\nand my wife too please\nhelp\n\n\nBob\n"
    reading = read_commands(mail(body))
    assert verbs(reading) == [Verb.SUBSCRIBE]
    assert reading.not_understood == ("and my wife too please",)
    assert reading.ignored == 2


def test_unknown_lines_are_collapsed_and_clipped() -> None:
    reading = read_commands(mail("please   add\tme " + "x" * 500))
    assert reading.not_understood == (("please add me " + "x" * 500)[:200],)


def test_html_only_mail() -> None:
    html = (
        "<html><head><style>p { subscribe: 1 }</style><script>help()</script></head>"
        "<body><p>subscribe</p><div>set&nbsp;delivery&nbsp;digest</div>"
        "confirm abcd&#45;1234<br/>"
        "<blockquote>unsubscribe</blockquote></body></html>"
    )
    reading = read_commands(mail(html, extra="Content-Type: text/html; charset=utf-8\n"))
    assert [(c.verb, c.args) for c in reading.commands] == [
        (Verb.SUBSCRIBE, ()),
        (Verb.SET, ("delivery", "digest")),
        (Verb.CONFIRM, ("abcd-1234",)),
    ]
    assert reading.not_understood == ()


def test_plain_part_wins_and_attachments_are_not_read() -> None:
    msg = EmailMessage()
    msg["Subject"] = ""
    msg.set_content("<p>unsubscribe</p>", subtype="html")
    msg.add_alternative("subscribe\n")
    msg.add_attachment("unsubscribe\n", filename="notes.txt")
    assert verbs(read_commands(msg.as_bytes())) == [Verb.SUBSCRIBE]


@pytest.mark.parametrize(
    ("charset", "cte"),
    [("utf-8", "quoted-printable"), ("utf-8", "base64"), ("latin-1", "8bit")],
)
def test_encoded_bodies(charset: str, cte: str) -> None:
    msg = EmailMessage()
    msg["Subject"] = "Grüße"
    msg.set_content("set nomail on\nGrüße, Jürgen\nhelp\n", charset=charset, cte=cte)
    reading = read_commands(msg.as_bytes())
    assert [c.args for c in reading.commands] == [("delivery", "nomail")]
    assert reading.not_understood == ("Grüße", "Grüße, Jürgen")
    assert reading.ignored == 1


@pytest.mark.parametrize(
    ("extra", "read"),
    [
        ("Content-Type: text/plain; charset=x-no-such-charset\n", [Verb.HELP]),
        ("Content-Type: text/plain; charset=idna\n", [Verb.HELP]),  # rejects errors="replace"
        ("Content-Transfer-Encoding: base64\n", []),  # "help" is not base64 of anything useful
        ("Content-Transfer-Encoding: quoted-printable\n", [Verb.HELP]),
    ],
)
def test_broken_encodings_degrade(extra: str, read: list[Verb]) -> None:
    reading = read_commands(mail("help\n=\n\udcff\udcfe\n", "Gr\udcfc\udcdf", extra))
    assert verbs(reading) == read


def test_8bit_subject_is_read_as_utf8() -> None:
    reading = read_commands(f"{HEADERS}Subject: Grüße\n\nhelp\n".encode())
    assert reading.not_understood == ("Grüße",) and verbs(reading) == [Verb.HELP]


@pytest.mark.parametrize(
    ("word", "verb"),
    [
        ("join", Verb.SUBSCRIBE),
        ("JOIN", Verb.SUBSCRIBE),
        ("Subscribe", Verb.SUBSCRIBE),
        ("leave", Verb.UNSUBSCRIBE),
        ("signoff", Verb.UNSUBSCRIBE),
        ("UnSub", Verb.UNSUBSCRIBE),
        ("HELP", Verb.HELP),
    ],
)
def test_aliases(word: str, verb: Verb) -> None:
    assert only(word) == Command(verb, (), word)


@pytest.mark.parametrize(
    ("line", "args"),
    [
        ("subscribe bob@EXAMPLE.net", ("bob@example.net",)),
        ("unsubscribe <bob@example.net>", ("bob@example.net",)),
        ("leave Address=bob@example.net", ("bob@example.net",)),
        ("set digest on", ("delivery", "digest")),
        ("set digest off", ("delivery", "regular")),
        ("set nomail ON", ("delivery", "nomail")),
        ("set nomail off", ("delivery", "regular")),
        ("set delivery REGULAR", ("delivery", "regular")),
        ("confirm " + "A" * 128, ("A" * 128,)),
    ],
)
def test_arguments_are_normalised(line: str, args: tuple[str, ...]) -> None:
    command = only(line)
    assert (command.args, command.error) == (args, "")


@pytest.mark.parametrize(
    ("line", "verb", "error"),
    [
        ("subscribe x@", Verb.SUBSCRIBE, "not a valid mail address: 'x@'"),
        ("unsubscribe address=bob", Verb.UNSUBSCRIBE, "not a valid mail address: 'bob'"),
        ("subscribe a@example.net b@example.net", Verb.SUBSCRIBE, "use: subscribe [ADDRESS]"),
        ("set", Verb.SET, "use: set delivery regular|digest|nomail"),
        ("set delivery weekly", Verb.SET, "use: set delivery regular|digest|nomail"),
        ("set digest maybe", Verb.SET, "use: set delivery regular|digest|nomail"),
        ("confirm", Verb.CONFIRM, "use: confirm TOKEN"),
        ("confirm short", Verb.CONFIRM, "use: confirm TOKEN"),
        ("confirm abc!defgh12", Verb.CONFIRM, "use: confirm TOKEN"),
        ("confirm " + "a" * 129, Verb.CONFIRM, "use: confirm TOKEN"),
        ("confirm abcdefgh12 extra", Verb.CONFIRM, "use: confirm TOKEN"),
    ],
)
def test_argument_errors(line: str, verb: Verb, error: str) -> None:
    command = only(line)
    assert (command.verb, command.args) == (verb, ())
    assert command.error.startswith(error)


def test_a_huge_bad_address_is_not_echoed_whole() -> None:
    command = only("subscribe " + "a" * 100_000)
    assert command.error and len(command.error) < 200 and len(command.line) == 200


def test_limit() -> None:
    reading = read_commands(mail("help\n" * 25, "subscribe"))
    assert len(reading.commands) == 20 and reading.ignored == 6
    assert (read_commands(mail("help\nhelp\nhelp\n"), limit=2).ignored) == 1


def test_end_stops_reading() -> None:
    reading = read_commands(mail("subscribe\nEnd.\nsome advertising footer\n"))
    assert verbs(reading) == [Verb.SUBSCRIBE]
    assert (reading.not_understood, reading.ignored) == ((), 0)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00" * 100 + b"\xff\xfe",
        b"Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: text/plain\n\nhelp",
        b"Content-Type: multipart/mixed\n\nno boundary",
        b"Content-Type: text/html\n\n" + b"<script " * 50_000 + b"<" * 50_000,
        b"Content-Type: multipart/mixed; boundary=b\n\n" + b"--b\n" * 10_000,
    ],
)
def test_junk_does_not_raise(raw: bytes) -> None:
    assert isinstance(read_commands(raw), Reading)


def check(reading: Reading, limit: int) -> None:
    assert len(reading.commands) <= limit
    assert all(isinstance(c.verb, Verb) and len(c.line) <= 200 for c in reading.commands)
    assert all(len(line) <= 200 for line in reading.not_understood)
    assert reading.ignored >= 0


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.binary(max_size=2000), st.integers(min_value=0, max_value=25))
def test_never_raises_on_bytes(raw: bytes, limit: int) -> None:
    check(read_commands(raw, limit), limit)


LINES = st.sampled_from(["subscribe", "help", "set digest on", "confirm abcdefgh", "> x", "-- "])


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.text(max_size=200), st.lists(st.text(max_size=80) | LINES, max_size=30))
def test_never_raises_on_text(subject: str, lines: list[str]) -> None:
    raw = f"{HEADERS}Subject: {subject}\n\n" + "\n".join(lines)
    check(read_commands(raw.encode("utf-8", "surrogatepass")), 20)

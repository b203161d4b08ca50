"""The one body-text extractor: the archive, the pipeline and the command robot."""

from __future__ import annotations

from email.message import EmailMessage

from listfed.mail import body, mimeparse
from listfed.mail.htmltext import html_to_text
from listfed.mail.message import parse


def _html(markup: str) -> bytes:
    head = "From: a@example.org\nContent-Type: text/html; charset=utf-8\n\n"
    return (head + markup).encode()


def test_the_pipeline_reads_html_as_the_archive_does() -> None:
    assert parse(_html("<p>Some <b>bold</b> words</p><p>and more</p>")).body_text == (
        "Some bold words\n\nand more"
    )


def test_many_opening_brackets_are_read_in_linear_time() -> None:
    # re.sub(r"<[^>]*>") rescanned to the end from every "<": minutes on this.
    text = parse(_html("a " + "<" * 150_000 + " b <i>c</i>")).body_text
    assert text.startswith("a <<<") and text.endswith(" b c")


def test_quotes_are_marked_for_the_command_robot() -> None:
    markup = (
        "<p>help</p><blockquote><p>unsubscribe</p><blockquote>x<br>y</blockquote></blockquote>z"
    )
    assert html_to_text(markup, quotes=True) == "help\n\n> unsubscribe\n\n> > x\n> > y\n\nz"
    assert html_to_text(markup) == "help\n\nunsubscribe\n\nx\ny\n\nz"


def test_a_forwarded_message_is_read_only_when_asked() -> None:
    inner = EmailMessage()
    inner["Subject"] = "forwarded"
    inner.set_content("unsubscribe\n")
    outer = EmailMessage()
    outer["Subject"] = "fyi"
    outer.add_attachment(inner)
    msg = mimeparse.parse(outer.as_bytes())
    assert body.text(msg) == "unsubscribe\n"  # the archive indexes it: ours has no text
    assert body.text(msg, attached=False) == ""

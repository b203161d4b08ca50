"""Many transactions on one connection, each written with the one before it (RFC 2920).

One-click copies and VERP give each member a transaction of their own. RFC 2920 §3.1
lets a message's content be the first "command" of a pipelined group, and MAIL and RCPT
stand anywhere in one, DATA last: so the next transaction's MAIL, RCPT and DATA go in
the same write as this one's content, and a transaction costs one round trip, not two.
Replies come in order, so each recipient's outcome is exactly what the transactions
would have had one by one. Without PIPELINING they go one by one.
"""

from __future__ import annotations

from listfed.delivery.smtpclient import Outcome, Reply, SmtpClient, SmtpError, prepared

Transaction = tuple[str, list[str], bytes]  # MAIL FROM, the RCPT TOs, the message


class Interrupted(SmtpError):
    """The connection failed part-way: `done` holds the outcomes of the transactions
    decided before it, in order; the rest were not."""

    def __init__(self, message: str, done: list[Outcome]) -> None:
        super().__init__(message)
        self.done = done


async def send_chained(client: SmtpClient, transactions: list[Transaction]) -> list[Outcome]:
    """Each transaction's outcome, in order; Interrupted if the connection fails."""
    done: list[Outcome] = []
    try:
        if client.offers("PIPELINING"):
            await _chain(client, transactions, done)
        else:
            for mail_from, rcpts, data in transactions:
                done.append(await client.send(mail_from, rcpts, data))
    except SmtpError as exc:
        raise Interrupted(str(exc), done) from exc
    return done


async def _chain(client: SmtpClient, transactions: list[Transaction], done: list[Outcome]) -> None:
    content = b""  # the previous transaction's message, to open the next group
    waiting: tuple[Reply, list[Reply]] | None = None  # its MAIL and RCPT replies
    for mail_from, rcpts, data in transactions:
        commands = [*client.envelope(mail_from, rcpts, data), "DATA"]
        client.write(content + "".join(f"{c}\r\n" for c in commands).encode("utf-8"))
        if waiting is not None:  # the previous message's reply comes first: kept even
            (final,) = await client.replies(1)  # if the server hangs up after it
            done.append(Outcome(waiting[0], waiting[1], final))
        replies = await client.replies(len(commands))
        mail, rcpt_replies, data_reply = replies[0], replies[1:-1], replies[-1]
        accepted = mail.ok and any(r.ok for r in rcpt_replies)
        if accepted and data_reply.code == 354:
            content, waiting = prepared(data), (mail, rcpt_replies)
            continue
        content, waiting = b"", None
        done.append(Outcome(mail, rcpt_replies, data_reply if accepted else None))
        if data_reply.code == 354:  # nobody accepted, yet 354 (PIPELINING): end it empty
            client.write(b".\r\n")
            await client.replies(1)
        await client.reset()  # decided already: a server that hangs up costs no outcome
    if waiting is not None:
        client.write(content)
        (final,) = await client.replies(1)
        done.append(Outcome(waiting[0], waiting[1], final))

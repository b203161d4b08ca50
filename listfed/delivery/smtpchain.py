"""Many transactions on one connection, each written with the one before it (RFC 2920).

One-click copies and VERP give each member a transaction of their own. RFC 2920 §3.1
lets a message's content be the first "command" of a pipelined group, and MAIL and RCPT
stand anywhere in one, DATA last: so the next transaction's MAIL, RCPT and DATA go in
the same write as this one's content, and a transaction costs one round trip, not two.
Replies come in order, so each recipient's outcome is exactly what the transactions
would have had one by one. Without PIPELINING they go one by one.

Where the server offers CHUNKING too (RFC 3030, as Postfix does), each message goes as
`BDAT n LAST` right behind its envelope: a BDAT needs no reply before the next command
(§4.2), so a whole group of transactions is one write and one round trip.
"""

from __future__ import annotations

from listfed.delivery.smtpclient import Outcome, Reply, SmtpClient, SmtpError, in_crlf, prepared

Transaction = tuple[str, list[str], bytes]  # MAIL FROM, the RCPT TOs, the message
AT_ONCE = 64  # transactions in one write with CHUNKING; their replies are then read


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
        if client.offers("PIPELINING") and client.offers("CHUNKING"):
            await _chunked(client, transactions, done)
        elif client.offers("PIPELINING"):
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


async def _chunked(
    client: SmtpClient, transactions: list[Transaction], done: list[Outcome]
) -> None:
    """Each group's transactions in one write, then their replies, read transaction by
    transaction so that a connection lost part-way keeps the ones already decided.

    Each ends with RSET: after a refused BDAT (nobody accepted, or the content refused)
    the transaction's state is undefined and must be cleared (RFC 3030 §2), and the next
    MAIL is already on its way; after a message taken, RSET changes nothing. A server
    must answer RSET 250 (RFC 5321 §4.1.1.5): any other answer ends the connection, and
    the transactions after it are tried again on a new one."""
    for start in range(0, len(transactions), AT_ONCE):
        group = transactions[start : start + AT_ONCE]
        client.write(b"".join(_bdat(client, t) for t in group))
        after = 0  # the RSET's reply before the next transaction's: a copy is decided
        for _mail_from, rcpts, _data in group:  # by its own replies, whatever follows
            replies = await client.replies(after + len(rcpts) + 2)
            if after:
                _reset(client, replies[0])
            mail, *rcpt_replies, final = replies[after:]
            accepted = mail.ok and any(r.ok for r in rcpt_replies)
            done.append(Outcome(mail, rcpt_replies, final if accepted else None))
            after = 1
        _reset(client, (await client.replies(1))[0])


def _reset(client: SmtpClient, reply: Reply) -> None:
    if not reply.ok:
        client.close()
        raise SmtpError(f"{client.host} answered RSET with {reply}")


def _bdat(client: SmtpClient, transaction: Transaction) -> bytes:
    """One transaction on the wire: envelope, `BDAT n LAST`, the message as it is (no
    dots stuffed, no end line: the count frames it), RSET."""
    mail_from, rcpts, data = transaction
    message = in_crlf(data)
    commands = [*client.envelope(mail_from, rcpts, message), f"BDAT {len(message)} LAST"]
    return "".join(f"{c}\r\n" for c in commands).encode("utf-8") + message + b"RSET\r\n"

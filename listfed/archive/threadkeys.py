"""What a message says about its place in a thread: the ids it cites, its subject key."""

from __future__ import annotations

import re
from collections.abc import Sequence

MAX_CHAIN = 50  # cited ids used, the most recent: older ones add nothing but cost

# Reply prefixes as mail clients localise them ("AW:" German, "SV:" Nordic, "Antw:" Dutch,
# "R:" Italian), with a count as some clients write it ("RE[2]:", "Re^3:"). "Fwd:" is not
# a reply: a forwarded message starts a conversation of its own.
# The first run of blanks is possessive: the same matches, but a run not followed by a colon
# is not tried again split between the two \s* (quadratic in the run's length).
_REPLY = re.compile(r"(?:re|aw|sv|antw|r)\s*+(?:\[\d+\]|\(\d+\)|\^\d+)?\s*[:：]", re.IGNORECASE)
_TAG = re.compile(r"\[[^\]]*\]")
_SPACE = re.compile(r"\s+")


def bare_id(message_id: str) -> str:
    """A Message-ID without its angle brackets."""
    return message_id.strip().strip("<>").strip()


def parent_chain(references: Sequence[str], in_reply_to: str, message_id: str) -> list[str]:
    """The ids a message cites, oldest first, each once, without its own id."""
    ids = [bare_id(r) for r in references]
    if (irt := bare_id(in_reply_to)) and (not ids or ids[-1] != irt):
        ids.append(irt)
    own = bare_id(message_id)
    return list(dict.fromkeys(i for i in ids if i and i != own))[-MAX_CHAIN:]


def subject_key(subject: str) -> tuple[str, bool]:
    """The subject without reply prefixes and list tags, case folded; and if it had a prefix."""
    pos, reply, end = 0, False, len(subject)
    while True:
        while pos < end and subject[pos].isspace():
            pos += 1
        if found := _TAG.match(subject, pos):
            pos = found.end()
        elif found := _REPLY.match(subject, pos):
            pos, reply = found.end(), True
        else:
            break
    return _SPACE.sub(" ", subject[pos:]).strip().casefold(), reply

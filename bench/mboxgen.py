#!/usr/bin/env python3
"""A realistic mailing-list archive as an mboxrd file, for the archive benchmark.

    python bench/mboxgen.py -n 100000 -o /tmp/archive100k.mbox [--seed 1] [--pipermail]
        [--prose DIR]

Ten years of one list's traffic: about 300 authors (some prolific, some with non-ASCII
names in RFC 2047), threads (30 % new, the rest replies quoting their parent, with
References and In-Reply-To, In-Reply-To only, or nothing but the "Re:" subject), the
headers a list post carries (Received, DKIM-Signature, ARC-*, List-*), bodies in utf-8
or iso-8859-1, 8bit, quoted-printable or base64, some multipart/alternative with HTML,
a few attachments. The text is drawn from a fixed vocabulary of organising, meeting
and policy words with a Zipf-like frequency, plus French, Spanish and German words with
diacritics, so the benchmark's queries know what they will find (see VOCABULARY).
The same seed gives the same bytes.

With --prose DIR the bodies are real technical text instead: each is a few consecutive
blank-line separated blocks of one .py file under DIR (docstrings, comments and code, line
for line; on into the next file if it ends; directories named test, tests, idle_test and
site-packages are skipped), as long as the vocabulary bodies would be: e.g. --prose
/usr/lib/python3.11 for a technical list such as R-devel. Everything else is drawn as
before; the same seed and the same DIR give the same bytes. The benchmark's queries find
fewer answers there: their words are the vocabulary's.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import html
import itertools
import re
import sys
import textwrap
import time
import unicodedata
from bisect import bisect
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.header import Header
from email.utils import format_datetime, formataddr
from pathlib import Path
from random import Random
from typing import BinaryIO
from urllib.parse import quote

from listfed.archive.mbox import write_entry

_WRAP = re.compile(r"(\S(?:.{0,70}\S)?)(?: +|$)")  # lines of at most 72 characters
START = datetime(2015, 1, 1, tzinfo=UTC).timestamp()
SPAN = 10 * 365.25 * 86400  # the archive covers ten years whatever its size


def _split(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# -- the vocabulary ---------------------------------------------------------------------
# Function words are drawn about as often as content words, as in real prose: they make
# the index as large as a real one would be (FTS5 has no stop words).
FUNCTION = _split(
    "the to and of we a in for that is on it be this will i with at are as can have "
    "our not from by you if or all so but about would there should was they an do "
    "what more next some need also just any which up time think one who out"
)

# Content words, most frequent first: the rank sets the frequency (weight 1 / (rank + 8),
# flatter at the top than a pure Zipf law, so that no word fills every line).
CONTENT = _split(
    "meeting list people members group work week please thanks agenda budget proposal "
    "minutes vote motion committee assembly draft campaign union meeting_notes "
    "tenants rent housing volunteers chapter council report discussion support "
    "statement policy event members_list organising action plan date venue "
    "question update notes point decision consensus quorum treasurer secretary "
    "delegate federation outreach leaflets posters canvass transport childcare "
    "accessibility solidarity fund strike workers contract bargaining grievance "
    "election candidates ballot nominations bylaws constitution amendment "
    "subcommittee facilitator timekeeper notetaker chair agenda_item "
    "réunion demonstration march rally petition signatures coalition partners "
    "neighbourhood community centre library hall rooms booking deposit invoice "
    "receipt reimbursement expenses accounts audit donations fundraising grant "
    "application deadline timeline schedule calendar zoom call online hybrid "
    "newsletter website social_media press release journalists interview "
    "training workshop session speakers panel facilitation accessibility_needs "
    "interpretation translation captions spanish french german "
    "compañeros asamblea organización huelga sindicato vivienda alquiler "
    "solidarité syndicat grève comité assemblée collectif travailleurs "
    "Versammlung Mitglieder Gewerkschaft Genossenschaft Mietstreik Arbeitsgruppe "
    "über für Vorschlag Bürgerinitiative Straße "
    "feedback concerns objections amendments friendly clarify summary "
    "followup action_items responsible volunteer rota shifts stall market "
    "leafleting doorknocking phonebank doorknock flyers banner placards "
    "safety stewards marshals legal observers police permit route "
    "caucus delegates conference regional national international branch "
    "membership dues subscriptions renewal database spreadsheet signup form "
    "survey results turnout attendance apologies absent present guests "
    "welcome introductions icebreaker breakout groups report_back plenary "
    "evictions landlord repairs damp mould inspection council_tax deposit_scheme "
    "benefits welfare advice casework surgery helpline referrals "
    "climate transport_policy cycling buses fares pedestrians air_quality "
    "school parents teachers nursery playground youth club elders pensioners "
    "food bank pantry kitchen meals catering allergies vegan halal "
    "code_of_conduct safeguarding complaints mediation accountability transparency "
    "archive records minutes_archive document shared drive folder "
    "encryption passwords security privacy data_protection consent "
    "mutual_aid general_assembly rent_strike working_group steering_committee "
    "annual_general_meeting direct_action"
)

# Rare words: one sentence in about 250 has one, so each is in roughly 1 % of messages.
RARE = _split("sortition quorate filibuster ombudsperson gerrymander syndicalism")

# Tokens joined by "_" above are phrases: they are written with spaces, so that a
# "phrase" query has adjacent words to find.
VOCABULARY = tuple(w.replace("_", " ") for w in CONTENT)

GREETINGS = (
    "Hi all,",
    "Hello everyone,",
    "Hi {first},",
    "Dear all,",
    "Dear comrades,",
    "Hey folks,",
    "Hola a todos,",
    "Bonjour à tous,",
    "Hallo zusammen,",
    "Good morning,",
    "{first},",
)
CLOSINGS = (
    "Thanks,",
    "Best,",
    "In solidarity,",
    "Cheers,",
    "Saludos,",
    "Amitiés,",
    "Viele Grüße,",
    "Thanks again,",
    "Best wishes,",
    "Love and solidarity,",
)
TEMPLATES = (
    "Can we add the {w} to the agenda for {day}?",
    "I have attached the {w} from last {day}.",
    "Thanks {first}, that sounds good to me.",
    "+1 to what {first} said about the {w}.",
    "I can't make it on {day}, apologies.",
    "The {w} is due by the end of the month.",
    "Does anyone have the link to the {w} document?",
    "Reminder: the {w} meeting is on {day} at 7pm.",
    "I agree with the {w} but we need to talk about the {w2} first.",
    "Could the {w} group report back at the next general assembly?",
)
DAYS = _split("Monday Tuesday Wednesday Thursday Friday Saturday Sunday")

# The first authors are fixed and the most prolific, so that from: queries have a known
# answer; the rest are drawn from the name lists below.
FIXED_AUTHORS = (
    ("Ada Lovelace", "ada.lovelace@example.org"),
    ("Amara Okafor", "amara@union.example"),
    ("José García", "jose.garcia@riseup.example"),
    ("Priya Raman", "priya.raman@outlook.example"),
    ("Ben Carter", "ben@coop.example"),
    ("Zoë Müller", "zoe.mueller@posteo.example"),
    ("Tom Hughes", "t.hughes@tenants.example"),
    ("François Lefèvre", "flefevre@free.example"),
)
# About one author in four has a name outside ASCII, as on an international list.
FIRST = _split(
    "Alice Ben Carla Dmitri Elena Farah Gustav Hana Ines Jonas Kofi Lena Marco Nadia Olu "
    "Paula Quinn Rosa Sam Tariq Ursula Victor Wen Ximena Yusuf Zainab Mark Sarah David "
    "Laura Peter Anna James Maria Chris Emma Daniel Julia"
)
FIRST_INTL = _split(
    "Anaïs Björn Chloé Dörte Émile Jürgen Begoña Iñaki Mónica Nuño Renée Sébastien Ayşe "
    "Çağrı Maëlle Noé Raúl Sofía Tomás Hélène Grégoire Małgorzata Zoltán"
)
LAST = _split(
    "Smith Jones Brown Taylor Wilson Evans Thomas Roberts Walker Wright Khan Patel Singh "
    "Murphy Kelly Schmidt Fischer Weber Meyer Wagner Becker Martin Bernard Dubois Durand "
    "Moreau Rossi Bianchi Nowak Kowalski Hoffmann Larsen Lindqvist Garcia Lopez Baker"
)
LAST_INTL = _split(
    "Fernández López Martínez Sánchez Pérez Gómez Öztürk Yılmaz Jäger Schäfer Krüger "
    "Gonçalves Ibáñez Núñez Nørgaard Åberg Ó_Briain"
)
DOMAINS = (
    "gmail.example",
    "riseup.example",
    "posteo.example",
    "outlook.example",
    "free.example",
    "web.example",
    "protonmail.example",
    "yahoo.example",
    "union.example",
    "coop.example",
    "tenants.example",
    "uni.example",
)
ZONES = (0, 0, 60, 60, 60, 120, -300, -300, -240, -180, 330, -480, 0, 60)
AGENTS = (
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Thunderbird/{v}.0",
    "X-Mailer: Apple Mail (2.{v}00)",
    "X-Mailer: Microsoft Outlook 16.0",
    "User-Agent: Mutt/1.{v}.0 (2018-10-07)",
    "User-Agent: K-9 Mail for Android",
    "User-Agent: Roundcube Webmail/1.{v}",
    "",
)
SIGNOFF_ROLES = (
    "Secretary",
    "Treasurer",
    "Outreach coordinator",
    "Housing working group",
    "Member",
    "Delegate to the regional council",
    "",
    "",
    "",
)


@dataclass(frozen=True, slots=True)
class Author:
    name: str  # "" for a bare address
    address: str
    header: str  # the From: value, RFC 2047 encoded when needed
    zone: int  # minutes east of UTC
    agent: str
    role: str

    @property
    def first(self) -> str:
        return self.name.split()[0] if self.name else self.address.split("@")[0]


@dataclass(slots=True)
class Post:
    """What a reply needs of its parent."""

    message_id: str | None
    references: tuple[str, ...]
    author: Author
    date: float
    excerpt: tuple[str, ...]  # lines of its text a reply may quote


@dataclass(slots=True)
class Thread:
    subject: str
    posts: list[Post] = field(default_factory=list)


@dataclass(slots=True)
class Stats:
    messages: int = 0
    bytes: int = 0
    threads: int = 0
    replies: int = 0
    in_reply_to_only: int = 0
    subject_only: int = 0
    no_message_id: int = 0
    html: int = 0
    attachments: int = 0
    non_ascii_from: int = 0
    charsets: dict[str, int] = field(default_factory=dict)
    encodings: dict[str, int] = field(default_factory=dict)
    sizes: list[int] = field(default_factory=list)


def _ascii(text: str) -> str:
    text = text.replace("ß", "ss").replace("ł", "l").replace("Ł", "L").replace("ø", "o")
    text = text.replace("ı", "i").replace("_", " ")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


PROSE_SKIP = frozenset(("test", "tests", "idle_test", "site-packages", "__pycache__"))


def read_prose(root: Path) -> list[str]:
    """The blank-line separated blocks of the .py files under `root`, in path order."""
    blocks = []
    for path in sorted(root.rglob("*.py")):
        if PROSE_SKIP.intersection(path.relative_to(root).parts[:-1]):
            continue
        text = path.read_text(encoding="utf-8", errors="replace").replace("\r", "")
        text = "\n".join(line.rstrip() for line in text.split("\n"))
        blocks += [textwrap.dedent(b).strip("\n") for b in text.split("\n\n") if b.strip()]
    if not blocks:
        raise SystemExit(f"--prose {root}: no .py file with text")
    return blocks


def _weights(n: int, exponent: float, offset: int = 1) -> list[float]:
    return list(itertools.accumulate(1 / (rank + offset) ** exponent for rank in range(n)))


class Generator:
    """Draws messages one after the other; all randomness from one seeded Random."""

    def __init__(
        self,
        seed: int,
        count: int,
        list_address: str,
        pipermail: bool = False,
        prose: Path | None = None,
    ) -> None:
        self.rng = Random(seed)
        self.pipermail = pipermail
        self.prose = read_prose(prose) if prose is not None else None  # --prose: its blocks
        self.count = count
        self.list = list_address
        local, _, domain = list_address.partition("@")
        self.list_local, self.list_domain = local, domain
        # function words weigh as much together as the content words do
        content = _weights(len(VOCABULARY), 1.0, 8)
        share = content[-1] / len(FUNCTION)
        self.tokens = [*VOCABULARY, *FUNCTION]
        self.content_cum = content
        self.cum = content + [content[-1] + share * (i + 1) for i in range(len(FUNCTION))]
        self.authors = self._authors(300)
        self.author_cum = _weights(len(self.authors), 0.9)
        self.gap = SPAN / max(count, 1)
        self.now = START
        self.active: deque[Thread] = deque(maxlen=400)  # threads a reply may go to
        self.stats = Stats()
        self.number = 0

    # -- people -----------------------------------------------------------------------

    def _authors(self, n: int) -> list[Author]:
        rng = self.rng
        names = list(FIXED_AUTHORS)
        seen = {a for _, a in names}
        while len(names) < n:
            intl = rng.random() < 0.22
            first = rng.choice(FIRST_INTL if intl and rng.random() < 0.5 else FIRST)
            last = rng.choice(LAST_INTL if intl else LAST).replace("_", " ")
            plain = _ascii(f"{first} {last}").lower().split()
            local = rng.choice(
                (
                    f"{plain[0]}.{plain[-1]}",
                    f"{plain[0][0]}{plain[-1]}",
                    f"{plain[0]}{plain[-1]}",
                    f"{plain[0]}{rng.randint(1, 99)}",
                    f"{plain[0]}_{plain[-1]}",
                )
            )
            address = f"{local}@{rng.choice(DOMAINS)}"
            if address in seen:
                continue
            seen.add(address)
            name = f"{last}, {first}" if rng.random() < 0.05 else f"{first} {last}"
            names.append(("" if rng.random() < 0.04 else name, address))
        authors = []
        for name, address in names:
            header = formataddr((name, address), charset="utf-8") if name else address
            agent = rng.choice(AGENTS).format(v=rng.randint(3, 115))
            authors.append(
                Author(name, address, header, rng.choice(ZONES), agent, rng.choice(SIGNOFF_ROLES))
            )
        return authors

    def _author(self) -> Author:
        rng = self.rng
        return self.authors[bisect(self.author_cum, rng.random() * self.author_cum[-1])]

    # -- text -------------------------------------------------------------------------

    def _words(self, k: int) -> list[str]:
        return self.rng.choices(self.tokens, cum_weights=self.cum, k=k)

    def _content_word(self) -> str:
        return self.rng.choices(VOCABULARY, cum_weights=self.content_cum)[0]

    def _sentence(self) -> str:
        rng = self.rng
        if rng.random() < 0.2:
            return rng.choice(TEMPLATES).format(
                w=self._content_word(),
                w2=self._content_word(),
                day=rng.choice(DAYS),
                first=self._author().first,
            )
        words = self._words(rng.randint(6, 18))
        if rng.random() < 0.004:
            words[rng.randrange(len(words))] = rng.choice(RARE)
        end = "?" if rng.random() < 0.12 else "."
        text = " ".join(words)
        return text[0].upper() + text[1:] + end

    def _paragraphs(self, size: int) -> list[str]:
        rng = self.rng
        paragraphs: list[str] = []
        total = 0
        while total < size:
            para = " ".join(self._sentence() for _ in range(rng.randint(1, 5)))
            paragraphs.append(para)
            total += len(para) + 2
        return paragraphs

    def _prose_blocks(self, size: int) -> list[str]:
        """Consecutive blocks from a random one on (into the next file if this one ends),
        about `size` characters: a long block (a table, a long docstring) is cut there."""
        assert self.prose is not None
        b = self.rng.randrange(len(self.prose))
        out: list[str] = []
        total = 0
        while total < size:
            kept: list[str] = []
            for line in self.prose[b % len(self.prose)].split("\n"):
                if kept and total + len(line) > size + 400:
                    break
                kept.append(line)
                total += len(line) + 1
            out.append("\n".join(kept))
            total += 1
            b += 1
        return out

    def _lines(self, para: str) -> list[str]:
        return para.split("\n") if self.prose is not None else self._wrap(para)

    def _body_size(self) -> int:
        rng = self.rng
        if rng.random() < 0.015:  # minutes pasted in full, long reports
            return rng.randint(10_000, 32_000)
        return min(int(rng.lognormvariate(6.9, 0.6)), 9_000)

    # -- one message ------------------------------------------------------------------

    def message(self) -> tuple[bytes, str, float]:
        """The next message: raw bytes, envelope sender, arrival time."""
        rng = self.rng
        st = self.stats
        self.number += 1
        self.now += rng.expovariate(1 / self.gap)
        author = self._author()
        thread, parent = self._thread()
        kind = "new"
        if parent is not None:
            st.replies += 1
            roll = rng.random()
            kind = "full" if roll < 0.85 else "irt" if roll < 0.96 else "subject"
        message_id = None if rng.random() < 0.02 else self._message_id(author)
        references: tuple[str, ...] = ()
        if parent is not None:
            chain = parent.references + ((parent.message_id,) if parent.message_id else ())
            references = chain if len(chain) <= 12 else chain[:1] + chain[-10:]

        size = self._body_size()
        own = self._prose_blocks(size) if self.prose is not None else self._paragraphs(size)
        lines = self._text(author, own, parent)
        excerpt = tuple(self._lines(own[0])[:6])
        if message_id is not None or parent is None:
            post = Post(message_id, references, author, self.now, excerpt)
            thread.posts.append(post)

        heads = self._headers(author, thread, parent, kind, message_id, references)
        body_head, body = self._body(lines)
        if self.pipermail:  # the same draws, as a pipermail archive keeps them
            heads, body_head, body = _pipermail(heads, author), PLAIN, "\n".join(lines).encode()
            body += b"\n"
        # a non-ASCII first name in an In-Reply-To comment makes an 8-bit header, as in life
        raw = (heads + body_head + "\n").encode() + body
        st.messages += 1
        st.bytes += len(raw)
        st.sizes.append(len(raw))
        st.no_message_id += message_id is None
        st.in_reply_to_only += kind == "irt"
        st.subject_only += kind == "subject"
        st.non_ascii_from += "=?" in author.header
        return raw, author.address, self.now + rng.uniform(1, 90)

    def _thread(self) -> tuple[Thread, Post | None]:
        rng = self.rng
        if not self.active or rng.random() < 0.30:
            words = [self._content_word() for _ in range(rng.randint(2, 6))]
            subject = " ".join(words)
            subject = subject[0].upper() + subject[1:]
            if rng.random() < 0.15:
                subject = rng.choice(("Agenda: ", "Minutes: ", "[ACTION] ", "Proposal: ")) + subject
            thread = Thread(subject)
            self.active.append(thread)
            self.stats.threads += 1
            return thread, None
        # recent threads are the lively ones
        back = min(int(rng.expovariate(1 / 15)), len(self.active) - 1)
        thread = self.active[len(self.active) - 1 - back]
        posts = thread.posts
        parent = posts[-1] if rng.random() < 0.6 else rng.choice(posts)
        return thread, parent

    def _message_id(self, author: Author) -> str:
        rng = self.rng
        domain = author.address.split("@")[1]
        style = rng.random()
        if style < 0.4:
            token = base64.b64encode(rng.randbytes(24), b"+_").decode().rstrip("=")
            return f"CA{token}@mail.{domain}"
        if style < 0.7:
            h = rng.randbytes(16).hex()
            return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}@{domain}"
        return f"{int(self.now)}.{self.number}.{rng.getrandbits(32):x}@{domain}"

    def _text(self, author: Author, own: list[str], parent: Post | None) -> list[str]:
        rng = self.rng
        lines = [rng.choice(GREETINGS).format(first=(parent.author if parent else author).first)]
        lines.append("")
        mine: list[str] = []
        for para in own:
            mine += self._lines(para)
            mine.append("")
        quote: list[str] = []
        if parent is not None and parent.excerpt and rng.random() < 0.9:
            quote = [self._attribution(parent), *(f"> {q}" for q in parent.excerpt), ""]
        if quote and rng.random() < 0.4:  # top-posting
            lines += mine + quote
        else:
            lines += quote + mine
        lines += [rng.choice(CLOSINGS), author.first if author.name else author.address]
        if author.role:
            lines += ["-- ", f"{author.name or author.address}", author.role]
        return lines

    def _attribution(self, parent: Post) -> str:
        rng = self.rng
        when = datetime.fromtimestamp(parent.date, timezone(timedelta(minutes=parent.author.zone)))
        who = parent.author.name or parent.author.address
        style = rng.random()
        if style < 0.6:
            return f"On {when:%a, %d %b %Y at %H:%M}, {who} <{parent.author.address}> wrote:"
        if style < 0.75:
            return f"Am {when:%d.%m.%Y} um {when:%H:%M} schrieb {who}:"
        if style < 0.88:
            return f"Le {when:%d/%m/%Y} à {when:%H:%M}, {who} a écrit :"
        return f"El {when.day}/{when.month}/{when.year} a las {when:%H:%M}, {who} escribió:"

    @staticmethod
    def _wrap(text: str) -> list[str]:
        return _WRAP.findall(text)

    # -- headers ----------------------------------------------------------------------

    def _headers(
        self,
        author: Author,
        thread: Thread,
        parent: Post | None,
        kind: str,
        message_id: str | None,
        references: tuple[str, ...],
    ) -> str:
        rng = self.rng
        when = datetime.fromtimestamp(self.now, timezone(timedelta(minutes=author.zone)))
        date = format_datetime(when)
        arrived = format_datetime(datetime.fromtimestamp(self.now + rng.uniform(1, 30), UTC))
        domain = author.address.split("@")[1]
        h = [f"Return-Path: <{self.list_local}-bounces@{self.list_domain}>"]
        qid = rng.randbytes(5).hex().upper()
        h.append(
            f"Received: from mail.{self.list_domain} (mail.{self.list_domain} [192.0.2.25])\n"
            f"\tby mx.reader.example (Postfix) with ESMTPS id {qid}\n"
            f"\tfor <reader@reader.example>; {arrived}"
        )
        for hop in range(rng.randint(1, 3)):
            ip = f"198.51.100.{rng.randint(1, 254)}"
            h.append(
                f"Received: from {'smtp' if hop else 'mail'}{hop}.{domain} "
                f"({'smtp' if hop else 'mail'}{hop}.{domain} [{ip}])\n"
                f"\tby {'mail.' + self.list_domain if not hop else 'relay.' + domain} "
                f"with ESMTPSA id {rng.randbytes(6).hex()};\n\t{date}"
            )
        if rng.random() < 0.85:
            h.append(
                self._signature(
                    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;",
                    f"d={domain}; s=s{when.year}; t={int(self.now)};",
                )
            )
        if rng.random() < 0.6:
            h.append(
                f"ARC-Seal: i=1; a=rsa-sha256; t={int(self.now)}; cv=none;\n"
                f"\td={self.list_domain}; s=arc-{when.year};\n\tb={self._b64(96)}"
            )
            h.append(
                self._signature(
                    "ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed;",
                    f"d={self.list_domain}; s=arc;",
                )
            )
            h.append(
                f"ARC-Authentication-Results: i=1; mail.{self.list_domain};\n"
                f"\tdkim=pass header.d={domain} header.s=s{when.year};\n"
                f"\tspf=pass (mail.{self.list_domain}: domain of {author.address} "
                f"designates 198.51.100.7 as permitted sender) smtp.mailfrom={author.address};\n"
                f"\tdmarc=pass (p=NONE sp=NONE dis=NONE) header.from={domain}"
            )
        h.append(f"From: {author.header}")
        h.append(f"To: {self.list}")
        if rng.random() < 0.1:
            other = self._author()
            h.append(f"Cc: {other.header}")
        h.append(f"Subject: {self._subject(thread, parent, kind)}")
        h.append(f"Date: {date}")
        if message_id is not None:
            h.append(f"Message-ID: <{message_id}>")
        if parent is not None and parent.message_id and kind in ("full", "irt"):
            extra = (
                f' ("{parent.author.first}\'s message of {date[:16]}")'
                if (rng.random() < 0.02)
                else ""
            )
            h.append(f"In-Reply-To: <{parent.message_id}>{extra}")
        if kind == "full" and references:
            h.append("References: " + "\n ".join(f"<{r}>" for r in references))
        h.append("MIME-Version: 1.0")
        if author.agent:
            h.append(author.agent)
        h.append(f"List-Id: Team discussion <{self.list_local}.{self.list_domain}>")
        h.append(
            f"List-Unsubscribe: <mailto:{self.list_local}-leave@{self.list_domain}>,\n"
            f" <https://{self.list_domain}/lists/{self.list_local}/unsubscribe>"
        )
        h.append(f"List-Post: <mailto:{self.list}>")
        h.append(f"List-Archive: <https://{self.list_domain}/archive/{self.list_local}/>")
        h.append("Precedence: list")
        return "\n".join(h) + "\n"

    def _b64(self, n: int) -> str:
        text = base64.b64encode(self.rng.randbytes(n)).decode()
        return "\n\t ".join(text[i : i + 70] for i in range(0, len(text), 70))

    def _signature(self, head: str, tags: str) -> str:
        bh = base64.b64encode(self.rng.randbytes(32)).decode()
        return (
            f"{head}\n\t{tags}\n\th=from:to:subject:date:message-id:mime-version:content-type;\n"
            f"\tbh={bh};\n\tb={self._b64(256)}"
        )

    def _subject(self, thread: Thread, parent: Post | None, kind: str) -> str:
        rng = self.rng
        subject = thread.subject
        if parent is not None:
            prefix = (
                "Re: "
                if kind == "subject"
                else rng.choice(("Re: ",) * 12 + ("RE: ", "Re: Re: ", "AW: ", "Re: [team] "))
            )
            subject = prefix + subject
        if subject.isascii():
            return subject
        return Header(subject, "utf-8", header_name="Subject").encode()

    # -- bodies -----------------------------------------------------------------------

    def _body(self, lines: list[str]) -> tuple[str, bytes]:
        """Content headers (with the blank line before the body) and the encoded body."""
        rng = self.rng
        st = self.stats
        text = "\n".join(lines) + "\n"
        roll = rng.random()
        html_part = roll < 0.08
        attach = 0.08 <= roll < 0.11
        plain_head, plain = self._encode_text(text, "plain")
        if not html_part and not attach:
            return plain_head, plain
        boundary = self._boundary()
        parts = [(plain_head, plain)]
        if html_part:
            st.html += 1
            parts.append(self._encode_text(self._html(lines), "html"))
            ctype = "alternative"
        else:
            st.attachments += 1
            parts.append(self._attachment())
            ctype = "mixed"
        out = [b"This is a multi-part message in MIME format.\n"]
        for head, body in parts:
            out.append(f"\n--{boundary}\n{head}\n".encode())
            out.append(body)
        out.append(f"\n--{boundary}--\n".encode())
        head = f'Content-Type: multipart/{ctype}; boundary="{boundary}"\n'
        return head, b"".join(out)

    def _boundary(self) -> str:
        if self.rng.random() < 0.5:
            return f"000000000000{self.rng.randbytes(10).hex()}"
        return f"----=_Part_{self.rng.randint(1, 99999)}_{self.rng.getrandbits(30)}.{int(self.now)}"

    def _encode_text(self, text: str, subtype: str) -> tuple[str, bytes]:
        rng = self.rng
        st = self.stats
        charset = "utf-8"
        if text.isascii():
            data = text.encode()
            charset = "us-ascii" if rng.random() < 0.3 else "utf-8"
        else:
            try:
                if rng.random() < 0.25:
                    data, charset = text.encode("iso-8859-1"), "iso-8859-1"
                else:
                    data = text.encode()
            except UnicodeEncodeError:
                data = text.encode()
        roll = rng.random()
        if subtype == "html" or roll < 0.18:
            cte, data = "quoted-printable", binascii.b2a_qp(data, istext=True)
        elif roll < 0.25 and not text.isascii():
            cte, data = "base64", base64.encodebytes(data)
        else:
            cte = "7bit" if text.isascii() else "8bit"
        st.charsets[charset] = st.charsets.get(charset, 0) + 1
        st.encodings[cte] = st.encodings.get(cte, 0) + 1
        flowed = "; format=flowed" if subtype == "plain" and rng.random() < 0.2 else ""
        head = (
            f'Content-Type: text/{subtype}; charset="{charset}"{flowed}\n'
            f"Content-Transfer-Encoding: {cte}\n"
        )
        return head, data

    @staticmethod
    def _html(lines: list[str]) -> str:
        out = ['<html><head><meta charset="utf-8"></head><body><div dir="ltr">']
        quoting = False
        para: list[str] = []

        def flush() -> None:
            if para:
                out.append("<p>" + html.escape(" ".join(para)) + "</p>")
                para.clear()

        for line in lines:
            if line.startswith("> ") != quoting:
                flush()
                quoting = not quoting
                out.append('<blockquote type="cite">' if quoting else "</blockquote>")
            if not line.strip():
                flush()
            else:
                para.append(line[2:] if quoting else line)
        flush()
        if quoting:
            out.append("</blockquote>")
        out.append("</div></body></html>")
        return "\n".join(out) + "\n"

    def _attachment(self) -> tuple[str, bytes]:
        rng = self.rng
        when = datetime.fromtimestamp(self.now, UTC)
        if rng.random() < 0.6:
            mime = "application/pdf"
            name = rng.choice(
                (
                    f"minutes-{when:%Y-%m-%d}.pdf",
                    "agenda_draft.pdf",
                    f"budget-{when.year}.pdf",
                    "Protokoll_März.pdf",
                    "propuesta_asamblea.pdf",
                    "statement final v3.pdf",
                )
            )
            data = (
                b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\n"
                b"endobj\n" + rng.randbytes(rng.randint(3_000, 30_000)) + b"\n%%EOF\n"
            )
        else:
            mime = "image/png"
            name = rng.choice(
                ("poster.png", "leaflet-front.png", "photo_rally.png", "affiche_grève.png")
            )
            data = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + rng.randbytes(
                rng.randint(2_000, 25_000)
            )
        if name.isascii():
            disp = f'attachment; filename="{name}"'
            ctype = f'{mime}; name="{name}"'
        else:  # RFC 2231, as Thunderbird writes it
            disp = f"attachment; filename*=utf-8''{quote(name)}"
            ctype = f"{mime}; name*=utf-8''{quote(name)}"
        head = (
            f"Content-Type: {ctype}\nContent-Disposition: {disp}\n"
            "Content-Transfer-Encoding: base64\n"
        )
        return head, base64.encodebytes(data)


# what a Mailman 2 pipermail archive (`2019-March.txt`) keeps of a post
PIPERMAIL_FIELDS = ("from", "date", "subject", "in-reply-to", "references", "message-id")
PLAIN = (
    "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n"
)


def _pipermail(heads: str, author: Author) -> str:
    """The header fields pipermail keeps, the author written "user at domain (Name)"."""
    fields: list[str] = []
    for line in heads.splitlines():
        if line[:1] in (" ", "\t"):
            fields[-1] += "\n" + line
        else:
            fields.append(line)
    kept = []
    for one in fields:
        name = one.partition(":")[0].lower()
        if name == "from":
            who = author.address.replace("@", " at ")
            one = f"From: {who} ({author.name})" if author.name else f"From: {who}"
        if name in PIPERMAIL_FIELDS:
            kept.append(one)
    return "\n".join(kept) + "\n"


def generate(
    out: BinaryIO,
    count: int,
    seed: int = 1,
    list_address: str = "team@bench.example",
    pipermail: bool = False,
    prose: Path | None = None,
) -> Stats:
    """Write `count` messages to `out` as mboxrd; the statistics of what was written."""
    gen = Generator(seed, count, list_address, pipermail, prose)
    for _ in range(count):
        raw, sender, arrived = gen.message()
        write_entry(out, raw, sender, arrived)
    return gen.stats


def describe(stats: Stats) -> str:
    sizes = sorted(stats.sizes) or [0]
    n = max(stats.messages, 1)

    def pct(p: float) -> str:
        return f"{sizes[min(len(sizes) - 1, int(p * len(sizes)))] / 1024:.1f}"

    return (
        f"{stats.messages:,} messages, {stats.bytes / 1e6:,.1f} MB of messages; "
        f"{stats.threads:,} threads, {stats.replies:,} replies "
        f"({stats.in_reply_to_only:,} In-Reply-To only, {stats.subject_only:,} subject only); "
        f"{stats.no_message_id:,} without Message-ID; {100 * stats.html / n:.1f}% with HTML, "
        f"{100 * stats.attachments / n:.1f}% with an attachment; "
        f"{100 * stats.non_ascii_from / n:.0f}% RFC 2047 From; "
        f"size KB p10 {pct(0.1)}, median {pct(0.5)}, p90 {pct(0.9)}, p99 {pct(0.99)}, "
        f"max {sizes[-1] / 1024:.1f}; charsets {stats.charsets}; encodings {stats.encodings}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("-n", "--messages", type=int, default=100_000)
    ap.add_argument("-o", "--output", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--list", default="team@bench.example", help="the list's address")
    ap.add_argument(
        "--pipermail",
        action="store_true",
        help="the same messages as a Mailman 2 pipermail archive keeps them: From, Date, "
        "Subject, Message-ID, In-Reply-To, References and the text, 8-bit, no HTML parts, "
        "attachments or signatures (for the database's size against a text archive)",
    )
    ap.add_argument(
        "--prose",
        type=Path,
        metavar="DIR",
        help="bodies of real technical text: consecutive blocks (docstrings, comments, code) "
        "of the .py files under DIR, e.g. a Python's lib/python3.X (test, tests, idle_test "
        "and site-packages skipped); the rest as without it",
    )
    args = ap.parse_args()
    started = time.perf_counter()
    with args.output.open("wb", buffering=1 << 20) as out:
        stats = generate(out, args.messages, args.seed, args.list, args.pipermail, args.prose)
    took = time.perf_counter() - started
    print(
        f"{args.output}: {describe(stats)}; {args.output.stat().st_size / 1e6:,.1f} MB file, "
        f"written in {took:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The archive search language, syntax only: tokens and a tree of terms (SPEC §6).

    query   := item (["AND"] item)*        items are AND-ed, "AND" or not
    item    := unary ("OR" unary)*         OR binds tighter than AND (as in Gmail)
    unary   := ["-" | "NOT "] ( "(" query ")" | term )
    term    := [field ":"] (word ["*"] | '"' phrase '"' ["*"])
    field   := from | subject | list | after | before   (any other name:value is a word)

AND, OR and NOT are operators in capitals only, as notmuch and Gmail users type them
(`a AND NOT b` is `a -b`); in lower case, or quoted, they are words.

Errors are QuerySyntaxError here; listfed.archive.query turns them into QueryError.

The tree is NamedTuples of listfed/records.py, as are the records of archive/query.py,
search.py and answers.py: `archive search` from the shell then imports neither
dataclasses (with inspect, ~8 ms) nor typing (3 ms), nor compiles an annotation string
per field (~1 ms a class); tests/test_quicksearch.py and test_cli_startup.py hold it to that.
"""

from __future__ import annotations

import enum

from listfed.records import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from typing import Literal

MAX_LENGTH = 1000
# FTS5's parser has a fixed stack (about 100 entries); the costliest nesting the compiler
# emits, `x OR (y z OR (...))`, overflows it at 17 levels (see test_deepest_nesting_runs)
MAX_DEPTH = 12


class QuerySyntaxError(ValueError):
    """A query that does not parse; the message is for the person who typed it."""


class Field(enum.Enum):
    TEXT = "text"
    FROM = "from"
    SUBJECT = "subject"
    LIST = "list"
    AFTER = "after"
    BEFORE = "before"


class Term(NamedTuple):
    field: Field
    text: str
    prefix: bool = False
    negated: bool = False
    pos: int = 0  # 1-based, for messages
    raw: str = ""
    quoted: bool = False  # "in quotes": the words as written, not their English stems


class And(NamedTuple):
    items: tuple[Node, ...]  # Node is defined below (annotations are not evaluated)
    negated: bool = False
    pos: int = 0


class Or(NamedTuple):
    items: tuple[Term | And, ...]


Node = Term | And | Or


_FIELDS = {f.value: f for f in Field if f is not Field.TEXT}
_LONGEST = max(map(len, _FIELDS))
# FTS5 ends a string literal at NUL; no control character is worth searching for
_CONTROLS = dict.fromkeys([*range(0x20), 0x7F], " ")
FTS_FIELDS = (Field.TEXT, Field.FROM, Field.SUBJECT)
DATE_IN_OR = "after:/before: cannot be negated or combined with OR"


class _Token(NamedTuple):
    kind: Literal["term", "or", "and", "(", ")"]
    pos: int
    term: Term | None = None
    negated: bool = False


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.opens: list[int] = []  # positions of the parentheses still open
        self.tokens: list[_Token] = []
        self.not_at = 0  # the position of a NOT that waits for its term or group

    def run(self) -> list[_Token]:
        text = self.text
        while True:
            while self.i < len(text) and text[self.i].isspace():
                self.i += 1
            if self.i == len(text):
                break
            self.token()
        if self.not_at:
            raise QuerySyntaxError(f"NOT at position {self.not_at} has no term after it")
        if self.opens:
            raise QuerySyntaxError(
                f"unbalanced parentheses: '(' at position {self.opens[-1] + 1} is never closed"
            )
        return self.tokens

    def token(self) -> None:
        text, start = self.text, self.i
        word = self.word(start)[0]
        if word in ("AND", "OR", "NOT") or text[start] == ")":
            self.operator(word, start)
            return
        after = text[start + 1 : start + 2]
        negated = text[start] == "-" and after not in ("", ")") and not after.isspace()
        begin = start  # where the term starts, for messages: at its NOT if it has one
        if self.not_at:
            if negated:
                raise QuerySyntaxError(
                    f"NOT at position {self.not_at} and the - of {word} both negate it: "
                    "write one of them"
                )
            negated, begin, self.not_at = True, self.not_at - 1, 0
        i = start + 1 if text[start] == "-" and negated else start
        if text[i] == "(":
            self.opens.append(i)
            if len(self.opens) > MAX_DEPTH:
                raise QuerySyntaxError(
                    f"parentheses nested deeper than {MAX_DEPTH} at position {i + 1}"
                )
            self.tokens.append(_Token("(", begin + 1, negated=negated))
            self.i = i + 1
            return
        kind = Field.TEXT
        colon = text.find(":", i, i + _LONGEST + 1)  # a field: letters, then a colon
        name = text[i:colon]
        if colon > i and name.isascii() and name.isalpha() and name.lower() in _FIELDS:
            kind, i = _FIELDS[name.lower()], colon + 1
        quoted = text[i : i + 1] == '"'
        value, prefix, self.i = self.phrase(i) if quoted else self.word(i)
        raw = text[begin : self.i]
        if kind is not Field.TEXT and not value:
            raise QuerySyntaxError(f"{text[start:i]} at position {start + 1} needs a value")
        if kind in (Field.AFTER, Field.BEFORE) and negated:
            raise QuerySyntaxError(f"{DATE_IN_OR} ({raw})")
        if not quoted and kind in FTS_FIELDS and value.endswith("*"):
            value, prefix = value.rstrip("*"), True
        term = Term(kind, value, prefix, negated, begin + 1, raw, quoted)
        self.tokens.append(_Token("term", begin + 1, term))

    def operator(self, word: str, start: int) -> None:
        """AND, OR, NOT or a closing parenthesis."""
        if self.not_at:
            raise QuerySyntaxError(f"NOT at position {self.not_at} has no term after it")
        if word == "NOT":
            self.not_at, self.i = start + 1, start + 3
        elif word in ("AND", "OR"):
            self.tokens.append(_Token("and" if word == "AND" else "or", start + 1))
            self.i = start + len(word)
        elif not self.opens:
            raise QuerySyntaxError(
                f"unbalanced parentheses: ')' at position {start + 1} has no matching '('"
            )
        else:
            self.opens.pop()
            self.tokens.append(_Token(")", start + 1))
            self.i = start + 1

    def phrase(self, i: int) -> tuple[str, bool, int]:
        text = self.text
        close = text.find('"', i + 1)
        if close < 0:
            rest = text[i:].rstrip()
            if any(ch.isalnum() for ch in rest):
                raise QuerySyntaxError(f"unclosed quote after {rest[:40]}")
            return "", False, len(text)  # a stray quote, nothing to search for after it
        end = close + 1
        while text[end : end + 1] == "*":
            end += 1
        return text[i + 1 : close], end > close + 1, end

    def word(self, i: int) -> tuple[str, bool, int]:
        # a word runs to the next space, or to a ')' that closes no '(' of its own: f(x) is
        # a word, and so is NEAR(, but (a b) is a group
        text, j, inner = self.text, i, 0
        while j < len(text) and not text[j].isspace():
            if text[j] == "(":
                inner += 1
            elif text[j] == ")":
                if not inner:
                    break
                inner -= 1
            j += 1
        return text[i:j], False, j


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.k = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.k] if self.k < len(self.tokens) else None

    def all_of(self, negated: bool = False, pos: int = 0) -> And:
        items: list[Node] = []
        while (tok := self.peek()) is not None and tok.kind != ")":
            if tok.kind == "and":  # what the space between two items says already
                self.k += 1
                after = self.peek()
                if not items or after is None or after.kind in ("and", "or", ")"):
                    raise QuerySyntaxError(f"AND at position {tok.pos} needs a term on each side")
                continue
            items.append(self.any_of())
        return And(tuple(items), negated, pos)

    def any_of(self) -> Node:
        first = self.peek()
        if first is not None and first.kind == "or":
            raise QuerySyntaxError(f"OR at position {first.pos} has no term before it")
        items = [self.unary()]
        while (tok := self.peek()) is not None and tok.kind == "or":
            self.k += 1
            after = self.peek()
            if after is None or after.kind in ("or", "and", ")"):
                raise QuerySyntaxError(f"OR at position {tok.pos} has no term after it")
            items.append(self.unary())
        if len(items) == 1:
            return items[0]
        for item in items:
            if item.negated:
                raise QuerySyntaxError(negated_in_or(item))
        return Or(tuple(items))

    def unary(self) -> Term | And:
        tok = self.tokens[self.k]
        self.k += 1
        if tok.term is not None:
            return tok.term
        # a "(": the lexer has checked that it is closed and at most MAX_DEPTH deep
        group = self.all_of(tok.negated, tok.pos)
        self.k += 1
        return group


def parse(text: str) -> And:
    """Parse a query into a tree; field values (dates) are checked when it is compiled."""
    if len(text) > MAX_LENGTH:
        raise QuerySyntaxError(f"the query is too long (at most {MAX_LENGTH} characters)")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise QuerySyntaxError("the query is not valid text") from None
    text = text.translate(_CONTROLS)
    if not text.strip():
        raise QuerySyntaxError("the query is empty")
    return _Parser(_Lexer(text).run()).all_of()


def stemmed(term: Term) -> bool:
    """Is the term matched by its English stem (`install` finds "installed")? A word of
    the text or the subject is, unless it is quoted or a prefix: an author's name or
    address, a phrase in quotes and `word*` are matched as written."""
    return term.field in (Field.TEXT, Field.SUBJECT) and not (term.quoted or term.prefix)


def negated_in_or(node: Term | And) -> str:
    what = node.raw if isinstance(node, Term) else "the group"
    return f"a negated term cannot be combined with OR ({what} at position {node.pos})"

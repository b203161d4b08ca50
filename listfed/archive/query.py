"""The archive search language (SPEC §6): what a person types, as an FTS5 MATCH plus SQL.

The syntax is in listfed.archive.querylex. User text never reaches FTS5 syntax: every term
becomes an FTS5 string literal, and the operators, column filters and prefix stars around
it are ours. list:, after: and before: become SQL over aliases a (archive) and m (mlist).
"""

import re
from datetime import UTC, datetime
from typing import NamedTuple  # not a dataclass: see archive/querylex.py

from listfed.archive import querylex
from listfed.archive.querylex import DATE_IN_OR, And, Field, Node, Or, Term, negated_in_or
from listfed.errors import ListfedError

_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_COLUMNS = {Field.TEXT: "", Field.FROM: "{sender sender_name} : ", Field.SUBJECT: "{subject} : "}


class QueryError(ListfedError):
    """A search query that cannot be understood: "bad query: " and what is wrong."""


class Compiled(NamedTuple):
    match: str | None  # for `archive_fts MATCH :match`; None when there are no FTS terms
    where: tuple[str, ...]  # SQL over aliases a (archive) and m (mlist), to be AND-ed
    params: dict[str, object]  # the named parameters in `where`: p1, p2, ...
    lists: tuple[str, ...] = ()  # what list: terms name (lower case), to check they exist
    # the span every hit's date lies in, [after, before): after:/before: are only ever
    # AND-ed (in an OR or under a NOT they are refused), so the tightest of each bounds it
    after: int | None = None
    before: int | None = None
    tree: And = And(())  # what was compiled (for archive/topk)


def parse(text: str) -> And:
    """Parse a query into a tree of terms; dates are checked by compile_query."""
    try:
        return querylex.parse(text)
    except querylex.QuerySyntaxError as error:
        raise QueryError(f"bad query: {error}") from None


class _Part:
    """A compiled piece: FTS atoms that must match, FTS atoms that must not, SQL."""

    def __init__(
        self,
        all: list[str] | None = None,
        none: list[str] | None = None,
        sql: list[str] | None = None,
        dated: str = "",  # the first after:/before: inside, for the message when that is wrong
    ) -> None:
        self.all = all or []
        self.none = none or []
        self.sql = sql or []
        self.dated = dated

    def empty(self) -> bool:
        return not (self.all or self.none or self.sql)


class _Compiler:
    def __init__(self) -> None:
        self.params: dict[str, object] = {}
        self.lists: list[str] = []
        self.after: int | None = None
        self.before: int | None = None

    def bind(self, value: object) -> str:
        name = f"p{len(self.params) + 1}"
        self.params[name] = value
        return f":{name}"

    def node(self, node: Node) -> _Part:
        if isinstance(node, Term):
            return self.term(node)
        if isinstance(node, Or):
            return self.any_of(node)
        part = _Part()
        for item in node.items:
            sub = self.node(item)
            part.all += sub.all
            part.none += sub.none
            part.sql += sub.sql
            part.dated = part.dated or sub.dated
        if not node.negated or part.empty():
            return part
        if part.dated:
            raise QueryError(f"bad query: {DATE_IN_OR} ({part.dated})")
        if part.all and not part.sql:
            return _Part(none=[_atom(part)])
        return _Part(sql=[f"NOT {_conjunction(self.as_sql(part), always=True)}"])

    def term(self, term: Term) -> _Part:
        if term.field in (Field.AFTER, Field.BEFORE):
            day = _day_start(term)
            if term.field is Field.AFTER:
                self.after = day if self.after is None else max(self.after, day)
            else:
                self.before = day if self.before is None else min(self.before, day)
            op = ">=" if term.field is Field.AFTER else "<"
            return _Part(sql=[f"a.date {op} {self.bind(day)}"], dated=term.raw)
        if term.field is Field.LIST:
            self.lists.append(term.text.lower())
            column = "(m.local || '@' || m.domain)" if "@" in term.text else "m.local"
            cond = f"{column} = {self.bind(term.text.lower())}"
            return _Part(sql=[f"NOT ({cond})" if term.negated else cond])
        if not any(ch.isalnum() for ch in term.text):
            return _Part()  # nothing the tokenizer would index
        literal = '"' + term.text.replace('"', '""') + '"'
        atom = _COLUMNS[term.field] + literal + (" *" if term.prefix else "")
        return _Part(none=[atom]) if term.negated else _Part(all=[atom])

    def any_of(self, node: Or) -> _Part:
        parts: list[_Part] = []
        for item in node.items:
            part = self.node(item)
            if part.dated:
                raise QueryError(f"bad query: {DATE_IN_OR} ({part.dated})")
            if part.none and not (part.all or part.sql):
                raise QueryError(f"bad query: {negated_in_or(item)}")
            if not part.empty():
                parts.append(part)
        if len(parts) < 2:
            return parts[0] if parts else _Part()
        if not any(part.sql for part in parts):
            return _Part(all=["(" + " OR ".join(_atom(part) for part in parts) + ")"])
        ors = [_conjunction(self.as_sql(part)) for part in parts]
        return _Part(sql=["(" + " OR ".join(ors) + ")"])

    def as_sql(self, part: _Part) -> list[str]:
        """The whole part as SQL conditions, its FTS side as a subquery."""
        fts = "SELECT rowid FROM archive_fts WHERE archive_fts MATCH"
        if part.all:
            return [f"a.id IN ({fts} {self.bind(_fts(part))})", *part.sql]
        if part.none:
            return [f"a.id NOT IN ({fts} {self.bind(' OR '.join(part.none))})", *part.sql]
        return list(part.sql)


def _fts(part: _Part) -> str:
    # NOT binds tighter than AND in FTS5; either way "a AND b NOT c" is a∩b minus c
    return " AND ".join(part.all) + "".join(f" NOT {atom}" for atom in part.none)


def _atom(part: _Part) -> str:
    return part.all[0] if len(part.all) == 1 and not part.none else f"({_fts(part)})"


def _conjunction(conds: list[str], always: bool = False) -> str:
    return f"({' AND '.join(conds)})" if always or len(conds) > 1 else conds[0]


def _day_start(term: Term) -> int:
    match = _DATE.fullmatch(term.text)
    try:
        if match is None:
            raise ValueError
        day = datetime(int(match[1]), int(match[2]), int(match[3]), tzinfo=UTC)
    except ValueError:
        raise QueryError(f"bad query: {term.raw} is not a date (use YYYY-MM-DD)") from None
    return int(day.timestamp())


def compile_query(text: str) -> Compiled:
    """Parse a query and compile it to an FTS5 MATCH expression, SQL conditions and parameters."""
    compiler = _Compiler()
    tree = parse(text)
    part = compiler.node(tree)
    match = _fts(part) if part.all else None
    where = part.sql if part.all else compiler.as_sql(part)
    if match is None and not where:
        raise QueryError("bad query: nothing to search for")
    lists = tuple(dict.fromkeys(compiler.lists))
    span = (compiler.after, compiler.before)
    return Compiled(match, tuple(where), compiler.params, lists, *span, tree)

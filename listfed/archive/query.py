"""The archive search language (SPEC §6): what a person types, as an FTS5 MATCH plus SQL.

The syntax is in listfed.archive.querylex. User text never reaches FTS5 syntax: every term
becomes an FTS5 string literal, and the operators, column filters and prefix stars around
it are ours. list:, after: and before: become SQL over aliases a (archive) and m (mlist).
Unquoted words of the text and subject match by their English stems (querylex.stemmed):
a word becomes the OR of the indexed words of its stem (archive/stemvocab.py), in the
archive's one index.
"""

from __future__ import annotations

from datetime import UTC, datetime

from listfed.archive import querylex
from listfed.archive.querylex import (
    DATE_IN_OR,
    And,
    Field,
    Node,
    Or,
    Term,
    negated_in_or,
    stemmed,
)
from listfed.archive.stemvocab import Variants, words
from listfed.errors import ListfedError
from listfed.records import NamedTuple  # not a dataclass: see archive/querylex.py

_DATE = r"([0-9]{4})-([0-9]{2})-([0-9]{2})"  # compiled by the first date term (_day_start)
# the archive's FTS5 index (schema v5, v19): the words as written; an unquoted word of the
# text and subject stands for the words of its English stem (Porter's), `Variants`
EXACT = "archive_fts"
_COLUMNS = {Field.TEXT: "", Field.FROM: "{sender sender_name} : ", Field.SUBJECT: "{subject} : "}


class QueryError(ListfedError):
    """A search query that cannot be understood: "bad query: " and what is wrong."""


class Compiled(NamedTuple):
    match: str | None  # for `{table} MATCH :match`; None when there are no FTS terms
    where: tuple[str, ...]  # SQL over aliases a (archive) and m (mlist), to be AND-ed
    params: dict[str, object]  # the named parameters in `where`: p1, p2, ...
    lists: tuple[str, ...] = ()  # what list: terms name (lower case), to check they exist
    # the span every hit's date lies in, [after, before): after:/before: are only ever
    # AND-ed (in an OR or under a NOT they are refused), so the tightest of each bounds it
    after: int | None = None
    before: int | None = None
    tree: And = And(())  # what was compiled (for archive/topk)
    table: str = EXACT  # the index `match` is for, which ranks


def parse(text: str) -> And:
    """Parse a query into a tree of terms; dates are checked by compile_query."""
    try:
        return querylex.parse(text)
    except querylex.QuerySyntaxError as error:
        raise QueryError(f"bad query: {error}") from None


class _Atom(NamedTuple):
    """An FTS5 expression over the index."""

    text: str


class _Part:
    """A compiled piece: FTS atoms that must match, FTS atoms that must not, SQL; and
    `wide`: FTS expressions that its matches all meet, for ranking only."""

    def __init__(
        self,
        all: list[_Atom] | None = None,
        none: list[_Atom] | None = None,
        sql: list[str] | None = None,
        wide: list[str] | None = None,
        dated: str = "",  # the first after:/before: inside, for the message when that is wrong
    ) -> None:
        self.all = all or []
        self.none = none or []
        self.sql = sql or []
        self.wide = wide or []
        self.dated = dated

    def empty(self) -> bool:
        return not (self.all or self.none or self.sql)

    def superset(self) -> str | None:
        """An FTS expression that finds every match of the part, None if none does."""
        found = [atom.text for atom in self.all] + self.wide
        return " AND ".join(found) if found else None


class _Compiler:
    def __init__(self, variants: Variants | None) -> None:
        self.variants = variants
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
            part.wide += sub.wide
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
        literal = _literal(term.text)
        if stemmed(term) and self.variants is not None:
            found = words(term.text)
            if len(found) == 1:  # a word of several (`e-mail`) is the phrase as written
                forms = self.variants(found[0])
                literal = "(" + " OR ".join(map(_literal, forms)) + ")"
        atom = _Atom(_COLUMNS[term.field] + literal + (" *" if term.prefix else ""))
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
            atoms = [_atom(part) for part in parts]
            text = "(" + " OR ".join(atom.text for atom in atoms) + ")"
            return _Part(all=[_Atom(text)])
        ors = [_conjunction(self.as_sql(part)) for part in parts]
        wide = [part.superset() for part in parts]
        ranked = ["(" + " OR ".join(map(str, wide)) + ")"] if None not in wide else []
        return _Part(sql=["(" + " OR ".join(ors) + ")"], wide=ranked)

    def as_sql(self, part: _Part) -> list[str]:
        """The part as SQL conditions, its atoms a subquery of the index."""
        fts = f"SELECT rowid FROM {EXACT} WHERE {EXACT} MATCH"  # noqa: S608
        if part.all:
            return [f"a.id IN ({fts} {self.bind(_fts(part.all, part.none))})", *part.sql]
        if part.none:
            either = " OR ".join(atom.text for atom in part.none)
            return [f"a.id NOT IN ({fts} {self.bind(either)})", *part.sql]
        return list(part.sql)


def _fts(all_: list[_Atom], none: list[_Atom]) -> str:
    # NOT binds tighter than AND in FTS5; either way "a AND b NOT c" is a∩b minus c
    return " AND ".join(atom.text for atom in all_) + "".join(f" NOT {a.text}" for a in none)


def _atom(part: _Part) -> _Atom:
    """The part's atoms as one."""
    if len(part.all) == 1 and not part.none:
        return part.all[0]
    return _Atom(f"({_fts(part.all, part.none)})")


def _literal(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _conjunction(conds: list[str], always: bool = False) -> str:
    return f"({' AND '.join(conds)})" if always or len(conds) > 1 else conds[0]


def _day_start(term: Term) -> int:
    import re  # here: a search without dates does without it (python -m listfed does)

    match = re.fullmatch(_DATE, term.text)
    try:
        if match is None:
            raise ValueError
        day = datetime(int(match[1]), int(match[2]), int(match[3]), tzinfo=UTC)
    except ValueError:
        raise QueryError(f"bad query: {term.raw} is not a date (use YYYY-MM-DD)") from None
    return int(day.timestamp())


def compile_query(text: str, variants: Variants | None = None) -> Compiled:
    """Parse a query and compile it to an FTS5 MATCH expression (over the index that
    ranks), SQL conditions and parameters. `variants` gives the indexed words of a
    word's stem (archive/stemvocab.variants); without it (a query only checked, as a
    network search does before asking its peers) a word stands for itself."""
    compiler = _Compiler(variants)
    tree = parse(text)
    part = compiler.node(tree)
    match, where = _ranking(compiler, part)
    if match is None and not where:
        raise QueryError("bad query: nothing to search for")
    lists = tuple(dict.fromkeys(compiler.lists))
    span = (compiler.after, compiler.before)
    return Compiled(match, tuple(where), compiler.params, lists, *span, tree)


def _ranking(compiler: _Compiler, part: _Part) -> tuple[str | None, list[str]]:
    """The MATCH the index ranks by, and the SQL for the rest: the MATCH holds the words
    that must and must not match, and `wide` (what every match of an OR that has SQL in
    it meets), so that bm25 ranks by all of them."""
    if part.all or part.wide:
        match = " AND ".join([atom.text for atom in part.all] + part.wide)
        match += "".join(f" NOT {atom.text}" for atom in part.none)
        return match, list(part.sql)
    return None, compiler.as_sql(part)

"""A parsed query (archive/querylex's tree) as a tantivy query, meaning what the FTS5
compiler (archive/query.py) makes of it: the same words (split and folded as FTS5 does,
see index.analyzer; a word that is not quoted, of the text or subject, by its English
stem in the fields' stemmed twins, as archive/porter makes it: FTS5's `porter`), a word
without a field in any of the four fields, from: in the
author's address and name, subject: in the subject, list: as the lists' ids, after: and
before: as a range of whole seconds. A word's clause in each field is boosted by that
field's bm25 weight. A phrase in the text is found by its pairs of neighbouring words
(index.PAIRED): two words are one pair, scored as one term, as FTS5's bm25 scores a
phrase; a longer phrase is its pairs, then its words' positions checked in the posts
that have them all. A list: that names every list holding posts is left out of an AND:
it keeps everything, and would cost a look at every post.

None where the two would not agree, so that FTS5 answers instead: a prefix (`budg*`:
tantivy expands a prefix to its first 50 words only), a word longer than the index
keeps, a character the two split words at differently (see `_agreed`).
"""

from __future__ import annotations

import functools
import itertools
import unicodedata
from collections.abc import Callable, Collection

import tantivy

from listfed.archive.porter import stem
from listfed.archive.querylex import And, Field, Node, Or, Term, stemmed
from listfed.archive.stemvocab import fold
from listfed.archive.topk.index import PAIRED, STEMMED, WEIGHTS, pair

_FIELDS = {
    Field.TEXT: tuple(WEIGHTS),
    Field.FROM: ("sender",),
    Field.SUBJECT: ("subject",),
}
_WEIGHTS = WEIGHTS | {STEMMED[name]: weight for name, weight in WEIGHTS.items()}
_MUST, _SHOULD, _NOT = tantivy.Occur.Must, tantivy.Occur.Should, tantivy.Occur.MustNot
_BOUND = 2**62  # beyond any date


class Unsupported(Exception):
    """This part of the query is FTS5's to answer."""


class _Compiler:
    def __init__(
        self,
        schema: tantivy.Schema,
        words: tantivy.TextAnalyzer,
        list_ids: Callable[[str], list[int]],
        every: Collection[int] = (),
    ) -> None:
        self.schema = schema
        self.words = words
        self.list_ids = list_ids
        self.every = frozenset(every)

    def node(self, node: Node) -> tantivy.Query | None:
        if isinstance(node, Term):
            return self.term(node)
        if isinstance(node, Or):
            found = [q for q in map(self.alone, node.items) if q is not None]
            if len(found) < 2:
                return found[0] if found else None
            return tantivy.Query.boolean_query([(_SHOULD, q) for q in found])
        clauses: list[tuple[tantivy.Occur, tantivy.Query]] = []
        for item in node.items:
            if self.everything(item):
                continue
            query = self.node(item)
            if query is not None:
                negated = isinstance(item, Term) and item.negated
                clauses.append((_NOT if negated else _MUST, query))
        if not clauses:
            return None
        if all(occur is _NOT for occur, _q in clauses):  # "everything but": tantivy
            clauses.insert(0, (_MUST, tantivy.Query.all_query()))  # needs the everything
        query = (
            clauses[0][1]
            if len(clauses) == 1 and clauses[0][0] is _MUST
            else tantivy.Query.boolean_query(clauses)
        )
        return _but(query) if node.negated else query

    def everything(self, item: Node) -> bool:
        """Is `item` a list: that keeps every post (it names each list holding any)?"""
        if not self.every or not isinstance(item, Term) or item.negated:
            return False
        return item.field is Field.LIST and self.every <= set(self.list_ids(item.text.lower()))

    def alone(self, node: Term | And) -> tantivy.Query | None:
        """A branch of an OR: a negated term in it (`list:a OR -list:b`) on its own."""
        query = self.node(node)
        if query is None or not (isinstance(node, Term) and node.negated):
            return query
        return _but(query)

    def term(self, term: Term) -> tantivy.Query | None:
        """The term's query, not negated (its And or OR negates it)."""
        if term.field in (Field.AFTER, Field.BEFORE):
            return None  # the whole query's span: see `compile_tree`
        if term.field is Field.LIST:
            ids = self.list_ids(term.text.lower())
            if not ids:
                return tantivy.Query.empty_query()
            return tantivy.Query.term_set_query(self.schema, "list", ids)
        if not any(ch.isalnum() for ch in term.text):
            return None  # nothing the words hold: FTS5's compiler leaves it out too
        if term.prefix:
            raise Unsupported("a prefix")
        text = fold(term.text)
        if not all(map(_agreed, text)):
            raise Unsupported("a character FTS5 may split otherwise")
        words = self.words.analyze(text)
        if not words:
            raise Unsupported("a word longer than the index keeps")
        fields = _FIELDS[term.field]
        if stemmed(term) and len(words) == 1:  # a word of several is as written, as in FTS5
            words, fields = [stem(word) for word in words], tuple(STEMMED[f] for f in fields)
        each = [self.field(name, words) for name in fields]
        return (
            each[0] if len(each) == 1 else tantivy.Query.boolean_query([(_SHOULD, q) for q in each])
        )

    def field(self, name: str, words: list[str]) -> tantivy.Query:
        if len(words) == 1:
            query = tantivy.Query.term_query(self.schema, name, words[0])
        elif name in PAIRED:
            query = self.paired(name, words)
        else:
            phrase: list[str | tuple[int, str]] = list(words)
            query = tantivy.Query.phrase_query(self.schema, name, phrase)
        weight = _WEIGHTS[name]
        return query if weight == 1.0 else tantivy.Query.boost_query(query, weight)

    def paired(self, name: str, words: list[str]) -> tantivy.Query:
        """The phrase `words` in the field `name`, by its pairs (see the module's text)."""
        terms = [
            tantivy.Query.term_query(self.schema, PAIRED[name], pair(first, second))
            for first, second in itertools.pairwise(words)
        ]
        if len(terms) == 1:
            return terms[0]
        phrase: list[str | tuple[int, str]] = list(words)
        clauses = [(_MUST, tantivy.Query.phrase_query(self.schema, name, phrase))]
        # the pairs only choose which posts the phrase looks at: no score of their own
        clauses += [(_MUST, tantivy.Query.const_score_query(term, 0.0)) for term in terms]
        return tantivy.Query.boolean_query(clauses)


@functools.cache
def _agreed(ch: str) -> bool:
    """Do tantivy and FTS5 agree whether `ch` is part of a word? For ASCII and for
    letters, digits, punctuation, spaces and symbols of the scripts Unicode 6.1 (whose
    tables FTS5 keeps) had below U+2070; not for marks (tantivy counts many as letters),
    nor for characters Unicode added later."""
    return ch.isascii() or (ord(ch) < 0x2070 and unicodedata.category(ch)[0] in "LNPSZ")


def _but(query: tantivy.Query) -> tantivy.Query:
    """Every post but those `query` finds."""
    return tantivy.Query.boolean_query([(_MUST, tantivy.Query.all_query()), (_NOT, query)])


def compile_tree(
    tree: And,
    schema: tantivy.Schema,
    words: tantivy.TextAnalyzer,
    list_ids: Callable[[str], list[int]],
    span: tuple[int | None, int | None] = (None, None),
    readable: list[int] | None = None,
    every: Collection[int] = (),
) -> tantivy.Query | None:
    """The query for `tree` (already checked by archive/query.compile_query), within the
    dates [after, before) of `span` and, when `readable` is given, those lists only;
    None where FTS5 must answer. `list_ids` names the lists a list: term means; `every`
    the ids of the lists holding posts, where known."""
    try:
        query = _Compiler(schema, words, list_ids, every).node(tree)
    except Unsupported:
        return None
    if query is None:
        return None
    clauses = [(_MUST, query)]
    after, before = span
    if after is not None or before is not None:
        lower = -_BOUND if after is None else after
        upper = _BOUND if before is None else before
        dated = tantivy.Query.range_query(
            schema, "date", tantivy.FieldType.Integer, lower, upper, include_upper=False
        )
        clauses.append((_MUST, dated))
    if readable is not None:
        clauses.append((_MUST, tantivy.Query.term_set_query(schema, "list", readable)))
    return query if len(clauses) == 1 else tantivy.Query.boolean_query(clauses)

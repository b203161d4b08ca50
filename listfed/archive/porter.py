"""English stems as SQLite's FTS5 `porter` tokenizer makes them (M. F. Porter's 1980
algorithm, with FTS5's own details), for the ranked index (archive/topk), so that both
indexes agree on which words are one word; tests/test_archive_porter.py holds this to
what SQLite does.

FTS5 stems the bytes of a token that unicode61 has already folded: tokens shorter than
3 or longer than 64 bytes stay as they are, and a byte outside ASCII counts as a
consonant. Here the token's UTF-8 bytes are handled one character per byte (latin-1).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

SHORTEST, LONGEST = 3, 64  # bytes: other tokens are not stemmed


def _vowel(c: str, y_is_vowel: bool) -> bool:
    return c in "aeiou" or (y_is_vowel and c == "y")


def _past_vc(stem: str, after_consonant: bool) -> int:
    """Where the first vowel-then-consonant run of `stem` ends (0: there is none)."""
    consonant, i = after_consonant, 0
    while i < len(stem):
        consonant = not _vowel(stem[i], consonant)
        if not consonant:
            break
        i += 1
    for j in range(i + 1, len(stem)):
        consonant = not _vowel(stem[j], consonant)
        if consonant:
            return j + 1
    return 0


def _m_gt0(stem: str) -> bool:
    return _past_vc(stem, False) > 0


def _m_gt1(stem: str) -> bool:
    n = _past_vc(stem, False)
    return n > 0 and _past_vc(stem[n:], True) > 0


def _m_eq1(stem: str) -> bool:
    n = _past_vc(stem, False)
    return n > 0 and _past_vc(stem[n:], True) == 0


def _cvc(stem: str) -> bool:
    """Consonant, vowel, consonant at the end, the last not w, x or y (Porter's *o)."""
    if stem[-1] in "wxy":
        return False
    mask, consonant = 0, False
    for c in stem:
        consonant = not _vowel(c, consonant)
        mask = (mask << 1) + consonant
    return mask & 7 == 5


def _has_vowel(stem: str) -> bool:
    return any(_vowel(c, i > 0) for i, c in enumerate(stem))


def _m_gt1_s_or_t(stem: str) -> bool:
    return stem[-1] in "st" and _m_gt1(stem)


Rule = tuple[str, str, Callable[[str], bool]]  # suffix, replacement, the stem's condition

_STEP2: tuple[Rule, ...] = tuple(
    (suffix, out, _m_gt0)
    for suffix, out in (
        ("ational", "ate"), ("tional", "tion"), ("enci", "ence"), ("anci", "ance"),
        ("izer", "ize"), ("logi", "log"), ("bli", "ble"), ("alli", "al"), ("entli", "ent"),
        ("eli", "e"), ("ousli", "ous"), ("ization", "ize"), ("ation", "ate"),
        ("ator", "ate"), ("alism", "al"), ("iveness", "ive"), ("fulness", "ful"),
        ("ousness", "ous"), ("aliti", "al"), ("iviti", "ive"), ("biliti", "ble"),
    )
)  # fmt: skip
_STEP3: tuple[Rule, ...] = tuple(
    (suffix, out, _m_gt0)
    for suffix, out in (
        ("ical", "ic"), ("ness", ""), ("icate", "ic"), ("iciti", "ic"), ("ful", ""),
        ("ative", ""), ("alize", "al"),
    )
)  # fmt: skip
_STEP4: tuple[Rule, ...] = tuple(
    (suffix, "", _m_gt1_s_or_t if suffix == "ion" else _m_gt1)
    for suffix in (
        "al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent",
        "ion", "ou", "ism", "ate", "iti", "ous", "ive", "ize",
    )
)  # fmt: skip


def _apply(word: str, rules: tuple[Rule, ...]) -> str:
    """The first rule whose suffix ends the word (leaving a stem) decides; it changes
    the word only when its condition holds of the stem."""
    for suffix, out, condition in rules:
        if len(word) > len(suffix) and word.endswith(suffix):
            stem = word[: -len(suffix)]
            return stem + out if condition(stem) else word
    return word


def _step1(w: str) -> str:
    if w.endswith("s"):
        if (len(w) > 4 and w.endswith("sses")) or (len(w) > 3 and w.endswith("ies")):
            w = w[:-2]
        elif w[-2] != "s":
            w = w[:-1]
    if len(w) > 3 and w.endswith("eed"):
        return w[:-1] if _m_gt0(w[:-3]) else w
    for suffix in ("ed", "ing"):
        if len(w) > len(suffix) and w.endswith(suffix):
            if not _has_vowel(w[: -len(suffix)]):
                return w
            w = w[: -len(suffix)]
            break
    else:
        return w
    if len(w) > 2 and w[-2:] in ("at", "bl", "iz"):
        return w + "e"
    last = w[-1]
    if not _vowel(last, False) and last not in "lsz" and len(w) > 1 and last == w[-2]:
        return w[:-1]
    return w + "e" if _m_eq1(w) and _cvc(w) else w


@functools.lru_cache(maxsize=65536)
def stem(token: str) -> str:
    """The stem of one folded, lower-case token (`installation` -> `instal`)."""
    w = token.encode("utf-8").decode("latin-1")
    if not SHORTEST <= len(w) <= LONGEST:
        return token
    w = _step1(w)
    if w[-1] == "y" and _has_vowel(w[:-1]):
        w = w[:-1] + "i"
    w = _apply(_apply(_apply(w, _STEP2), _STEP3), _STEP4)
    if w[-1] == "e" and (_m_gt1(w[:-1]) or (_m_eq1(w[:-1]) and not _cvc(w[:-1]))):
        w = w[:-1]
    if len(w) > 1 and w.endswith("ll") and _m_gt1(w[:-1]):
        w = w[:-1]
    return w.encode("latin-1").decode("utf-8", "replace")

"""Whole-word, case-insensitive, Unicode-aware matching of many literal words and phrases at once.

Patterns are literals, never regular expressions: ``a.b*(`` matches exactly those five characters. Both the
pattern and the text are normalised the same way (NFKC, case-folded, invisible format characters dropped,
whitespace runs collapsed), so ``ＢＡＤ`` matches ``bad``, ``STRASSE`` matches ``straße`` and a zero-width
space inside a word does not hide it.

All patterns of one matcher compile into a single regular expression built from a trie of the patterns,
so shared prefixes are tried once and the cost of a search grows with the text, not with the rule count.

"Whole word" means the match is not glued to another letter or digit. Scripts written without spaces
(Chinese, Japanese, Thai, ...) have no word boundaries to speak of, so a pattern edge in such a script
matches anywhere; otherwise no Chinese word could ever be filtered inside a sentence.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from openfyp.platform.errors import InvalidInput

MAX_PATTERN_CHARS = 100
_WORD_CHAR = re.compile(r"\w")
_UNSPACED_SCRIPTS = ("CJK", "HIRAGANA", "KATAKANA", "IDEOGRAPHIC", "THAI", "LAO", "KHMER", "MYANMAR",
                     "TIBETAN", "YI ", "BOPOMOFO")
_TERMINAL = ""  # a trie key no real character can be


@lru_cache(maxsize=1)
def _format_characters() -> re.Pattern[str]:
    """A character class of every invisible format character (category Cf), built once.

    Cf characters live in the BMP, a few supplementary blocks below U+20000 and the tag block at U+E0000.
    """
    found = [chr(c) for c in (*range(0x20000), *range(0xE0000, 0xE1000)) if unicodedata.category(chr(c)) == "Cf"]
    return re.compile("[" + "".join(re.escape(ch) for ch in found) + "]")


def normalise(text: str) -> str:
    if text.isascii():  # the common case, where NFKC changes nothing and folding is lower-casing
        return " ".join(text.lower().split())
    folded = unicodedata.normalize("NFKC", text).casefold()
    # Case folding can undo NFKC composition (e.g. ligatures); normalise once more so both sides agree.
    folded = unicodedata.normalize("NFKC", folded)
    # Invisible format characters (zero-width spaces and joiners) are the classic way to slip a word
    # past a filter; they carry no meaning for matching, so they go.
    return " ".join(_format_characters().sub("", folded).split())


def clean_pattern(raw: str, *, field: str = "pattern") -> str:
    """The normalised form of a user-supplied word or phrase, or a structured 422."""
    if not isinstance(raw, str):
        raise InvalidInput("invalid_pattern", "a pattern is a word or phrase", field)
    pattern = normalise(raw)
    if not pattern:
        raise InvalidInput("empty_pattern", "the word or phrase is empty", field)
    if len(pattern) > MAX_PATTERN_CHARS:
        raise InvalidInput("pattern_too_long", f"keep it to {MAX_PATTERN_CHARS} characters", field)
    if any(unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn") for ch in pattern):
        raise InvalidInput("invalid_pattern", "the pattern contains control or unassigned characters", field)
    return pattern


def _needs_boundary(char: str) -> bool:
    if not _WORD_CHAR.match(char):
        return False  # punctuation at a pattern's edge is its own boundary
    name = unicodedata.name(char, "")
    return not name.startswith(_UNSPACED_SCRIPTS)


def _build_trie(patterns: Iterable[str]) -> dict:
    root: dict = {}
    for pattern in patterns:
        node = root
        for char in pattern:
            node = node.setdefault(char, {})
        node[_TERMINAL] = True
    return root


def _trie_regex(node: dict, last_char: str | None) -> str:
    branches = []
    for char in sorted(k for k in node if k != _TERMINAL):
        branches.append(re.escape(char) + _trie_regex(node[char], char))
    # Longer continuations come before the end of a shorter pattern, so the longest phrase wins.
    if _TERMINAL in node:
        branches.append(r"(?!\w)" if last_char is not None and _needs_boundary(last_char) else "")
    if len(branches) == 1:
        return branches[0]
    return "(?:" + "|".join(branches) + ")"


def compile_patterns(patterns: Iterable[str]) -> re.Pattern[str] | None:
    """One regular expression matching any of the (already normalised) patterns as a whole word."""
    trie = _build_trie(sorted(set(patterns)))
    if not trie:
        return None
    bounded, free = [], []
    for first in sorted(trie):
        branch = re.escape(first) + _trie_regex(trie[first], first)
        (bounded if _needs_boundary(first) else free).append(branch)
    # One shared look-behind in front of every word-initial branch: inside a word it fails at once, so
    # most positions of a text cost one check instead of one per rule.
    parts = ([r"(?<!\w)(?:" + "|".join(bounded) + ")"] if bounded else []) + free
    return re.compile("|".join(parts))


@dataclass(frozen=True)
class WordMatcher:
    """Finds which of a fixed set of words or phrases occur in a text."""

    patterns: frozenset[str]
    regex: re.Pattern[str] | None

    @classmethod
    def of(cls, patterns: Iterable[str]) -> WordMatcher:
        return _cached_matcher(frozenset(p for p in map(normalise, patterns) if p))

    def __bool__(self) -> bool:
        return self.regex is not None

    def first(self, text: str) -> str | None:
        """The first pattern found in ``text`` (as normalised), or None."""
        if self.regex is None or not text:
            return None
        found = self.regex.search(normalise(text))
        return found.group(0) if found else None

    def all(self, text: str) -> list[str]:
        if self.regex is None or not text:
            return []
        return list(dict.fromkeys(m.group(0) for m in self.regex.finditer(normalise(text))))

    def matches(self, text: str) -> bool:
        return self.first(text) is not None


@lru_cache(maxsize=4096)
def _cached_matcher(patterns: frozenset[str]) -> WordMatcher:
    # Muted-word lists repeat across a viewer's requests; compiling each distinct list once is enough.
    return WordMatcher(patterns=patterns, regex=compile_patterns(patterns))

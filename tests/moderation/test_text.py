"""Literal, whole-word, case-insensitive, Unicode-aware matching of many words at once."""

from __future__ import annotations

import random

import pytest

from openfyp.moderation.text import WordMatcher, clean_pattern, compile_patterns, normalise
from openfyp.platform.errors import InvalidInput


def test_normalise_folds_case_width_and_whitespace():
    assert normalise("  Hello\t\n  WORLD ") == "hello world"
    assert normalise("ＦＲＥＥ　ＣＲＹＰＴＯ") == "free crypto"  # full-width letters and ideographic space
    assert normalise("Straße") == normalise("STRASSE") == "strasse"
    assert normalise("e\u0301") == normalise("é")  # combining accent composes
    assert normalise("b\u200bad wo\u200drd") == "bad word"  # zero-width characters hide nothing


@pytest.mark.parametrize(("text", "expected"), [
    ("this is BAD", "bad"),
    ("bad!", "bad"),
    ("(bad)", "bad"),
    ("badly done", None),
    ("abad", None),
    ("bad_word", None),  # an underscore glues words together as much as a letter does
    ("bad2", None),
    ("", None),
])
def test_whole_words_only(text, expected):
    assert WordMatcher.of(["bad"]).first(text) == expected


def test_phrases_match_across_any_whitespace_and_the_longest_wins():
    matcher = WordMatcher.of(["free crypto", "free"])
    assert matcher.first("get FREE\n\tcrypto now") == "free crypto"
    assert matcher.first("free cryptography") == "free"
    assert matcher.all("free stuff, free crypto") == ["free", "free crypto"]


@pytest.mark.parametrize("pattern", ["a.b*(", "[x]", "(?i)", r"\d+", "^$", "a|b", "c++", "$$$", ")(", "*"])
def test_patterns_are_literals_never_regular_expressions(pattern):
    matcher = WordMatcher.of([pattern])
    assert matcher.first(f"before {pattern} after") == normalise(pattern)
    assert matcher.first(f"before {pattern.upper()} after") == normalise(pattern)
    decoys = {"a.b*(": "axbb(", "[x]": "x", "(?i)": "i", r"\d+": "123", "^$": "", "a|b": "a", "c++": "c",
              "$$$": "$$", ")(": "()", "*": "x"}
    assert matcher.first(f"before {decoys[pattern]} after") is None


def test_punctuation_edges_need_no_boundary_but_word_edges_do():
    matcher = WordMatcher.of(["a.b*("])
    assert matcher.first("xa.b*(") is None  # glued to a letter on its word-character edge
    assert matcher.first("a.b*(x") == "a.b*("  # its last character is punctuation: the edge is already there


def test_unicode_letters_are_word_characters():
    matcher = WordMatcher.of(["über", "naïve", "дурак"])
    assert matcher.first("ÜBER alles") == "über"
    assert matcher.first("überall") is None
    assert matcher.first("so NAÏVE!") == "naïve"
    assert matcher.first("ты ДУРАК.") == "дурак"
    assert matcher.first("дураки") is None


def test_scripts_without_spaces_match_inside_sentences():
    matcher = WordMatcher.of(["猫", "バカ", "ไม่ดี"])
    assert matcher.first("我的猫很好") == "猫"
    assert matcher.first("お前はバカだ") == "バカ"
    assert matcher.first("สิ่งนี้ไม่ดีเลย") == "ไม่ดี"


def test_an_empty_matcher_matches_nothing():
    matcher = WordMatcher.of([])
    assert not matcher
    assert matcher.first("anything") is None and matcher.all("anything") == []
    assert compile_patterns([]) is None


def test_the_combined_trie_regex_agrees_with_one_regex_per_pattern():
    rng = random.Random(7)
    alphabet = "ab .*(ü猫"
    patterns = sorted({normalise("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 5))))
                       for _ in range(300)} - {""})
    combined = WordMatcher.of(patterns)
    singles = {p: compile_patterns([p]) for p in patterns}
    for _ in range(400):
        text = normalise("".join(rng.choice(alphabet + "xyz") for _ in range(rng.randint(0, 30))))
        expected = any(regex.search(text) for regex in singles.values())
        found = combined.first(text)
        assert (found is not None) == expected, (text, found)
        if found is not None:
            assert singles[found].search(text)


@pytest.mark.parametrize(("raw", "code"), [
    ("", "empty_pattern"), ("   \t ", "empty_pattern"), ("x" * 101, "pattern_too_long"),
    ("\u200b\u200d", "empty_pattern"), ("null\x00byte", "invalid_pattern"), (42, "invalid_pattern"),
])
def test_bad_patterns_are_refused_with_a_code(raw, code):
    with pytest.raises(InvalidInput) as refused:
        clean_pattern(raw)
    assert refused.value.code == code and refused.value.field == "pattern"


def test_clean_pattern_normalises():
    assert clean_pattern("  Miracle   CURE ") == "miracle cure"

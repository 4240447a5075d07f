"""Text normalisation shared by adapters, mappings and code lists.

``clean`` is applied to every text value at the adapter boundary: Unicode NFC
(files from macOS and some keyboards arrive decomposed) and trimmed of outer
white space, including the no-break space that Excel exports often carry.

``match_key`` is for comparing, never for storing: it folds case, removes
diacritics and tone marks (so "Thuỷ" and "Thủy", or "Mã HS" and "Ma HS", meet)
and collapses punctuation and spaces. Originals are always kept as read.

``spelling_key`` and ``tone_key`` are finer keys, also for comparing only. Both
ignore where a word's tone mark sits ("Hoà" and "Hòa", "Thuỷ" and "Thủy" are
written both ways, and NFC keeps them apart) but keep the other diacritics.
``spelling_key`` folds case and punctuation, for looking up names in code lists.
``tone_key`` keeps everything else, for telling whether a stored text changed.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_SPACES = re.compile(r"\s+")
_NOT_WORD = re.compile(r"[^0-9a-z]+")
# Characters that NFKD does not decompose into a base letter plus a mark.
_FOLD = str.maketrans({"đ": "d", "Đ": "d", "ð": "d", "ø": "o", "ł": "l", "ß": "ss"})
_INVISIBLE = dict.fromkeys(map(ord, "\ufeff\u200b\u200c\u200d\u2060"), None)


# Outer white space: str.strip()'s ASCII set, and the no-break and ideographic spaces.
_STRIP = " \t\n\x0b\x0c\r\x1c\x1d\x1e\x1f\u00a0\u3000"
_UNIT = "\x1f"
_NEEDS_CLEANING = re.compile("[\ufeff\u200b\u200c\u200d\u2060]")


def clean(value: str) -> str:
    """Return ``value`` in NFC with outer white space and invisible marks removed."""
    if value.isascii():
        return value.strip(_STRIP)
    value = value.translate(_INVISIBLE)
    return unicodedata.normalize("NFC", value).strip(_STRIP)


def clean_row(cells: list[str]) -> list[str]:
    """Return ``[clean(cell) for cell in cells]``, checking the whole row at once.

    Most rows are ASCII or already NFC with no invisible marks. One check over
    the joined row finds those, so that they only need trimming.
    """
    joined = _UNIT.join(cells)
    if not joined.isascii() and (
        joined.count(_UNIT) != len(cells) - 1
        or _NEEDS_CLEANING.search(joined)
        or not unicodedata.is_normalized("NFC", joined)
    ):
        return [clean(cell) for cell in cells]
    return [cell.strip(_STRIP) for cell in cells]


@lru_cache(maxsize=65536)
def match_key(text: str) -> str:
    """Return a comparison key: no case, no diacritics, words joined by one space.

    Cached, because the values passed per row (statuses, roles, codes) repeat.
    """
    folded = unicodedata.normalize("NFKD", text.translate(_FOLD))
    bare = "".join(ch for ch in folded if not unicodedata.combining(ch)).casefold()
    return _NOT_WORD.sub(" ", bare).strip()


# Vietnamese tone marks, as NFD writes them: grave, acute, tilde, hook above, dot below.
TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")


def spelling_key(text: str) -> str:
    """Return a key finer than ``match_key``: diacritics kept, tone placement ignored.

    Each word keeps its letters with their vowel marks (â, ă, ơ, ư, đ) and gets its tone marks
    moved to the end, so "Thuỷ" and "Thủy" share a key while "Văn" and "Vân" do not.
    """
    words: list[str] = []
    letters: list[str] = []
    tones: list[str] = []
    for char in unicodedata.normalize("NFD", text.casefold()) + " ":
        if char in TONE_MARKS:
            tones.append(char)
        elif char.isalnum() or unicodedata.combining(char):
            letters.append(char)
        elif letters:
            words.append("".join(letters + sorted(tones)))
            letters, tones = [], []
    return " ".join(words)


def tone_key(text: str) -> str:
    """Return ``text`` in NFD with each word's tone marks moved after its last letter.

    Two texts share the key only when they differ in nothing but the place of tone marks
    ("Nguyễn Thị Hoà Thuỷ" and "Nguyễn Thị Hòa Thủy"). Case, the other diacritics,
    punctuation and spacing are kept, so a corrected capital or a new letter still differs.
    """
    if text.isascii():
        return text
    parts: list[str] = []
    tones: list[str] = []
    for char in unicodedata.normalize("NFD", text):
        if char in TONE_MARKS:
            tones.append(char)
            continue
        if not (char.isalnum() or unicodedata.combining(char)):
            parts.extend(sorted(tones))
            tones = []
        parts.append(char)
    parts.extend(sorted(tones))
    return "".join(parts)


def collapse_spaces(text: str) -> str:
    return _SPACES.sub(" ", text).strip()

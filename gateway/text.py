"""Text normalisation shared by adapters, mappings and code lists.

``clean`` is applied to every text value at the adapter boundary: Unicode NFC
(files from macOS and some keyboards arrive decomposed) and trimmed of outer
white space, including the no-break space that Excel exports often carry.

``match_key`` is for comparing, never for storing: it folds case, removes
diacritics and tone marks (so "Thuỷ" and "Thủy", or "Mã HS" and "Ma HS", meet)
and collapses punctuation and spaces. Originals are always kept as read.
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


def collapse_spaces(text: str) -> str:
    return _SPACES.sub(" ", text).strip()

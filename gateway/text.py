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


def clean(value: str) -> str:
    """Return ``value`` in NFC with outer white space and invisible marks removed."""
    if value.isascii():
        return value.strip()
    value = value.translate(_INVISIBLE)
    return unicodedata.normalize("NFC", value).strip(" \t\r\n\u00a0\u3000")


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

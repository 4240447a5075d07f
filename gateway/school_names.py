"""Comparing school names as exports and people write them ("TRƯỜNG TH AN BÌNH", "Tiểu học An Bình").

A school's name is the word "Trường" (school), then its types, then its own name:
"Trường THCS Nguyễn Du". ``parse_school_name`` splits a name into those parts by
``spelling_key`` words, which fold case, punctuation and the place of tone marks
("Hoà" and "Hòa") but keep the other diacritics. The leading word "Trường" is
dropped, and each type becomes its code in the ``school-type`` code list, so
"TH", "Tiểu học" and "Trường Tiểu học" are one type. Two names name the same
school when their types (in order) and their own names are equal. Nothing else
is folded, so two names are taken as different schools whenever in doubt:

- a name without a type differs from one with a type ("An Bình" and
  "TH An Bình"), because a primary and a lower secondary school of one commune
  often share their own name;
- "Mầm non" and "Mẫu giáo" are different types, and "TH&THCS" differs from "TH";
- a word that is no type ("Chuyên", "Dân lập") stays in the own name, which
  must match word for word, and so do unaccented spellings ("An Binh").
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from gateway.codelists import get_codelist
from gateway.i18n import DEFAULT_LANGUAGE
from gateway.text import spelling_key

SCHOOL_TYPE_LIST = "school-type"
SCHOOL_WORD = spelling_key("trường")
# The word that joins two types of one school: "Trường TH và THCS An Bình".
_JOINER = spelling_key("và")


@dataclass(frozen=True)
class SchoolName:
    """A school name split into its type codes, in the order written, and its own name."""

    types: tuple[str, ...]
    name: str


def parse_school_name(text: str) -> SchoolName:
    """Split ``text`` into its school types and its own name, as ``spelling_key`` words."""
    words = spelling_key(text).split()
    if words[:1] == [SCHOOL_WORD]:
        words = words[1:]
    types: list[str] = []
    position = 0
    while True:
        found = _type_at(words, position)
        if found is None and types and words[position:position + 1] == [_JOINER]:
            found = _type_at(words, position + 1)
            if found is not None:
                position += 1
        if found is None:
            break
        code, length = found
        types.append(code)
        position += length
    return SchoolName(tuple(types), " ".join(words[position:]))


def same_school(first: str, second: str) -> bool:
    """Tell whether two school names name the same school, by the rules in the module docstring."""
    return parse_school_name(first) == parse_school_name(second)


def _type_at(words: list[str], position: int) -> tuple[str, int] | None:
    """Return the type code that starts at ``words[position]`` and its length in words, if any."""
    for spelling, code in _type_spellings():
        if words[position:position + len(spelling)] == list(spelling):
            return code, len(spelling)
    return None


@cache
def _type_spellings() -> tuple[tuple[tuple[str, ...], str], ...]:
    """Return the Vietnamese name and aliases of every school type as words, longest first.

    Longest first, so that "Phổ thông dân tộc nội trú" is one type and not "Phổ thông"
    followed by an own name.
    """
    types = get_codelist(SCHOOL_TYPE_LIST)
    spellings = []
    for code in types.codes:
        entry = types.entry(code)
        for text in (entry.name.get(DEFAULT_LANGUAGE, ""), *entry.aliases):
            words = tuple(spelling_key(text).split())
            if words:
                spellings.append((words, code))
    return tuple(sorted(spellings, key=lambda item: -len(item[0])))

"""Code lists: versioned, effective-dated lists of codes whose aliases are the other spellings of each name.

A list lives at ``mappings/codelists/<name>/v<N>.yaml``. Either the file lists its codes, or it
declares ``source: {package: vietnam-provinces, kind: provinces | communes}`` and the codes are
built from that package at first use, then cached, because about 3,300 communes do not belong in
a hand-edited file.

Lookups compare by ``gateway.text.match_key`` (no case, no diacritics, no punctuation):

- ``lookup(value, on=None)`` finds a code by its names, its aliases, or the code itself. A code
  made of digits only (an ethnic-group or commune number) is not a spelling: a bare number means
  nothing until the caller says which numbering it belongs to, with ``lookup_code``.
- ``lookup_code(code, on=None)`` finds a code by the code only, adding the leading zeros that
  spreadsheets drop ("1" is "01" in a list of two-digit codes).
- ``lookup_in(value, parent, on=None)`` finds a name among the children of one parent, for lists
  whose codes have a ``parent`` (the communes of one province).
- ``on`` is a date: a code that is not valid on that date is not found.

``prefixes`` are words that a cell may put before a name ("Dân tộc Kinh"): a value that names
no code is looked up again without them.

``former_names`` are the names of units that ceased when the list took effect, by the code of
the unit each became part of (the provinces merged on 1 July 2025). They are not spellings:
``former_unit`` finds them, so that a rejection can name the unit to write instead.
``messages`` names the catalogue keys that the ``code`` mapping step uses for this list's
rejections in place of the general ones, so that a list of 2025 units can state the reform.

``null_aliases`` are values that are known to mean "no code" (OneRoster's ``unspecified``), which
give ``None`` instead of a rejection. In a list without parents, a spelling that names two codes
makes the list invalid, so a lookup is never ambiguous. In a list with parents the same name may
recur under different parents (nine provinces have a "Tân Thành"), and ``lookup`` of such a
name raises ``CodeAmbiguous``. Within one parent, names that differ only in diacritics
("Văn Lang" and "Văn Lăng") are distinguished by a finer key that keeps diacritics but ignores
the tone placement ("Thuỷ" and "Thủy" stay equal).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import cache
from importlib import import_module, metadata
from pathlib import Path
from typing import Any

import yaml

from gateway import PROJECT_ROOT
from gateway.errors import ConfigurationError, MappingError, Problems
from gateway.i18n import DEFAULT_LANGUAGE, LANGUAGES, translate
from gateway.text import collapse_spaces, match_key, spelling_key
from gateway.validation import SCHEMA_BASE_URI, get_registry

log = logging.getLogger(__name__)

CODELIST_DIR = PROJECT_ROOT / "mappings" / "codelists"

_LIST_KEYS = frozenset({
    "name", "version", "title", "provenance", "valid_from", "valid_to", "codes", "null_aliases",
    "source", "aliases", "parent_list", "maps_to", "prefixes", "former_names", "messages",
})
# The rejections of the ``code`` step that a list's ``messages`` may word for itself.
MESSAGE_KINDS = ("unknown", "unknown_in", "in_other_parent", "parent_missing", "former")
_FORMER_KEYS = frozenset({"prefixes", "units"})
_CODE_KEYS = frozenset({"code", "name", "aliases", "parent", "valid_from", "valid_to", "maps_to"})


class _NullCode:
    """The target of a null alias: the value is known and means "no code"."""

    def __repr__(self) -> str:
        return "<no code>"


_NULL = _NullCode()
# An ambiguity message lists this many candidates, then how many more there are.
_SHOWN_CANDIDATES = 12
Target = str | _NullCode


class CodeAmbiguous(MappingError):
    """A name that several codes carry (a commune name found in more than one province).

    A ``MappingError``, so the row that contains the value is rejected into quarantine with a
    message that lists the candidates, instead of being given one of them.
    """

    key = "codelist.ambiguous"


@dataclass(frozen=True)
class Code:
    """One code with its names, spellings and the dates it is valid.

    ``valid_from`` and ``valid_to`` (both inclusive) are the code's own dates narrowed to the
    list's dates. ``parent`` is a code of the list named by the list's ``parent_list``.
    ``maps_to`` is the value of another code system that this code implies.
    """

    code: str
    name: Mapping[str, str]
    aliases: tuple[str, ...] = ()
    parent: str | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    maps_to: str | None = None

    def valid_on(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day <= self.valid_to
        )

    def spellings(self) -> list[str]:
        """Return every text a lookup by name accepts for this code."""
        own = [] if self.code.isdigit() else [self.code]
        return [*own, *self.name.values(), *self.aliases]


class _Spellings:
    """The spellings of one scope (a whole list, or the children of one parent).

    ``coarse`` maps each ``match_key`` to the one target it names, or to a tuple of codes when
    several share it. ``fine`` does the same by ``spelling_key``, and is read only for shared keys.
    """

    def __init__(self) -> None:
        self.coarse: dict[str, Any] = {}
        self.fine: dict[str, Any] = {}

    def add(self, spelling: str, target: Target) -> None:
        self.coarse.setdefault(match_key(spelling), set()).add(target)
        self.fine.setdefault(spelling_key(spelling), set()).add(target)

    def shared(self, fine: bool) -> list[tuple[str, list[str]]]:
        """Return the keys that name more than one target, with their targets."""
        index = self.fine if fine else self.coarse
        return [(key, sorted(map(str, targets))) for key, targets in index.items() if len(targets) > 1]

    def freeze(self) -> None:
        for index in (self.coarse, self.fine):
            for key, targets in index.items():
                index[key] = next(iter(targets)) if len(targets) == 1 else tuple(sorted(targets, key=str))

    def find(self, value: str) -> Any:
        """Return the target of ``value``, or a tuple of candidate codes; ``KeyError`` if none."""
        found = self.coarse[match_key(value)]
        if not isinstance(found, tuple):
            return found
        finer = self.fine.get(spelling_key(value))
        return finer if finer is not None else found


# -- the list --------------------------------------------------------------------------------------


@dataclass
class _Content:
    codes: dict[str, Code]
    spellings: _Spellings
    children: dict[str, _Spellings]
    provenance: dict[str, str]
    code_width: int | None
    parent_width: int | None
    source_version: str | None = None


class CodeList:
    """One version of one code list.

    For a list built from a package, the codes are read at the first call that needs them. A
    package that is missing or gives invalid data raises ``ConfigurationError`` there.
    """

    def __init__(self, header: dict[str, Any], load: Callable[[], _Content]):
        self.name: str = header["name"]
        self.version: int = header["version"]
        self.title: dict[str, str] = dict(header.get("title") or {})
        self.valid_from: date | None = header.get("valid_from")
        self.valid_to: date | None = header.get("valid_to")
        self.parent_list: str | None = header.get("parent_list")
        self.maps_to: dict[str, Any] | None = header.get("maps_to")
        self.source: dict[str, str] | None = header.get("source")
        # match_key forms of the prefixes, each split into its words.
        self.prefixes: tuple[tuple[str, ...], ...] = tuple(
            tuple(match_key(str(prefix)).split()) for prefix in header.get("prefixes") or ())
        self.messages: dict[str, str] = dict(header.get("messages") or {})
        former = header.get("former_names") or {}
        self._former_prefixes = tuple(tuple(match_key(str(p)).split()) for p in former.get("prefixes") or ())
        self._former = {match_key(str(name)): str(code)
                        for code, names in (former.get("units") or {}).items() for name in names}
        self._load = load
        self._content: _Content | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<CodeList {self.label}>"

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(self._loaded().codes)

    @property
    def provenance(self) -> dict[str, str]:
        """The list's provenance by language: where its codes come from and what is uncertain."""
        return self._loaded().provenance

    def provenance_in(self, lang: str) -> str:
        """Return the list's provenance in ``lang``, else in Vietnamese, else ``""``."""
        provenance = self._loaded().provenance
        return provenance.get(lang) or provenance.get(DEFAULT_LANGUAGE) or ""

    def _loaded(self) -> _Content:
        if self._content is None:
            with self._lock:
                if self._content is None:
                    self._content = self._load()
        return self._content

    def entry(self, code: str) -> Code:
        """Return the ``Code`` of ``code`` as the list writes it; raise ``KeyError`` if absent."""
        return self._loaded().codes[code]

    def name_of(self, code: str, lang: str) -> str | None:
        """Return the name of ``code`` in ``lang``, else its Vietnamese name.

        ``code`` is compared as the list writes it, on any date. Return ``None`` if the list has
        no such code, and ``""`` if the code has no name in either language.
        """
        found = self._loaded().codes.get(code)
        if found is None:
            return None
        return found.name.get(lang) or found.name.get(DEFAULT_LANGUAGE) or ""

    def title_in(self, lang: str) -> str:
        """Return the list's title in ``lang``, else in Vietnamese, else ``""``."""
        return self.title.get(lang) or self.title.get(DEFAULT_LANGUAGE) or ""

    def lookup(self, value: str, on: date | str | None = None) -> str | None:
        """Return the code ``value`` names, or ``None`` for a null alias.

        Raise ``KeyError`` if it names no code (valid on ``on``, when given), and ``CodeAmbiguous``
        if several codes carry it, which only happens in a list with parents.
        """
        return self._resolve(self._loaded().spellings, value, _as_date(on))

    def lookup_in(self, value: str, parent: str, on: date | str | None = None) -> str | None:
        """Return the code ``value`` names among the children of ``parent``.

        Raise ``KeyError`` if the parent has no child of that name, and ``ConfigurationError``
        if this list has no parents.
        """
        content = self._loaded()
        if self.parent_list is None:
            raise ConfigurationError("codelist.not_nested", codelist=self.label)
        scope = content.children[_pad(str(parent).strip(), content.parent_width)]
        return self._resolve(scope, value, _as_date(on))

    def lookup_code(self, code: str, on: date | str | None = None) -> str:
        """Return ``code`` as the list writes it, if the list has it (valid on ``on``, when given).

        Only the code itself is compared, never a name, after adding the leading zeros that
        spreadsheets drop. Raise ``KeyError`` otherwise.
        """
        content = self._loaded()
        found = content.codes[_pad(str(code).strip(), content.code_width)]
        day = _as_date(on)
        if day is not None and not found.valid_on(day):
            raise KeyError(code)
        return found.code

    def message_key(self, kind: str, default: str) -> str:
        """Return the catalogue key of this list's rejection ``kind``, else ``default``."""
        return self.messages.get(kind, default)

    def former_unit(self, value: str) -> str | None:
        """Return the code of the unit that the former unit ``value`` became part of, if known.

        The former names' own prefixes ("Tỉnh", "TP") may come before the name.
        """
        words = match_key(value).split()
        found = self._former.get(" ".join(words))
        for prefix in self._former_prefixes:
            if found is None and len(words) > len(prefix) and tuple(words[:len(prefix)]) == prefix:
                found = self._former.get(" ".join(words[len(prefix):]))
        if found is None:
            return None
        return _pad(found, self._loaded().code_width)

    @property
    def numbered(self) -> bool:
        """Whether every code is a number of one width (``01`` to ``54``), not a word."""
        return self._loaded().code_width is not None

    def _without_prefix(self, value: str) -> str | None:
        """Return ``value`` without a leading prefix of the list, or ``None`` if it has none."""
        words = value.split()
        for prefix in self.prefixes:
            size = len(prefix)
            if len(words) > size and tuple(match_key(" ".join(words[:size])).split()) == prefix:
                return " ".join(words[size:])
        return None

    def _find(self, scope: _Spellings, value: str) -> Any:
        try:
            return scope.find(value)
        except KeyError:
            rest = self._without_prefix(value)
            if rest is None:
                raise
            return scope.find(rest)

    def _resolve(self, scope: _Spellings, value: str, day: date | None) -> str | None:
        found = self._find(scope, value)
        if found is _NULL:
            return None
        codes = self._loaded().codes
        if isinstance(found, tuple):
            candidates = [c for c in found if day is None or codes[c].valid_on(day)]
            if len(candidates) == 1:
                return str(candidates[0])
            if not candidates:
                raise KeyError(value)
            raise self._ambiguous(value, candidates)
        if day is not None and not codes[found].valid_on(day):
            raise KeyError(value)
        return str(found)

    def _ambiguous(self, value: str, candidates: list[str]) -> CodeAmbiguous:
        shown = [self._candidate(code) for code in candidates[:_SHOWN_CANDIDATES]]
        if len(candidates) > _SHOWN_CANDIDATES:
            shown.append(f"+{len(candidates) - _SHOWN_CANDIDATES}")
        return CodeAmbiguous("codelist.ambiguous", value=value, codelist=self.label,
                             count=len(candidates), candidates=", ".join(shown))

    def _candidate(self, code: str) -> str:
        entry = self._loaded().codes[code]
        label = " ".join(part for part in (code, entry.name.get("vi")) if part)
        return f"{label} ({entry.parent})" if entry.parent else label

    def describe(self) -> dict[str, Any]:
        """Return the list's name, version, codes with their names, provenance and dates, ready for JSON."""
        content = self._loaded()
        described: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "title": self.title,
            "codes": list(content.codes),
            "names": {c.code: dict(c.name) for c in content.codes.values()},
            "provenance": content.provenance,
            "valid_from": _iso(self.valid_from),
            "valid_to": _iso(self.valid_to),
        }
        dated = {c.code: {"valid_from": _iso(c.valid_from), "valid_to": _iso(c.valid_to)}
                 for c in content.codes.values()
                 if (c.valid_from, c.valid_to) != (self.valid_from, self.valid_to)}
        if dated:
            described["code_dates"] = dated
        if self.source:
            described["source"] = {**self.source, "version": content.source_version}
        if self.parent_list:
            described["parent_list"] = self.parent_list
        if self.maps_to:
            described["maps_to"] = self.maps_to
        return described


def _as_date(on: date | str | None) -> date | None:
    if on is None or type(on) is date:
        return on
    if isinstance(on, datetime):
        return on.date()
    return date.fromisoformat(str(on))


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _pad(code: str, width: int | None) -> str:
    """Put back the leading zeros that spreadsheets drop from numeric codes."""
    return code.zfill(width) if width and code.isdigit() else code


def _common_width(codes: Iterable[str]) -> int | None:
    """Return the length shared by codes made only of digits, or ``None`` if they have none."""
    widths = {len(c) if c.isdigit() else -1 for c in codes}
    return widths.pop() if len(widths) == 1 and -1 not in widths else None


# -- reading files ---------------------------------------------------------------------------------


def _date_field(document: Mapping[str, Any], key: str, where: str, problems: Problems) -> date | None:
    value = document.get(key)
    if value is None or type(value) is date:
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        problems.add(f"{where}: '{key}' must be a date written YYYY-MM-DD, not '{value}'")
        return None


def _read_header(document: dict[str, Any], origin: Path, problems: Problems) -> dict[str, Any] | None:
    """Check the list-level keys of ``document`` and return them with dates parsed."""
    name, version = document.get("name"), document.get("version")
    if not isinstance(name, str) or not isinstance(version, int):
        problems.add(f"{origin}: 'name' (text) and 'version' (integer) are required")
        return None
    for key in sorted(set(document) - _LIST_KEYS):
        problems.add(f"{origin}: unknown key '{key}'; allowed: {', '.join(sorted(_LIST_KEYS))}")
    header = dict(document)
    header["valid_from"] = _date_field(document, "valid_from", str(origin), problems)
    header["valid_to"] = _date_field(document, "valid_to", str(origin), problems)
    _check_range(header["valid_from"], header["valid_to"], str(origin), problems)
    _check_source(header, origin, problems)
    header["provenance"] = _provenance_field(document, str(origin), problems)
    title = document.get("title") or {}
    if not (isinstance(title, dict) and all(isinstance(v, str) for v in title.values())):
        problems.add(f"{origin}: 'title' must map languages to text, like {{vi: ..., en: ...}}")
        header["title"] = {}
    prefixes = document.get("prefixes")
    if prefixes is not None and not (isinstance(prefixes, list)
                                     and all(isinstance(p, str) and p.strip() for p in prefixes)):
        problems.add(f"{origin}: 'prefixes' must be a list of texts, like [Dân tộc]")
        header["prefixes"] = None
    _check_messages(header, origin, problems)
    _check_former_shape(header, origin, problems)
    maps_to = document.get("maps_to")
    if maps_to is not None and not (isinstance(maps_to, dict) and isinstance(maps_to.get("values"), list)):
        problems.add(f"{origin}: 'maps_to' must be {{field: <name>, values: [...]}}")
        header["maps_to"] = None
    return header


def _check_messages(header: dict[str, Any], origin: Path, problems: Problems) -> None:
    messages = header.get("messages")
    if messages is None:
        return
    if not isinstance(messages, dict) or not all(
            kind in MESSAGE_KINDS and isinstance(key, str) and key.startswith("mapping.")
            for kind, key in messages.items()):
        problems.add(f"{origin}: 'messages' must map {', '.join(MESSAGE_KINDS)} to catalogue keys "
                     "that start with 'mapping.'")
        header["messages"] = None


def _check_former_shape(header: dict[str, Any], origin: Path, problems: Problems) -> None:
    former = header.get("former_names")
    if former is None:
        return
    units = former.get("units") if isinstance(former, dict) else None
    prefixes = (former.get("prefixes") or []) if isinstance(former, dict) else None
    if (not isinstance(former, dict) or set(former) - _FORMER_KEYS or not isinstance(units, dict)
            or not all(isinstance(names, list) and all(isinstance(n, str) and n.strip() for n in names)
                       for names in units.values())
            or not (isinstance(prefixes, list) and all(isinstance(p, str) for p in prefixes))):
        problems.add(f"{origin}: 'former_names' must be {{units: {{CODE: [NAME, ...]}}, "
                     "prefixes: [TEXT, ...]}}")
        header["former_names"] = None


def _check_former(header: dict[str, Any], codes: Mapping[str, Code], spellings: _Spellings,
                  where: str, problems: Problems) -> None:
    """Check that each former name points at a code of the list and is not a current spelling."""
    units = (header.get("former_names") or {}).get("units") or {}
    width = _common_width(codes)
    for code, names in units.items():
        if _pad(str(code), width) not in codes:
            problems.add(f"{where}: former_names for code '{code}', which the list does not have")
        for name in names:
            if match_key(str(name)) in spellings.coarse:
                problems.add(f"{where}: former name '{name}' is also the spelling of a current code")


def _provenance_field(document: dict[str, Any], where: str, problems: Problems) -> dict[str, str]:
    """Return a list's ``provenance`` by language.

    The field maps languages to text, like ``title``. A plain text is accepted as the text of
    every language, for a list whose provenance needs no translation.
    """
    provenance = document.get("provenance") or {}
    if isinstance(provenance, str):
        return dict.fromkeys(LANGUAGES, provenance.strip())
    if not (isinstance(provenance, dict) and all(isinstance(v, str) for v in provenance.values())):
        problems.add(f"{where}: 'provenance' must map languages to text, like {{vi: ..., en: ...}}")
        return {}
    return {str(lang): text.strip() for lang, text in provenance.items()}


def _check_range(start: date | None, end: date | None, where: str, problems: Problems) -> None:
    if start and end and end < start:
        problems.add(f"{where}: valid_to {end} is before valid_from {start}")


def _check_source(header: dict[str, Any], origin: Path, problems: Problems) -> None:
    source = header.get("source")
    if source is None:
        if header.get("aliases"):
            problems.add(f"{origin}: list-level 'aliases' are only for lists built from a 'source'; "
                         "put aliases on their codes")
        return
    kind = (source.get("package"), source.get("kind")) if isinstance(source, dict) else None
    if kind not in _SOURCES:
        known = ", ".join(f"{{package: {p}, kind: {k}}}" for p, k in _SOURCES)
        problems.add(f"{origin}: unknown source {source}; known: {known}")
    if header.get("codes"):
        problems.add(f"{origin}: a list with a 'source' must not list 'codes' as well")


def _read_code(entry: Any, where: str, problems: Problems) -> Code | None:
    if not isinstance(entry, dict) or "code" not in entry:
        problems.add(f"{where}: each code needs a 'code'")
        return None
    for key in sorted(set(entry) - _CODE_KEYS):
        problems.add(f"{where}: unknown key '{key}'; allowed: {', '.join(sorted(_CODE_KEYS))}")
    start = _date_field(entry, "valid_from", where, problems)
    end = _date_field(entry, "valid_to", where, problems)
    _check_range(start, end, where, problems)
    return Code(
        code=str(entry["code"]),
        name={str(k): str(v) for k, v in (entry.get("name") or {}).items()},
        aliases=tuple(str(a) for a in entry.get("aliases") or ()),
        parent=None if entry.get("parent") is None else str(entry["parent"]),
        valid_from=start,
        valid_to=end,
        maps_to=None if entry.get("maps_to") is None else str(entry["maps_to"]),
    )


def _narrow(code: Code, header: dict[str, Any]) -> Code:
    """Narrow a code's dates to the list's: a code is never valid outside its list."""
    starts = [d for d in (code.valid_from, header.get("valid_from")) if d]
    ends = [d for d in (code.valid_to, header.get("valid_to")) if d]
    return replace(code, valid_from=max(starts, default=None), valid_to=min(ends, default=None))


def _build_content(header: dict[str, Any], entries: list[Any], provenance: dict[str, str], where: str,
                   problems: Problems) -> _Content:
    """Index the codes of one list, adding every problem found to ``problems``."""
    codes: dict[str, Code] = {}
    for number, entry in enumerate(entries, start=1):
        code = _read_code(entry, f"{where}: codes[{number}]", problems)
        if code is None:
            continue
        if code.code in codes:
            problems.add(f"{where}: code '{code.code}' is listed twice")
        codes[code.code] = _narrow(code, header)
    _check_links(header, codes.values(), where, problems)
    spellings, children = _index(header, codes.values(), where, problems)
    _check_former(header, codes, spellings, where, problems)
    parents = [c.parent for c in codes.values() if c.parent]
    return _Content(codes, spellings, children, provenance, _common_width(codes), _common_width(parents))


def _check_links(header: dict[str, Any], codes: Iterable[Code], where: str, problems: Problems) -> None:
    nested = header.get("parent_list") is not None
    allowed = set((header.get("maps_to") or {}).get("values") or ())
    for code in codes:
        if (code.parent is not None) != nested:
            problems.add(f"{where}: code '{code.code}': a 'parent' is required exactly when the list "
                         "names a 'parent_list'")
        if header.get("maps_to") and code.maps_to not in allowed:
            problems.add(f"{where}: code '{code.code}': maps_to '{code.maps_to}' is not one of "
                         f"{sorted(allowed)}")
        if not header.get("maps_to") and code.maps_to is not None:
            problems.add(f"{where}: code '{code.code}' has 'maps_to' but the list declares none")


def _index(header: dict[str, Any], codes: Iterable[Code], where: str,
           problems: Problems) -> tuple[_Spellings, dict[str, _Spellings]]:
    """Index every spelling of every code, in the whole list and under each parent."""
    spellings = _Spellings()
    children: dict[str, _Spellings] = {}
    for code in codes:
        for text in code.spellings():
            spellings.add(text, code.code)
            if code.parent is not None:
                children.setdefault(code.parent, _Spellings()).add(text, code.code)
    for text in header.get("null_aliases") or ():
        for scope in (spellings, *children.values()):
            scope.add(str(text), _NULL)

    if header.get("parent_list") is None:
        for key, targets in spellings.shared(fine=False):
            problems.add(f"{where}: spelling '{key}' names two codes ({', '.join(targets)})")
    else:
        for key, found in spellings.coarse.items():
            if _NULL in found and len(found) > 1:
                problems.add(f"{where}: null alias '{key}' is also the spelling of a code")
    for parent, scope in children.items():
        for key, targets in scope.shared(fine=True):
            problems.add(f"{where}: under parent {parent}, spelling '{key}' names two codes "
                         f"({', '.join(targets)})")
    spellings.freeze()
    for scope in children.values():
        scope.freeze()
    return spellings, children


def _from_file(document: dict[str, Any], origin: Path, problems: Problems) -> CodeList | None:
    header = _read_header(document, origin, problems)
    if header is None:
        return None
    if header.get("source"):
        return CodeList(header, lambda: _from_source(header, origin))
    content = _build_content(header, list(document.get("codes") or []),
                             header["provenance"], str(origin), problems)
    return CodeList(header, lambda: content)


def _from_source(header: dict[str, Any], origin: Path) -> _Content:
    """Build a list's codes from its package; raise ``ConfigurationError`` on any problem."""
    package, kind = header["source"]["package"], header["source"]["kind"]
    entries, (version, data_version) = _SOURCES[(package, kind)](header)
    # An unquoted YAML key such as 01 reads as the number 1: pad it like a looked-up code.
    width = _common_width(entry["code"] for entry in entries)
    extra = {_pad(str(code), width): list(texts) for code, texts in (header.get("aliases") or {}).items()}
    for entry in entries:
        entry["aliases"] = [*entry.get("aliases", ()), *extra.pop(entry["code"], ())]

    problems = Problems()
    for code in sorted(extra):
        problems.add(f"{origin}: aliases for code '{code}', which the package does not have")
    provenance = {}
    for lang in LANGUAGES:
        written = header["provenance"].get(lang) or header["provenance"].get(DEFAULT_LANGUAGE, "")
        built = (translate("codelist.provenance_package_data", lang, package=package,
                           version=version, data_version=data_version) if data_version
                 else translate("codelist.provenance_package", lang, package=package, version=version))
        provenance[lang] = f"{written} {built}".strip()
    content = _build_content(header, entries, provenance, str(origin), problems)
    problems.raise_if_any("error.codelists_invalid")
    content.source_version = f"{version} (data of {data_version})" if data_version else version
    log.info("code list built from package", extra={"codelist": header["name"], "package": package,
                                                     "package_version": version,
                                                     "codes": len(content.codes)})
    return content


# -- the vietnam-provinces package ----------------------------------------------------------------

_VIETNAM_PROVINCES = "vietnam-provinces"
# Commune-level types as the package writes them, with the prefixes and abbreviations of each.
_COMMUNE_PREFIXES = {"phường": ("Phường", "P."), "xã": ("Xã", "X."), "đặc khu": ("Đặc khu",)}


def _vietnam_provinces(header: dict[str, Any]) -> Any:
    try:
        return import_module("vietnam_provinces")
    except ImportError as exc:
        raise ConfigurationError("codelist.package_missing", codelist=f"{header['name']}@{header['version']}",
                                 package=_VIETNAM_PROVINCES) from exc


def _package_version(module: Any) -> tuple[str, str | None]:
    """Return the installed package's version and the date of its data, when it gives one."""
    data_version = getattr(module, "__data_version__", None)
    return metadata.version(_VIETNAM_PROVINCES), str(data_version) if data_version else None


def _strip_prefix(name: str, prefix: str) -> str:
    return name[len(prefix):].strip() if name.startswith(prefix + " ") else name


def _provinces(header: dict[str, Any]) -> tuple[list[dict[str, Any]], tuple[str, str | None]]:
    module = _vietnam_provinces(header)
    entries = []
    for province in module.Province.iter_all():
        name = collapse_spaces(province.name)
        bare = _strip_prefix(name, "Thành phố")
        city = province.division_type.value == "thành phố trung ương"
        aliases = [bare, f"TP {bare}", f"Thành phố {bare}"] if city else [f"Tỉnh {bare}"]
        entries.append({"code": f"{int(province.code):02d}", "name": {"vi": name}, "aliases": aliases})
    return entries, _package_version(module)


def _communes(header: dict[str, Any]) -> tuple[list[dict[str, Any]], tuple[str, str | None]]:
    module = _vietnam_provinces(header)
    entries = []
    for ward in module.Ward.iter_all():
        # NOTE: some names in vietnam-provinces 2025.10.1 carry a double space ("Xã  Xuân Giang").
        name = collapse_spaces(ward.name)
        prefixes = _COMMUNE_PREFIXES.get(ward.division_type.value, ())
        bare = _strip_prefix(name, prefixes[0]) if prefixes else name
        aliases = [bare, *(f"{p} {bare}" for p in prefixes[1:])]
        entries.append({"code": f"{int(ward.code):05d}", "name": {"vi": name}, "aliases": aliases,
                        "parent": f"{int(ward.province_code):02d}"})
    return entries, _package_version(module)


# A source returns the entries of the list, and the package's version and data date.
_Source = Callable[[dict[str, Any]], tuple[list[dict[str, Any]], tuple[str, str | None]]]
_SOURCES: dict[tuple[str, str], _Source] = {
    (_VIETNAM_PROVINCES, "provinces"): _provinces,
    (_VIETNAM_PROVINCES, "communes"): _communes,
}


# -- public entry points ---------------------------------------------------------------------------


@cache
def load_codelists(root: Path = CODELIST_DIR) -> dict[tuple[str, int], CodeList]:
    """Load every code list under ``root``; raise ``ConfigurationError`` listing all problems.

    Lists built from a package are checked here only for their declaration; their codes are read
    at first use.
    """
    problems = Problems()
    lists: dict[tuple[str, int], CodeList] = {}
    for path in sorted(root.glob("*/v*.yaml")):
        with path.open(encoding="utf-8") as handle:
            document = yaml.safe_load(handle) or {}
        built = _from_file(document, path, problems)
        if built is None:
            continue
        if path.parent.name != built.name or path.stem != f"v{built.version}":
            problems.add(f"{path}: name and version must match the path <name>/v<version>.yaml")
        lists[(built.name, built.version)] = built
    problems.raise_if_any("error.codelists_invalid")
    return lists


def get_codelist(name: str, version: int | None = None) -> CodeList:
    """Return list ``name`` at ``version`` (default: the highest); ``ConfigurationError`` if absent."""
    lists = load_codelists()
    versions = sorted(v for (n, v) in lists if n == name)
    if not versions or (version is not None and version not in versions):
        raise ConfigurationError("error.codelist_unknown",
                                 name=name if version is None else f"{name}@{version}")
    return lists[(name, version if version is not None else versions[-1])]



# -- codes in records ------------------------------------------------------------------------------

CODELIST_KEYWORD = "x-codelist"
"""The schema annotation that names the code list whose codes a field holds.

Validation ignores it. On an array field it applies to each item.
"""

# A $ref into the shared definitions: "<entity>/v<N>.json#/$defs/<name>", or "#/$defs/<name>"
# within the same file.
_DEF_REF = re.compile(r"(?:(?P<entity>[a-z_]+)/v(?P<version>[1-9][0-9]*)\.json)?#/\$defs/(?P<name>\w+)")


@dataclass(frozen=True)
class CodeListRef:
    """The code list of one record field: its name, and its version when a mapping pins one."""

    name: str
    version: int | None = None


def record_codelists(entity: str, version: int,
                     mapping: Mapping[str, Any] | None = None) -> dict[str, CodeListRef]:
    """Return the code list of each coded field of a record of ``entity`` at schema ``version``.

    Fields are dotted paths (``address.commune_code``). The schema's ``x-codelist`` annotations
    come first. ``mapping`` is the mapping document that wrote the record. It adds the fields
    the schema leaves to the mapping, such as the ethnic group in one of two numberings. It
    counts only when it maps to this very schema version, because a field of the same name may
    contain codes of another list at another version (``address`` before and after the 2025
    reform).
    """
    ties: dict[str, CodeListRef] = {}
    if mapping is not None and mapping.get("entity") == entity and mapping.get("schema_version") == version:
        ties.update(mapping_codelists(mapping))
    ties.update(schema_codelists(entity, version))
    return ties


@cache
def schema_codelists(entity: str, version: int) -> dict[str, CodeListRef]:
    """Return the fields that the schema of ``entity@version`` ties to a code list with ``x-codelist``.

    The annotation is read on the property itself, then along its ``$ref`` chain into the shared
    definitions. Raise ``ConfigurationError`` if there is no such schema.
    """
    found: dict[str, CodeListRef] = {}
    _collect_schema_ties(get_registry().schema(entity, version), (entity, version), "", found)
    return found


def _collect_schema_ties(node: Mapping[str, Any], document: tuple[str, int], path: str,
                         found: dict[str, CodeListRef]) -> None:
    tie = node.get(CODELIST_KEYWORD)
    while "$ref" in node:
        node, document = _follow_ref(str(node["$ref"]), document)
        tie = tie or node.get(CODELIST_KEYWORD)
    if path and isinstance(tie, str):
        found[path] = CodeListRef(tie)
    for name, child in (node.get("properties") or {}).items():
        if isinstance(child, Mapping):
            _collect_schema_ties(child, document, f"{path}.{name}" if path else name, found)


def _follow_ref(ref: str, document: tuple[str, int]) -> tuple[Mapping[str, Any], tuple[str, int]]:
    """Return the definition ``ref`` points to, and the (entity, version) of its file."""
    match = _DEF_REF.fullmatch(ref.removeprefix(SCHEMA_BASE_URI))
    if match is None:
        raise ConfigurationError("error.configuration",
                                 problems=[f"{ref}: only references to $defs are followed"])
    if match["entity"]:
        document = (match["entity"], int(match["version"]))
    return get_registry().schema(*document)["$defs"][match["name"]], document


def mapping_codelists(document: Mapping[str, Any]) -> dict[str, CodeListRef]:
    """Return the record fields that a mapping document looks up in a code list, by dotted path.

    A field's list is the one named by its last ``code`` step, inside ``each`` too. A field made
    by ``join`` or ``first_of`` takes the list of the fields it reads when they name exactly one
    list between them, so a gender joined from a tick column and a looked-up column is still a
    gender code.
    Fields that stay out of the record (a part of the path starts with ``_``) are left out.
    """
    fields: Mapping[str, Any] = document.get("fields") or {}
    own = {name: ref for name, spec in fields.items()
           if isinstance(spec, Mapping) and (ref := _last_code_step(spec.get("steps") or []))}
    found = {}
    for name in fields:
        ref = _joined_list(name, fields, own, frozenset())
        if ref is not None and not any(part.startswith("_") for part in name.split(".")):
            found[name] = ref
    return found


def _last_code_step(steps: Iterable[Any]) -> CodeListRef | None:
    found = None
    for step in steps:
        if not isinstance(step, Mapping):
            continue
        if isinstance(step.get("code"), Mapping):
            found = CodeListRef(str(step["code"]["list"]), step["code"].get("version"))
        elif isinstance(step.get("each"), list):
            found = _last_code_step(step["each"]) or found
    return found


def _joined_list(name: str, fields: Mapping[str, Any], own: Mapping[str, CodeListRef],
                 seen: frozenset[str]) -> CodeListRef | None:
    if name in own:
        return own[name]
    spec = fields.get(name)
    if not isinstance(spec, Mapping) or name in seen:
        return None
    parts = spec.get("join", spec.get("first_of"))
    if not isinstance(parts, list):
        return None
    lists = {ref for part in parts if (ref := _joined_list(str(part), fields, own, seen | {name}))}
    return lists.pop() if len(lists) == 1 else None


def code_labels(data: Mapping[str, Any], ties: Mapping[str, CodeListRef],
                lang: str) -> dict[str, dict[str, Any]]:
    """Return the names of the codes that ``data`` contains in the fields of ``ties``.

    Each field present in ``data`` gets ``{"codelist": name@version, "available": bool,
    "names": {code: name}}``. A name is in ``lang``, else Vietnamese. A code that its list does
    not have gets ``None``, and so does every code of a list that cannot be loaded, which also
    sets ``available`` to false. ``data`` is only read.
    """
    labels: dict[str, dict[str, Any]] = {}
    for path, ref in ties.items():
        codes = _codes_at(data, path)
        if not codes:
            continue
        try:
            codelist: CodeList | None = get_codelist(ref.name, ref.version)
        except ConfigurationError as exc:
            log.warning("code list unavailable for names", extra={"codelist": ref.name, "error": exc.key})
            codelist = None
        if codelist is None:
            label = f"{ref.name}@{ref.version}" if ref.version else ref.name
            names: dict[str, str | None] = dict.fromkeys(codes)
        else:
            label = codelist.label
            names = {code: codelist.name_of(code, lang) for code in codes}
        labels[path] = {"codelist": label, "available": codelist is not None, "names": names}
    return labels


def _codes_at(data: Mapping[str, Any], path: str) -> list[str]:
    """Return the codes at the dotted ``path`` of ``data``: one for a value, each item of a list."""
    value: Any = data
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return []
        value = value[part]
    values = value if isinstance(value, list) else [value]
    return [str(item) for item in values if item is not None and not isinstance(item, dict | list)]

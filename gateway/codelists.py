"""Code lists: versioned lists of codes whose aliases are the other spellings of each name.

Files live at ``mappings/codelists/<name>/v<N>.yaml``. A lookup compares by
``gateway.text.match_key`` against each code, its names and its aliases; two
codes that share a key make the list invalid, so a lookup is never ambiguous.
``null_aliases`` are values that are known to mean "no code" (OneRoster's
``unspecified``), which give ``None`` instead of a rejection.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from gateway import PROJECT_ROOT
from gateway.errors import ConfigurationError, Problems
from gateway.text import match_key

CODELIST_DIR = PROJECT_ROOT / "mappings" / "codelists"
_NULL = object()


@dataclass(frozen=True)
class CodeList:
    name: str
    version: int
    codes: tuple[str, ...]
    provenance: str
    _index: dict[str, Any]

    def lookup(self, value: str) -> str | None:
        """Return the code ``value`` names; raise ``KeyError`` if it names none."""
        found = self._index[match_key(value)]
        return None if found is _NULL else found

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "codes": list(self.codes),
                "provenance": self.provenance}


def _build(document: dict[str, Any], origin: Path, problems: Problems) -> CodeList | None:
    name, version = document.get("name"), document.get("version")
    if not isinstance(name, str) or not isinstance(version, int):
        problems.add(f"{origin}: 'name' (text) and 'version' (integer) are required")
        return None
    index: dict[str, Any] = {}
    codes = []
    for entry in document.get("codes") or []:
        code = str(entry["code"])
        codes.append(code)
        spellings = [code, *(entry.get("name") or {}).values(), *(entry.get("aliases") or [])]
        for spelling in spellings:
            _add(index, match_key(str(spelling)), code, origin, problems)
    for spelling in document.get("null_aliases") or []:
        _add(index, match_key(str(spelling)), _NULL, origin, problems)
    return CodeList(name, version, tuple(codes), str(document.get("provenance", "")), index)


def _add(index: dict[str, Any], key: str, code: Any, origin: Path, problems: Problems) -> None:
    if key in index and index[key] is not code and index[key] != code:
        problems.add(f"{origin}: spelling '{key}' names two codes ({index[key]}, {code})")
    index[key] = code


@cache
def load_codelists(root: Path = CODELIST_DIR) -> dict[tuple[str, int], CodeList]:
    """Load every code list under ``root``; raise ``ConfigurationError`` listing all problems."""
    problems = Problems()
    lists: dict[tuple[str, int], CodeList] = {}
    for path in sorted(root.glob("*/v*.yaml")):
        with path.open(encoding="utf-8") as handle:
            document = yaml.safe_load(handle) or {}
        built = _build(document, path, problems)
        if built:
            lists[(built.name, built.version)] = built
    problems.raise_if_any("error.codelists_invalid")
    return lists


def get_codelist(name: str, version: int | None = None) -> CodeList:
    """Return list ``name`` at ``version`` (default: the highest); ``ConfigurationError`` if absent."""
    lists = load_codelists()
    versions = sorted(v for (n, v) in lists if n == name)
    if not versions or (version is not None and version not in versions):
        raise ConfigurationError("error.codelist_unknown", name=name, version=version or "")
    return lists[(name, version if version is not None else versions[-1])]

"""The old-to-new administrative-unit correspondence table of the 2025 reform.

On 1 July 2025 the three-level units (province, district, commune) became two
levels (province, commune): provinces merged, districts were abolished, and
most communes merged into a new one. Some old communes were split between
several new ones. This table gives, for each old commune code, the new commune
or communes that took its land, so that a pre-2025 address can be carried
over (``gateway.schema_versions``).

The gateway ships no table, because no licence-free source was at hand. The
setting ``codelists.unit_correspondence`` names a file, relative to
``GATEWAY_HOME``, in one of two formats, detected from the content:

- the dvhcvn ``splits.json`` format: ``{"data": [province, ...]}``, where each
  province has ``level1_id`` and ``splits`` (its new provinces), ``level3s``
  (old communes, each with ``level3_id`` and ``splits``: new units with
  ``new_id`` and ``name``) and optionally ``level2s`` (old districts that had
  no communes, such as island districts, mapped the same way);
- CSV with the header ``old_commune_code,new_province_code,new_commune_code``
  (extra columns are ignored; comma, semicolon or tab separated), one row per
  new commune, so several rows for one old code describe a split.

The table is read once per file and kept flat in memory: about 10,000 old
communes take a few megabytes. Old codes are text, and the leading zeros that
spreadsheets drop are put back by padding numeric codes to the maximum length
of the numeric codes of their level in the file.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from gateway.errors import ConfigurationError, Problems
from gateway.logs import fields

log = logging.getLogger(__name__)

CSV_COLUMNS = ("old_commune_code", "new_province_code", "new_commune_code")
FORMAT_DVHCVN = "dvhcvn"
FORMAT_CSV = "csv"
# A broken file of 10,000 rows would otherwise list 10,000 problems.
MAX_PROBLEMS = 20
_DELIMITERS = (",", ";", "\t")


@dataclass(frozen=True)
class NewUnit:
    """One 2025 commune-level unit that an old unit maps to.

    ``province_code`` is ``None`` when the file does not say (a dvhcvn old
    province that went to several new ones). ``name`` is the unit's name as
    the file writes it, or ``None`` (CSV files carry no names).
    """

    commune_code: str
    province_code: str | None = None
    name: str | None = None


class UnitCorrespondence:
    """An old-to-new unit table, indexed by old commune, district and province code."""

    def __init__(
        self,
        origin: str,
        kind: str,
        communes: Mapping[str, tuple[NewUnit, ...]],
        districts: Mapping[str, tuple[NewUnit, ...]],
        provinces: Mapping[str, tuple[str, ...]],
    ) -> None:
        self.origin = origin
        self.kind = kind
        self._communes, self._commune_width = _padded(communes)
        self._districts, self._district_width = _padded(districts)
        self._provinces, self._province_width = _padded(provinces)

    def __repr__(self) -> str:
        return f"<UnitCorrespondence {self.kind} {self.origin}: {len(self._communes)} communes>"

    def __len__(self) -> int:
        return len(self._communes)

    def communes_of(self, old_commune: str) -> tuple[NewUnit, ...] | None:
        """Return the new units of an old commune code, or ``None`` if the table lacks it."""
        return self._communes.get(_pad(old_commune, self._commune_width))

    def district_units_of(self, old_district: str) -> tuple[NewUnit, ...] | None:
        """Return the new units of an old district that had no communes, or ``None``."""
        return self._districts.get(_pad(old_district, self._district_width))

    def provinces_of(self, old_province: str) -> tuple[str, ...] | None:
        """Return the new province codes of an old province, or ``None`` if the table has none.

        Only the dvhcvn format lists provinces; a CSV table always returns ``None``.
        """
        return self._provinces.get(_pad(old_province, self._province_width))


def _pad(code: str, width: int | None) -> str:
    code = code.strip()
    return code.zfill(width) if width and code.isdigit() else code


def _padded(table: Mapping[str, Any]) -> tuple[dict[str, Any], int | None]:
    # The maximum length of the numeric codes sets the width, not a length they all
    # share, because a CSV file saved from a spreadsheet may itself have lost zeros.
    widths = [len(code) for code in table if code.isdigit()]
    width = max(widths, default=None)
    padded: dict[str, Any] = {}
    for code, targets in table.items():
        key = _pad(code, width)
        padded[key] = _merge(padded.get(key, ()), targets)
    return padded, width


def _merge(first: tuple[Any, ...], second: Iterable[Any]) -> tuple[Any, ...]:
    """Join two target lists, keeping the first of each commune (or province) code."""
    merged = list(first)
    seen = {_target_code(item) for item in merged}
    for item in second:
        if _target_code(item) not in seen:
            seen.add(_target_code(item))
            merged.append(item)
    return tuple(merged)


def _target_code(item: Any) -> str:
    return item.commune_code if isinstance(item, NewUnit) else str(item)


# -- reading a file --------------------------------------------------------------------------------


@cache
def load_correspondence(path: Path) -> UnitCorrespondence:
    """Read the table at ``path`` once per process; its format is found from its content.

    Raises ``ConfigurationError`` when the file cannot be read or is in neither
    format, listing the first ``MAX_PROBLEMS`` problems.
    """
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise ConfigurationError("schema.correspondence_unreadable", path=str(path),
                                 reason=exc.strerror or str(exc)) from exc
    except UnicodeDecodeError as exc:
        raise ConfigurationError("schema.correspondence_unreadable", path=str(path),
                                 reason=f"not UTF-8: {exc.reason}") from exc
    problems = _Problems()
    if text.lstrip().startswith("{"):
        table = _read_dvhcvn(text, str(path), problems)
    else:
        table = _read_csv(text, str(path), problems)
    problems.raise_if_any("schema.correspondence_invalid", path=str(path))
    log.info("unit correspondence loaded",
             extra=fields(format=table.kind, old_communes=len(table), path=str(path)))
    return table


class _Problems(Problems):
    """``Problems`` that keeps the first ``MAX_PROBLEMS`` and counts the rest."""

    skipped: int = 0

    def add(self, text: str) -> None:
        if len(self.items) < MAX_PROBLEMS:
            super().add(text)
        else:
            self.skipped += 1

    def raise_if_any(self, key: str = "error.configuration", **params: Any) -> None:
        if self.skipped:
            super().add(f"... and {self.skipped} more problems")
            self.skipped = 0
        super().raise_if_any(key, **params)


def _text(value: Any) -> str | None:
    """Return a code read from a file as stripped text, or ``None`` if it is empty or not text."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()


# -- the dvhcvn splits.json format -----------------------------------------------------------------


def _read_dvhcvn(text: str, origin: str, problems: Problems) -> UnitCorrespondence:
    empty = UnitCorrespondence(origin, FORMAT_DVHCVN, {}, {}, {})
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        problems.add(f"not valid JSON: {exc}")
        return empty
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, list):
        problems.add("expected a JSON object with a 'data' list of provinces (dvhcvn splits.json)")
        return empty
    communes: dict[str, tuple[NewUnit, ...]] = {}
    districts: dict[str, tuple[NewUnit, ...]] = {}
    provinces: dict[str, tuple[str, ...]] = {}
    for number, province in enumerate(data, start=1):
        where = f"data[{number}]"
        old = _text(province.get("level1_id")) if isinstance(province, dict) else None
        if old is None:
            problems.add(f"{where}: expected a province object with a 'level1_id'")
            continue
        new_provinces = tuple(code for code, _ in _splits(province, where, problems))
        provinces[old] = _merge(provinces.get(old, ()), new_provinces)
        # Each new unit lies in the old province's new province, when there is only one.
        default = new_provinces[0] if len(new_provinces) == 1 else None
        _read_units(province.get("level3s"), "level3_id", f"{where}.level3s", default, communes, problems)
        _read_units(province.get("level2s"), "level2_id", f"{where}.level2s", default, districts, problems)
    return UnitCorrespondence(origin, FORMAT_DVHCVN, communes, districts, provinces)


def _read_units(units: Any, id_key: str, where: str, province: str | None,
                into: dict[str, tuple[NewUnit, ...]], problems: Problems) -> None:
    if units is None:
        return
    if not isinstance(units, list):
        problems.add(f"{where}: expected a list")
        return
    for number, unit in enumerate(units, start=1):
        old = _text(unit.get(id_key)) if isinstance(unit, dict) else None
        if old is None:
            problems.add(f"{where}[{number}]: expected an object with '{id_key}'")
            continue
        targets = [NewUnit(code, province, name)
                   for code, name in _splits(unit, f"{where}[{number}]", problems)]
        if targets:
            into[old] = _merge(into.get(old, ()), targets)


def _splits(unit: dict[str, Any], where: str, problems: Problems) -> list[tuple[str, str | None]]:
    """Return (new code, new name) of each entry of a unit's ``splits`` list."""
    splits = unit.get("splits")
    if not isinstance(splits, list) or not splits:
        problems.add(f"{where}: expected a non-empty 'splits' list")
        return []
    found = []
    for number, target in enumerate(splits, start=1):
        code = _text(target.get("new_id")) if isinstance(target, dict) else None
        if code is None:
            problems.add(f"{where}.splits[{number}]: expected an object with 'new_id'")
            continue
        found.append((code, _text(target.get("name"))))
    return found


# -- the CSV format --------------------------------------------------------------------------------


def _read_csv(text: str, origin: str, problems: Problems) -> UnitCorrespondence:
    header_line = text.lstrip().splitlines()[0] if text.strip() else ""
    delimiter = _delimiter(header_line)
    empty = UnitCorrespondence(origin, FORMAT_CSV, {}, {}, {})
    if delimiter is None:
        problems.add(f"expected a CSV header {','.join(CSV_COLUMNS)} (or a dvhcvn JSON file), "
                     f"found: {header_line[:120]!r}")
        return empty
    reader = csv.reader(io.StringIO(text.lstrip()), delimiter=delimiter)
    header = [name.strip().lower() for name in next(reader)]
    index = {name: header.index(name) for name in CSV_COLUMNS}
    communes: dict[str, tuple[NewUnit, ...]] = {}
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        values = [row[index[name]].strip() if index[name] < len(row) else "" for name in CSV_COLUMNS]
        if not all(values):
            missing = ", ".join(n for n, v in zip(CSV_COLUMNS, values, strict=True) if not v)
            problems.add(f"line {reader.line_num}: {missing} empty")
            continue
        old, province, commune = values
        communes[old] = _merge(communes.get(old, ()), [NewUnit(commune, province)])
    return UnitCorrespondence(origin, FORMAT_CSV, communes, {}, {})


def _delimiter(header_line: str) -> str | None:
    """Return the delimiter that splits ``header_line`` into all of ``CSV_COLUMNS``, if any."""
    for delimiter in _DELIMITERS:
        names = {name.strip().strip('"').lower() for name in header_line.split(delimiter)}
        if set(CSV_COLUMNS) <= names:
            return delimiter
    return None

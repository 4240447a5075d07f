"""Conversions of records between the schema versions of their entity.

The store keeps each record at its entity's current schema version
(``current_version`` in ``mappings/entities.yaml``). Input mapped at an older
version is upgraded on write (``gateway.ingest.stage``), stored records are
upgraded by ``gateway records migrate``, and a reader that pins another version
gets the record converted on read.

A step converts one entity from version N to N+1 (an upgrade) or from N+1 to N
(a downgrade). When a step cannot carry a value over without guessing, it
leaves the value out and returns a ``Review``: a catalogue key
(``schema.review.*``) and its parameters. The record is stored without the
value and marked for a person to look at.

The steps:

- student 1 → 2: the pre-2025 address (province, district, commune) becomes a
  2025 address (province, commune) through the unit correspondence table named
  by the setting ``codelists.unit_correspondence`` (``address_2025``);
- student 2 → 1: the address is left out, because a 2025 commune merges several
  old ones and the old commune cannot be named without guessing.

``docs/schema-versions.md`` describes the rules for people.
"""

from __future__ import annotations

import copy
import enum
import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from gateway import settings as settings_module
from gateway.codelists import Code, CodeAmbiguous, get_codelist
from gateway.entities import get_entity
from gateway.errors import ConfigurationError
from gateway.i18n import translate
from gateway.mapping.spec import canonical_json
from gateway.settings import Settings
from gateway.text import match_key
from gateway.unit_correspondence import NewUnit, UnitCorrespondence, load_correspondence
from gateway.validation import get_registry

log = logging.getLogger(__name__)

PROVINCES_2025 = "province-2025"
COMMUNES_2025 = "commune-2025"
CORRESPONDENCE_SETTING = "codelists.unit_correspondence"

# Review reasons: catalogue keys in gateway/locale/*/LC_MESSAGES/schema.po.
NO_CORRESPONDENCE = "schema.review.no_correspondence"
COMMUNE_UNKNOWN = "schema.review.commune_unknown"
COMMUNE_SPLIT = "schema.review.commune_split"
COMMUNE_MISSING = "schema.review.commune_missing"
CODE_NOT_IN_LIST = "schema.review.code_not_in_list"
REVIEW_REASONS = (NO_CORRESPONDENCE, COMMUNE_UNKNOWN, COMMUNE_SPLIT, COMMUNE_MISSING,
                  CODE_NOT_IN_LIST)


@dataclass(frozen=True)
class Review:
    """Why a person must look at a converted record: a catalogue key and its parameters."""

    reason: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        """Return the text stored in ``record.review``: ``{"params": ..., "reason": ...}``."""
        return canonical_json({"reason": self.reason, "params": self.params})

    @classmethod
    def from_json(cls, text: str | None) -> Review | None:
        """Read a stored review; ``None`` for a record that needs none."""
        if not text:
            return None
        document = json.loads(text)
        return cls(str(document["reason"]), dict(document.get("params") or {}))

    def message(self, lang: str | None = None) -> str:
        """Return the reason as a sentence: lists joined with commas, empty values shown as a dash."""
        return translate(self.reason, lang=lang, **{k: _shown(v) for k, v in self.params.items()})


def _shown(value: Any) -> Any:
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return "—" if value == "" else value


@dataclass(frozen=True)
class Converted:
    """A record converted to ``version``, with the review that its conversion set, if any."""

    record: dict[str, Any]
    version: int
    review: Review | None = None


class _Configured(enum.Enum):
    TABLE = "the table named by the settings"


CONFIGURED = _Configured.TABLE
"""Use the correspondence table of ``configure`` or, before any call to it, of the process settings."""
Units = UnitCorrespondence | None | _Configured
Step = Callable[[dict[str, Any], Units], tuple[dict[str, Any], Review | None]]


# -- the public entry points -----------------------------------------------------------------------


def upgrade(entity: str, record: Mapping[str, Any], from_version: int, *,
            units: Units = CONFIGURED) -> Converted:
    """Convert ``record`` of ``entity`` from ``from_version`` up to the entity's current version.

    Returns a shallow copy when the record is already current, else a converted
    deep copy with the first review a step asked for. Raises
    ``ConfigurationError`` when ``from_version`` is newer than the current
    version or a step is missing.
    """
    current = _current_version(entity)
    if from_version == current:
        return Converted(dict(record), current)
    if from_version > current:
        raise ConfigurationError("schema.version_ahead", entity=entity, version=from_version,
                                 current=current)
    return _chain(entity, record, from_version, current, units)


def convert(entity: str, record: Mapping[str, Any], from_version: int, to_version: int, *,
            units: Units = CONFIGURED) -> Converted:
    """Convert ``record`` of ``entity`` between any two of its schema versions, up or down.

    Raises ``ConfigurationError`` when ``to_version`` has no schema, or a step
    on the way is missing.
    """
    known = get_registry().versions(entity)
    if to_version not in known:
        raise ConfigurationError("schema.version_unknown", entity=entity, version=to_version,
                                 known=", ".join(map(str, known)))
    if from_version == to_version:
        return Converted(dict(record), to_version)
    return _chain(entity, record, from_version, to_version, units)


@cache
def _current_version(entity: str) -> int:
    # Entity definitions are read once per process, so their versions can be kept too.
    return get_entity(entity).current_version


def can_convert(entity: str, from_version: int, to_version: int) -> bool:
    """Return whether every step between the two versions of ``entity`` exists."""
    step = 1 if to_version > from_version else -1
    steps = _UPGRADES if step == 1 else _DOWNGRADES
    return all((entity, version) in steps for version in range(from_version, to_version, step))


def _chain(entity: str, record: Mapping[str, Any], start: int, end: int, units: Units) -> Converted:
    step = 1 if end > start else -1
    steps = _UPGRADES if step == 1 else _DOWNGRADES
    data = copy.deepcopy(dict(record))
    review: Review | None = None
    for version in range(start, end, step):
        convert_step = steps.get((entity, version))
        if convert_step is None:
            raise ConfigurationError("schema.no_conversion", entity=entity, from_version=version,
                                     to_version=version + step)
        data, found = convert_step(data, units)
        # NOTE: a record keeps the first review of a chain. No chain has two
        # steps that can ask for one yet.
        review = review or found
    return Converted(data, end, review)


# -- the correspondence table of this process ------------------------------------------------------

_lock = threading.Lock()
_UNSET = object()
_configured_path: Path | None | object = _UNSET


def correspondence_path(settings: Settings) -> Path | None:
    """Return the table file that ``settings`` name, made absolute, or ``None`` for none."""
    value = str(settings.section("codelists")["unit_correspondence"]).strip()
    return (settings.home / value).resolve() if value else None


def configure(settings: Settings | None) -> None:
    """Make conversions use the table that ``settings`` name.

    ``None`` clears the choice: the next conversion that needs a table reads
    the process settings (``gateway.settings.load``). The file itself is read
    at its first use.
    """
    global _configured_path
    with _lock:
        _configured_path = _UNSET if settings is None else correspondence_path(settings)


def configured_correspondence() -> UnitCorrespondence | None:
    """Return the table of this process, read at the first call; ``None`` if none is set."""
    global _configured_path
    with _lock:
        if _configured_path is _UNSET:
            _configured_path = correspondence_path(settings_module.load())
        path = _configured_path
    return load_correspondence(path) if isinstance(path, Path) else None


def _table(units: Units) -> UnitCorrespondence | None:
    return configured_correspondence() if isinstance(units, _Configured) else units


# -- addresses: pre-2025 to 2025 -------------------------------------------------------------------


def address_2025(old: Mapping[str, Any], units: Units = CONFIGURED) -> tuple[dict[str, Any], Review | None]:
    """Convert a pre-2025 address to a 2025 address, with the review it needs, if any.

    ``detail`` is always kept. An old commune that maps to one new commune gives
    its province and commune codes, checked against the code lists
    ``province-2025`` and ``commune-2025``. Everything that cannot be carried over
    without guessing is left out and named by the review:

    - ``COMMUNE_SPLIT``: the old commune was split between several new ones (the
      new province is kept when all candidates share it);
    - ``COMMUNE_UNKNOWN``: the table lacks the old code;
    - ``COMMUNE_MISSING``: the address has no commune, and the table cannot map
      its district or province;
    - ``CODE_NOT_IN_LIST``: the table names a new code that the code lists lack;
    - ``NO_CORRESPONDENCE``: no table is configured.

    A review's parameters keep the old codes (``old_province``, ``old_district``,
    ``old_commune``; empty when absent), so that they survive the conversion.
    """
    address: dict[str, Any] = {"detail": old["detail"]} if old.get("detail") else {}
    province, district, commune = (_code(old.get(k)) for k in
                                   ("province_code", "district_code", "commune_code"))
    if not (province or district or commune):
        return address, None
    address, review = _convert_units(address, province, district, commune, units)
    if review is None:
        return address, None
    old_codes = {"old_province": province or "", "old_district": district or "",
                 "old_commune": commune or ""}
    return address, Review(review.reason, {**old_codes, **review.params})


def _convert_units(address: dict[str, Any], province: str | None, district: str | None,
                   commune: str | None, units: Units) -> tuple[dict[str, Any], Review | None]:
    table = _table(units)
    if table is None:
        return address, Review(NO_CORRESPONDENCE, {"setting": CORRESPONDENCE_SETTING})
    if commune:
        targets = table.communes_of(commune)
        if targets is None:
            return address, Review(COMMUNE_UNKNOWN)
        return _place(address, commune, targets)
    # dvhcvn lists the old districts that had no communes (island districts) as units.
    if district and (district_targets := table.district_units_of(district)):
        return _place(address, district, district_targets)
    return _province_only(address, province, table)


def _code(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def _place(address: dict[str, Any], old_code: str,
           targets: tuple[NewUnit, ...]) -> tuple[dict[str, Any], Review | None]:
    """Put the one new unit into ``address``, or name the candidates of a split in the review."""
    checked = [_checked_unit(unit) for unit in targets]
    if len(targets) == 1:
        found = checked[0]
        if found is None:
            unit = targets[0]
            return address, Review(CODE_NOT_IN_LIST, {
                "old_code": old_code, "province_code": unit.province_code or "",
                "commune_code": unit.commune_code,
            })
        return {**address, "province_code": found[0], "commune_code": found[1]}, None

    # Candidates are named as the code list writes them where it has them.
    candidates = sorted({found[1] if found else unit.commune_code
                         for unit, found in zip(targets, checked, strict=True)})
    provinces = {found[0] for found in checked if found}
    if len(provinces) == 1 and None not in checked:
        address = {**address, "province_code": provinces.pop()}
    return address, Review(COMMUNE_SPLIT, {"old_code": old_code, "candidates": candidates})


def _checked_unit(unit: NewUnit) -> tuple[str, str] | None:
    """Return (province, commune) of ``unit`` as the 2025 code lists write them, or ``None``.

    The commune must lie in the province. A unit whose file gives its name is
    checked by that name too, because some files number the new units
    differently from the code list: the name then decides, looked up among the
    communes of the unit's province.
    """
    communes = get_codelist(COMMUNES_2025)
    entry = _commune_entry(unit.commune_code)
    if unit.province_code is not None:
        province = _province_code(unit.province_code)
    else:
        province = _province_code(entry.parent) if entry is not None else None
    if province is None:
        return None
    if entry is not None and entry.parent == province and _same_name(unit.name, entry.name):
        return province, entry.code
    if unit.name is None:
        return None
    try:
        code = communes.lookup_in(unit.name, province)
    except (KeyError, CodeAmbiguous):
        return None
    return (province, code) if code is not None else None


def _commune_entry(code: str) -> Code | None:
    communes = get_codelist(COMMUNES_2025)
    try:
        return communes.entry(communes.lookup_code(code))
    except KeyError:
        return None


def _province_code(code: str | None) -> str | None:
    if code is None:
        return None
    try:
        return get_codelist(PROVINCES_2025).lookup_code(code)
    except KeyError:
        return None


def _same_name(name: str | None, names: Mapping[str, str]) -> bool:
    return name is None or match_key(name) in {match_key(n) for n in names.values()}


def _province_only(address: dict[str, Any], province: str | None,
                   table: UnitCorrespondence) -> tuple[dict[str, Any], Review | None]:
    """Carry over the province of an address that names no commune, if the table maps it to one."""
    new_provinces = table.provinces_of(province) if province else None
    if new_provinces and len(new_provinces) == 1:
        checked = _province_code(new_provinces[0])
        if checked is not None:
            return {**address, "province_code": checked}, None
        return address, Review(CODE_NOT_IN_LIST, {
            "old_code": province, "province_code": new_provinces[0], "commune_code": "",
        })
    return address, Review(COMMUNE_MISSING)


# -- the steps -------------------------------------------------------------------------------------


def _student_1_to_2(record: dict[str, Any], units: Units) -> tuple[dict[str, Any], Review | None]:
    old = record.pop("address", None)
    if not isinstance(old, Mapping):
        return record, None
    address, review = address_2025(old, units)
    if address:
        record["address"] = address
    return record, review


def _student_2_to_1(record: dict[str, Any], units: Units) -> tuple[dict[str, Any], Review | None]:
    # A 2025 commune merges several old ones, so the old commune (and district)
    # cannot be named without guessing: the version-1 view has no address.
    record.pop("address", None)
    return record, None


# Keyed by (entity, version converted from).
_UPGRADES: dict[tuple[str, int], Step] = {("student", 1): _student_1_to_2}
_DOWNGRADES: dict[tuple[str, int], Step] = {("student", 2): _student_2_to_1}

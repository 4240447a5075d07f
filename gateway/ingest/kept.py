"""Stored values that a row could not read, kept instead of erased.

A row can lose part of its record without being rejected. A field with ``on_error: drop``
leaves its top-level object out when its steps fail (an address from before the 2025
reform). An optional field whose cells contain spreadsheet formulas stored without their
values reads as empty. A field with ``on_empty: keep`` is empty when the row does not know
its value (a pupil's grade, from a class cell left empty). Written as it is, such a row would
erase the value that the stored record has. So staging notes the record paths that the row
could not read (``kept_paths``), with the reason for each, in ``StagedRecord.keep_fields``.
Compare copies the stored record's value at each path into the row's record (``keep_stored``)
before it compares content hashes. A row that differs from its record only there is then unchanged,
and an update writes, and its change event carries, the kept value. A new record is stored
without the path, as the row gives it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from gateway.mapping.compiler import CompiledMapping, MappedRow, in_scope, value_at
from gateway.mapping.spec import canonical_json

# The reason noted for a field that only formula cells without a value could give.
FORMULA_REASON = "mapping.formula_not_calculated"
# The reason noted for an empty ``on_empty: keep`` field (a grade from an empty class cell).
EMPTY_REASON = "mapping.empty_kept"


def kept_paths(mapping: CompiledMapping, mapped: MappedRow, cells: list[str],
               uncalculated: Mapping[str, str] | None) -> dict[str, str]:
    """Return the record paths whose stored value the row keeps, each with its reason.

    A scope that ``on_error: drop`` left out has the message key of its problem. A field
    that only uncalculated formula cells could give has ``FORMULA_REASON``, and an empty
    ``on_empty: keep`` field ``EMPTY_REASON``, unless it lies in a dropped scope, which keeps
    it already.
    """
    paths = {problem.drop_scope: problem.key for problem in mapped.dropped}
    for name in mapping.uncalculated_fields(cells, uncalculated):
        if not any(in_scope(name, scope) for scope in paths):
            paths[name] = FORMULA_REASON
    for name in mapping.empty_kept_fields(mapped.record):
        if not any(in_scope(name, scope) for scope in paths):
            paths[name] = EMPTY_REASON
    return paths


def keep_fields_text(paths: Mapping[str, str]) -> str | None:
    """Return ``paths`` as the JSON text of ``StagedRecord.keep_fields``, or None when empty."""
    return canonical_json(dict(paths)) if paths else None


def read_keep_fields(text: str | None) -> dict[str, str]:
    """Return the paths and reasons of a ``StagedRecord.keep_fields`` text."""
    return dict(json.loads(text)) if text else {}


def keep_stored(record: dict[str, Any], stored: Mapping[str, Any],
                paths: Mapping[str, str]) -> list[str]:
    """Copy the value of ``stored`` at each of ``paths`` into ``record`` and return the paths copied.

    A path is dotted (``address`` or ``address.detail``). A path that ``stored`` has no value
    at is left as the row gave it. Missing objects on the way are created in ``record``.
    """
    copied = []
    for path in paths:
        value = value_at(stored, path)
        if value is None:
            continue
        target = record
        *outer, last = path.split(".")
        for part in outer:
            inner = target.get(part)
            if not isinstance(inner, dict):
                inner = target[part] = {}
            target = inner
        target[last] = copy.deepcopy(value)
        copied.append(path)
    return copied

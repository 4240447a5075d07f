"""The store as registry of mapping versions.

States: ``draft`` -> ``awaiting_approval`` -> ``active`` -> ``retired``. A version
is identified by the hash of its canonical content and never changes once
stored: importing a file whose (adapter, entity, number) exists with other
content is refused, because a change must be a new version.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from pathlib import Path

from gateway.clock import utcnow
from gateway.entities import load_entities
from gateway.errors import ConfigurationError, Problems
from gateway.mapping.spec import MappingSpec, read_spec, shipped_mapping_files
from gateway.store.models import MappingVersion, SourceMapping

log = logging.getLogger(__name__)

STATES = ("draft", "awaiting_approval", "active", "retired")


def import_shipped(paths: list[Path] | None = None, state: str = "active") -> dict[str, int]:
    """Import mapping files into the registry; return counts of new and known versions.

    Every file is read and checked first, and every problem reported at once;
    nothing is written unless all files are good.
    """
    problems = Problems()
    specs: list[MappingSpec] = []
    for path in paths if paths is not None else shipped_mapping_files():
        try:
            specs.append(read_spec(path))
        except ConfigurationError as exc:
            problems.items.extend(exc.problems)
    entities = load_entities()
    for spec in specs:
        if spec.entity not in entities:
            problems.add(f"{spec.origin}: unknown entity '{spec.entity}'")
        existing = MappingVersion.get_or_none(
            (MappingVersion.adapter == spec.adapter)
            & (MappingVersion.entity == spec.entity)
            & (MappingVersion.number == spec.number)
        )
        if existing and existing.id != spec.version_id:
            problems.add(
                f"{spec.origin}: version {spec.number} of {spec.adapter}/{spec.entity} is already "
                f"released with other content; save the change as version {spec.number + 1}"
            )
    problems.raise_if_any("error.mapping_file")
    counts = {"new": 0, "known": 0}
    for spec in specs:
        created = _store(spec, state)
        counts["new" if created else "known"] += 1
    return counts


def _store(spec: MappingSpec, state: str) -> bool:
    now = utcnow()
    inserted = (
        MappingVersion.insert(
            id=spec.version_id,
            adapter=spec.adapter,
            entity=spec.entity,
            stream=spec.stream,
            number=spec.number,
            schema_version=spec.schema_version,
            state=state,
            content=spec.canonical,
            origin=spec.origin,
            created_at=now,
            approved_at=now if state == "active" else None,
        )
        .on_conflict_ignore()
        .execute()
    )
    return bool(inserted)


def to_spec(version: MappingVersion) -> MappingSpec:
    return MappingSpec(document=json.loads(version.content), origin=version.origin or version.id)


def active_specs(adapter: str, source: str) -> list[MappingSpec]:
    """Return, per entity, the version ``source`` is pinned to, else the newest active one."""
    pinned = {
        row.entity: row.mapping_version
        for row in SourceMapping.select(SourceMapping, MappingVersion)
        .join(MappingVersion)
        .where((SourceMapping.source == source) & (MappingVersion.adapter == adapter))
    }
    newest: dict[str, MappingVersion] = {}
    by_entity: defaultdict[str, list[MappingVersion]] = defaultdict(list)
    for version in MappingVersion.select().where(
        (MappingVersion.adapter == adapter) & (MappingVersion.state == "active")
    ):
        by_entity[version.entity].append(version)
    for entity, versions in by_entity.items():
        newest[entity] = max(versions, key=lambda v: v.number)
    newest.update(pinned)
    return [to_spec(v) for _, v in sorted(newest.items())]


def list_versions(adapter: str | None = None) -> list[MappingVersion]:
    query = MappingVersion.select().order_by(
        MappingVersion.adapter, MappingVersion.entity, MappingVersion.number
    )
    if adapter:
        query = query.where(MappingVersion.adapter == adapter)
    return list(query)

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
    """Insert the version unless its content is already stored; return whether it was new."""
    if MappingVersion.get_or_none(MappingVersion.id == spec.version_id) is not None:
        return False
    now = utcnow()
    (
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
    return True


def to_spec(version: MappingVersion) -> MappingSpec:
    return MappingSpec(document=json.loads(version.content), origin=version.origin or version.id)


def active_specs(adapter: str, source: str) -> list[MappingSpec]:
    """Return, per entity, the version ``source`` is pinned to, else the newest active one.

    A pin to a version that is no longer active is ignored.
    """
    pinned = {
        row.entity: row.mapping_version
        for row in SourceMapping.select(SourceMapping, MappingVersion)
        .join(MappingVersion)
        .where((SourceMapping.source == source) & (MappingVersion.adapter == adapter)
               & (MappingVersion.state == "active"))
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


# Allowed moves between states. A version in use is never edited, only retired.
TRANSITIONS = {
    "draft": ("awaiting_approval",),
    "awaiting_approval": ("active", "draft"),
    "active": ("retired",),
    "retired": ("active",),
}


def find_version(prefix: str) -> MappingVersion:
    """Return the version whose id starts with ``prefix`` (8 characters or more)."""
    if len(prefix) < 8:
        raise ConfigurationError("error.mapping_id_short", id=prefix)
    matches = list(MappingVersion.select().where(MappingVersion.id.startswith(prefix)).limit(2))
    if len(matches) != 1:
        raise ConfigurationError("error.mapping_not_found", id=prefix, found=len(matches))
    return matches[0]


def set_state(prefix: str, state: str) -> MappingVersion:
    """Move a version to ``state`` if the move is allowed; raise ``ConfigurationError`` otherwise."""
    version = find_version(prefix)
    if state not in TRANSITIONS.get(version.state, ()):
        raise ConfigurationError("error.mapping_transition", id=version.id[:12], current=version.state,
                                 requested=state, allowed=", ".join(TRANSITIONS[version.state]))
    version.state = state
    if state == "active":
        version.approved_at = utcnow()
    version.save()
    log.info("mapping state changed", extra={"gateway_fields": {"mapping": version.id[:12], "state": state}})
    return version


def pin(source: str, prefix: str) -> MappingVersion:
    """Make ``source`` use the active version ``prefix`` for its entity from the next run on."""
    from gateway.store.models import Source

    version = find_version(prefix)
    row = Source.get_or_none(Source.name == source)
    if row is None or row.adapter != version.adapter or version.state != "active":
        raise ConfigurationError("error.mapping_pin", id=version.id[:12], source=source,
                                 adapter=version.adapter, state=version.state)
    SourceMapping.insert(source=source, entity=version.entity, mapping_version=version.id).on_conflict(
        conflict_target=[SourceMapping.source, SourceMapping.entity],
        update={SourceMapping.mapping_version: version.id},
    ).execute()
    return version


def unpin(source: str, entity: str) -> int:
    """Let ``source`` use the newest active version for ``entity`` again; return rows removed."""
    return SourceMapping.delete().where(
        (SourceMapping.source == source) & (SourceMapping.entity == entity)
    ).execute()

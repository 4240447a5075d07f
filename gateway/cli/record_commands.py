"""Commands on stored records: records migrate, review, find, show and end."""

from __future__ import annotations

import getpass
import json
from typing import Any

import click

from gateway.cli.context import AppContext
from gateway.cli.render import entity_title, run_lines, time_iso, time_text
from gateway.codelists import code_labels, record_codelists
from gateway.i18n import field_text, get_language, lookup, t
from gateway.ingest import service
from gateway.records import (
    count_for_review,
    find_records,
    migrate_records,
    read_record,
    records_for_review,
    reference_targets,
)
from gateway.schema_versions import REVIEW_REASONS, configure
from gateway.store.models import MappingVersion, Record

MISSING = "—"
# The exit code of the gateway command for an error, such as an id that names no record.
EXIT_NOT_FOUND = 1


def record_state(state: str) -> str:
    """Return a record's state ("active", "ended") in the reader's language, or as stored."""
    return lookup(f"record_state.{state}") or state


def reason_title(reason: str) -> str:
    """Return the short title of a review reason (``schema.review.X`` → ``schema.review_title.X``)."""
    return t(reason.replace("schema.review.", "schema.review_title.", 1))


@click.group("records")
def records_group() -> None:
    """Migrate stored records to the current schema versions, list records waiting for review."""


@records_group.command("migrate")
@click.option("--entity", help="Only records of this entity.")
@click.pass_obj
def records_migrate(app: AppContext, entity: str | None) -> None:
    """Upgrade stored records below their entity's current schema version; safe to run again."""
    db = app.database()
    configure(app.settings)
    with app.progress("progress.migrate_records") as bar:
        result = migrate_records(db, entity, app.settings.section("runs")["chunk_size"], bar)
    document = result.as_dict()
    lines = [t("records.migrated", count=sum(result.migrated.values()))]
    lines += [f"  {name}: {count}" for name, count in sorted(result.migrated.items())]
    if result.review:
        lines.append(t("records.migrated_review", count=sum(result.review.values())))
        lines += [f"  {count} × {reason_title(reason)}"
                  for reason, count in sorted(result.review.items(), key=_reason_order)]
    if result.invalid:
        lines.append(t("records.migrated_invalid", count=sum(result.invalid.values())))
    app.emit(document, lines)


@records_group.command("end")
@click.argument("record_ids", type=int, nargs=-1, required=True)
@click.option("--by", "by", help="Who ends the records; default: the operating-system user.")
@click.pass_obj
def records_end(app: AppContext, record_ids: tuple[int, ...], by: str | None) -> None:
    """End active records by hand (ids from records find), with a change-log event for each."""
    db = app.database()
    result = service.end_records(db, app.settings, list(record_ids), by or getpass.getuser())
    documents = [report.as_dict() for report in result.reports]
    lines = [line for document in documents for line in run_lines(document)]
    if result.not_active:
        lines.append(t("records.end_not_active", ids=", ".join(map(str, result.not_active))))
    app.emit({"runs": documents, "unknown": result.unknown, "not_active": result.not_active}, lines)
    if result.unknown:
        # Not found is an error, as in `records show`: the other ids are ended all the same.
        if not app.json_output:
            click.echo(t("records.end_unknown", ids=", ".join(map(str, result.unknown))), err=True)
        raise click.exceptions.Exit(EXIT_NOT_FOUND)


def _reason_order(item: tuple[str, int]) -> int:
    reason = item[0]
    return REVIEW_REASONS.index(reason) if reason in REVIEW_REASONS else len(REVIEW_REASONS)


@records_group.command("review")
@click.option("--entity", help="Only records of this entity.")
@click.option("--limit", type=int, default=100, show_default=True, help="Maximum number of records listed.")
@click.pass_obj
def records_review(app: AppContext, entity: str | None, limit: int) -> None:
    """List records waiting for review with their reason: ids only, never names."""
    app.database()
    rows = records_for_review(entity, limit)
    total = count_for_review(entity)
    lines = [t("records.review_header", count=total, shown=len(rows))]
    lines += [f"  #{r['record_id']} {entity_title(r['entity'])}@{r['schema_version']} {r['source']} "
              f"{r['local_id']}: {r['message']}" for r in rows]
    app.emit({"total": total, "records": rows}, lines)


@records_group.command("find")
@click.argument("value")
@click.option("--entity", help="Only records of this entity.")
@click.option("--source", help="Only local ids of this source.")
@click.pass_obj
def records_find(app: AppContext, value: str, entity: str | None, source: str | None) -> None:
    """Find records by a local id, a Ministry id or a personal number; show their ids."""
    app.database()
    found = find_records(value, entity, source)
    if not found:
        app.emit({"value": value, "records": []}, [t("records.find_none", value=value)])
        return
    lines = [t("records.find_header", count=len(found), value=value)]
    for r in found:
        matched = ", ".join(_namespace_text(n) for n in r["matched"])
        lines.append(f"  #{r['record_id']} {entity_title(r['entity'])} {r['source']} {r['local_id']} "
                     f"({record_state(r['state'])}): {matched}")
        others = [f"{link['value']} ({link['namespace'][len('src:'):]})" for link in r["local_ids"]
                  if link["namespace"] != f"src:{r['source']}"]
        if others:
            lines.append("      " + t("records.find_other_ids", ids=", ".join(others)))
    lines.append(t("records.find_show_hint", record_id=found[0]["record_id"]))
    app.emit({"value": value, "records": found}, lines)


def _namespace_text(namespace: str) -> str:
    if namespace.startswith("src:"):
        return t("records.found_by_local_id", source=namespace[len("src:"):])
    return t(f"records.found_by_{namespace}")


@records_group.command("show")
@click.argument("record_id", type=int)
@click.option("--schema-version", "schema_version", type=click.IntRange(min=1),
              help="Schema version to show the record at (default: the entity's current one).")
@click.pass_obj
def records_show(app: AppContext, record_id: int, schema_version: int | None) -> None:
    """Show one record as stored and converted to a schema version, side by side."""
    app.database()
    configure(app.settings)
    document = read_record(record_id, schema_version)
    labels = _code_labels(document)
    references = reference_targets(document["entity"], document["source"], document["stored"]["data"])
    lines = _show_lines(document, labels)
    if references:
        lines.append(t("records.show_references"))
        lines += [f"  {field_text(field)}: {value} → #{target['record_id']} {target['name']}".rstrip()
                  for field, value, target in references]
    document = {**document, "created_at": time_iso(document["created_at"]),
                "updated_at": time_iso(document["updated_at"])}
    app.emit({**document, "labels": labels,
              "references": [{"field": f, "value": v, **target} for f, v, target in references]},
             lines)


def _code_labels(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return the names of the record's codes, per side (``stored``, ``requested``) and field."""
    mapping = _mapping_document(document["record_id"])
    labels = {}
    for side in ("stored", "requested"):
        ties = record_codelists(document["entity"], document[side]["schema_version"], mapping)
        labels[side] = code_labels(document[side]["data"], ties, get_language())
    return labels


def _mapping_document(record_id: int) -> dict[str, Any] | None:
    """Return the mapping version that last wrote the record, or ``None`` if the registry lacks it."""
    record = Record.get_or_none(Record.id == record_id)
    if record is None:
        return None
    version = MappingVersion.get_or_none(MappingVersion.id == record.mapping_version)
    return json.loads(version.content) if version else None


def _show_lines(document: dict[str, Any], labels: dict[str, dict[str, Any]]) -> list[str]:
    stored, requested = document["stored"], document["requested"]
    lines = [t("records.show_header", record_id=document["record_id"],
               entity=entity_title(document["entity"]), state=record_state(document["state"]),
               source=document["source"], local_id=document["local_id"]),
             t("records.show_times", created=time_text(document["created_at"]),
               updated=time_text(document["updated_at"]), first_seq=document["first_seq"],
               last_seq=document["last_seq"])]
    left = _with_names(_flatten(stored["data"]), labels["stored"])
    right = _with_names(_flatten(requested["data"]), labels["requested"])
    names = list(left) + [name for name in right if name not in left]
    if stored["schema_version"] == requested["schema_version"]:
        # Nothing to convert: one column, not two identical ones.
        pairs = [(t("records.show_field"), t("records.show_stored", version=stored["schema_version"]))]
        pairs += [(field_text(name), left[name]) for name in left]
        width = max(len(name) for name, _ in pairs)
        return lines + [f"  {name:<{width}}  {value}" for name, value in pairs] + _review_lines(stored)
    headers = (t("records.show_field"), t("records.show_stored", version=stored["schema_version"]),
               t("records.show_converted", version=requested["schema_version"]))
    table = [headers] + [(field_text(name), left.get(name, MISSING), right.get(name, MISSING))
                         for name in names]
    widths = [max(len(row[i]) for row in table) for i in range(2)]
    lines += [f"  {row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]}" for row in table]
    dropped = [name for name in left if name not in right]
    if dropped:
        lines.append(t("records.show_left_out", version=requested["schema_version"],
                       fields=", ".join(field_text(name) for name in dropped)))
    return lines + _review_lines(stored, requested)


def _review_lines(*sides: dict[str, Any]) -> list[str]:
    return [t("records.show_review", version=side["schema_version"], message=side["review"]["message"])
            for side in sides if side["review"]]


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Return the record's fields as dotted names (``address.commune_code``) and display text."""
    flat: dict[str, str] = {}
    for name, value in data.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{name}."))
        elif isinstance(value, str):
            flat[f"{prefix}{name}"] = value
        else:
            flat[f"{prefix}{name}"] = json.dumps(value, ensure_ascii=False)
    return flat


def _with_names(flat: dict[str, str], labels: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Put each code's name after it (``01 (Kinh)``), and mark codes that their list lacks."""
    named = dict(flat)
    for name, label in labels.items():
        if name in named and label["names"]:
            named[name] = ", ".join(_code_text(code, found, label) for code, found in label["names"].items())
    return named


def _code_text(code: str, name: str | None, label: dict[str, Any]) -> str:
    if name is None:
        key = "codelist.code_unknown" if label["available"] else "codelist.unavailable"
        return t(key, code=code, codelist=label["codelist"])
    return t("codelist.code_named", code=code, name=name) if name else code

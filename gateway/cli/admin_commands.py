"""Admin commands: mappings, code lists, quarantine, and the demo data generator."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

import click

from gateway.cli.context import AppContext
from gateway.cli.render import other_problem_lines, place_text
from gateway.codelists import CodeList, get_codelist, load_codelists
from gateway.errors import ConfigurationError
from gateway.i18n import get_language, t
from gateway.ingest.runs import get_run
from gateway.mapping import registry
from gateway.mapping.registry import import_shipped, list_versions
from gateway.reports import row_problems
from gateway.retention import compact_change_log, prune
from gateway.store.models import Quarantine


@click.group("mappings")
def mappings_group() -> None:
    """List, export and import mapping versions."""


@mappings_group.command("list")
@click.option("--adapter", help="Only this adapter's mappings.")
@click.pass_obj
def mappings_list(app: AppContext, adapter: str | None) -> None:
    """List mapping versions in the registry with their state and content hash."""
    app.database()
    rows: list[dict[str, Any]] = [
        {"adapter": v.adapter, "entity": v.entity, "version": v.number, "stream": v.stream,
         "schema_version": v.schema_version, "state": v.state, "id": v.id, "origin": v.origin}
        for v in list_versions(adapter)
    ]
    lines = [t("mappings.list_header", count=len(rows))]
    lines += [f"  {r['adapter']}/{r['entity']}/v{r['version']}  {r['state']:<10} "
              f"{r['entity']}@{r['schema_version']}  {r['id'][:12]}" for r in rows]
    app.emit(rows, lines)


@mappings_group.command("export")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder to write to.")
@click.pass_obj
def mappings_export(app: AppContext, out: Path) -> None:
    """Write every registry version as JSON, one file per version, for review."""
    app.database()
    written = []
    for version in list_versions():
        target = out / version.adapter / version.entity / f"v{version.number}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        document = {"id": version.id, "state": version.state, "mapping": json.loads(version.content)}
        target.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        written.append(str(target))
    app.emit({"written": written}, [t("mappings.exported", count=len(written), path=out)])


@mappings_group.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--state", type=click.Choice(["draft", "awaiting_approval", "active"]), default="draft",
              show_default=True, help="State of the new versions.")
@click.pass_obj
def mappings_import(app: AppContext, files: tuple[Path, ...], state: str) -> None:
    """Import mapping files (checked first, all or nothing) as new versions."""
    app.database()
    counts = import_shipped(list(files), state=state)
    app.emit(counts, [t("init.mappings", new=counts["new"], known=counts["known"])])


@mappings_group.command("set-state")
@click.argument("version_id")
@click.argument("state", type=click.Choice(["awaiting_approval", "active", "retired", "draft"]))
@click.pass_obj
def mappings_set_state(app: AppContext, version_id: str, state: str) -> None:
    """Move a mapping version to another state (draft, awaiting_approval, active, retired)."""
    app.database()
    version = registry.set_state(version_id, state)
    app.emit({"id": version.id, "state": version.state},
             [t("mappings.state_set", id=version.id[:12], state=version.state)])


@mappings_group.command("pin")
@click.argument("source")
@click.argument("version_id")
@click.pass_obj
def mappings_pin(app: AppContext, source: str, version_id: str) -> None:
    """Make SOURCE use an active mapping version for its entity from the next run on."""
    app.database()
    version = registry.pin(source, version_id)
    app.emit({"source": source, "entity": version.entity, "id": version.id},
             [t("mappings.pinned", source=source, entity=version.entity, id=version.id[:12])])


@mappings_group.command("unpin")
@click.argument("source")
@click.argument("entity")
@click.pass_obj
def mappings_unpin(app: AppContext, source: str, entity: str) -> None:
    """Let SOURCE use the newest active version for ENTITY again."""
    app.database()
    removed = registry.unpin(source, entity)
    app.emit({"removed": removed}, [t("mappings.unpinned", source=source, entity=entity)])


@click.group("codelists")
def codelists_group() -> None:
    """Show the code lists the mappings look values up in."""


@codelists_group.command("list")
@click.pass_obj
def codelists_list(app: AppContext) -> None:
    """List code lists with their versions, codes and provenance."""
    _ = app.settings
    codelists = list(load_codelists().values())
    lists = [c.describe() for c in codelists]
    lines = [t("codelists.list_header", count=len(lists))]
    for codelist, described in zip(codelists, lists, strict=True):
        codes = list(described["codes"])
        shown = ", ".join(_named_code(codelist, code) for code in codes[:CODES_SHOWN])
        if len(codes) > CODES_SHOWN:
            shown += " " + t("codelists.more", count=len(codes) - CODES_SHOWN)
        heading = " ".join(part for part in (codelist.label, codelist.title_in(get_language())) if part)
        lines.append(f"  {heading} ({len(codes)}): {shown}")
        lines.append(f"      {codelist.provenance_in(get_language())}")
    app.emit(lists, lines)


@codelists_group.command("show")
@click.argument("name")
@click.option("--version", type=click.IntRange(min=1), help="Version of the list (default: the newest).")
@click.pass_obj
def codelists_show(app: AppContext, name: str, version: int | None) -> None:
    """Show every code of one code list with its name, and the list's provenance."""
    _ = app.settings
    codelist = get_codelist(name, version)
    described = codelist.describe()
    heading = " ".join(part for part in (codelist.label, codelist.title_in(get_language())) if part)
    lines = [f"{heading} ({len(described['codes'])})"]
    lines += [f"  {_named_code(codelist, code)}" for code in described["codes"]]
    lines.append(f"  {codelist.provenance_in(get_language())}")
    app.emit(described, lines)


def _named_code(codelist: CodeList, code: str) -> str:
    """Return ``code`` with its name in the current language (``01 (Kinh)``), or alone if nameless."""
    name = codelist.name_of(code, get_language())
    return t("codelist.code_named", code=code, name=name) if name else code


# Codes shown per list in the text output; --json gives them all.
CODES_SHOWN = 12


@click.group("quarantine")
def quarantine_group() -> None:
    """Read and prune rejected rows (admins only: rows may hold personal data)."""


@quarantine_group.command("list")
@click.option("--run", "run_id", type=int, help="Only rows of this run.")
@click.option("--limit", type=int, default=50, show_default=True, help="Maximum number of rows listed.")
@click.pass_obj
def quarantine_list(app: AppContext, run_id: int | None, limit: int) -> None:
    """List rejected rows with place and reason (and, with --json, their kept cells)."""
    app.database()
    query = Quarantine.select().order_by(Quarantine.id.desc())
    if run_id is not None:
        # An unknown run is an error (as in `runs show`), not a run without rejections.
        get_run(run_id)
        query = query.where(Quarantine.run == run_id)
    total = query.count()
    query = query.limit(limit)
    rows = []
    lines = []
    for q in query:
        params, problems = row_problems(q.reason, q.column, q.field, json.loads(q.params or "{}"))
        place = {"file": q.file, "sheet": q.sheet, "row": q.row, "column": q.column, "field": q.field}
        described = [{**problem, "message": t(problem["reason"], **problem.get("params", {}))}
                     for problem in problems]
        rows.append({"id": q.id, "run_id": q.run_id, "source": q.source, "reason": q.reason,
                     "message": t(q.reason, **params), "place": place, "problems": described,
                     "raw": json.loads(q.cells) if q.cells else None})
        lines.append(f"  #{q.id} {place_text(place)}: {t(q.reason, **params)}")
        lines.extend("      " + line for line in other_problem_lines(problems))
    app.emit(rows, [t("quarantine.list_header_of", shown=len(rows), total=total), *lines])


@quarantine_group.command("prune")
@click.pass_obj
def quarantine_prune(app: AppContext) -> None:
    """Delete quarantine and staging rows older than the retention settings."""
    app.database()
    counts = prune(app.settings)
    message = t("quarantine.pruned", quarantine=counts["quarantine"], staged=counts["staged"])
    app.emit(counts, [message])


@click.command("prune")
@click.pass_obj
def prune_command(app: AppContext) -> None:
    """Apply the retention settings: delete old rejected and staged rows, compact the change log."""
    db = app.database()
    counts = prune(app.settings)
    counts["change_events"] = compact_change_log(db, app.settings)
    app.emit(counts, [t("retention.pruned", quarantine=counts["quarantine"], staged=counts["staged"],
                        events=counts["change_events"])])


@click.command("demo-data")
@click.option("--out", type=click.Path(path_type=Path), default=Path("var/demo"), show_default=True,
              help="Folder to write the demo city into.")
@click.option("--size", type=click.Choice(["tiny", "small", "medium", "full"]), default="small",
              show_default=True, help="How big a city.")
@click.option("--seed", type=int, default=2025, show_default=True, help="Random seed.")
@click.option("--shapes", default="oneroster", show_default=True,
              help="Comma-separated shapes to write, each under OUT/<shape>: oneroster, xlsx, csv1258.")
@click.pass_obj
def demo_data_command(app: AppContext, out: Path, size: str, seed: int, shapes: str) -> None:
    """Write a synthetic city (fictional people) in each shape under OUT/<shape>.

    ``oneroster`` is a OneRoster 1.2 package, ``xlsx`` one vnEdu-style workbook per school,
    ``csv1258`` one Windows-1258 CSV pupil list per school. All shapes hold the same people.
    """
    from gateway.demo import oneroster, vendor

    _ = app.settings
    writers = {"oneroster": oneroster.write_oneroster, "xlsx": vendor.write_vendor_xlsx,
               "csv1258": vendor.write_vendor_csv1258}
    chosen = _demo_shapes(shapes, tuple(writers))
    documents: dict[str, Any] = {}
    lines: list[str] = []
    for shape in chosen:
        with app.progress("progress.demo") as bar:
            summary = writers[shape](
                out / shape, size=size, seed=seed, progress=partial(_advance, bar)
            )
        documents[shape] = summary.as_dict()
        lines.append(t("demo.written", path=summary.package, size=size))
        if shape == "oneroster":
            lines += [f"  {name}: {count}" for name, count in summary.files.items()]
        else:
            lines.append("  " + t("demo.export_counts", files=len(summary.files),
                                  schools=len(summary.schools), students=summary.students))
        lines.append(t("demo.faults", detail=summary.fault_detail()))
    app.emit(documents, lines)


def _demo_shapes(text: str, known: tuple[str, ...]) -> list[str]:
    """Return the shapes named in ``text`` (comma-separated) in the order given, each once."""
    shapes = list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [shape for shape in shapes if shape not in known]
    if unknown or not shapes:
        raise ConfigurationError("demo.shape_unknown", shapes=text, known=", ".join(known))
    return shapes


def _advance(bar: object, done: int, total: int) -> None:
    bar.total = total  # type: ignore[attr-defined]
    bar.n = done  # type: ignore[attr-defined]
    bar.refresh()  # type: ignore[attr-defined]

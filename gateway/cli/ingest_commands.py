"""Commands that run and manage ingest runs: ingest, runs list/show/approve/reject/resume."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Any

import click

from adapters.registry import adapter_keys, get_adapter
from gateway.cli.context import AppContext
from gateway.cli.render import rejection_lines, run_lines, time_iso, time_text
from gateway.errors import InputError
from gateway.i18n import t
from gateway.ingest import service
from gateway.ingest.changes import summarize_updates
from gateway.ingest.runs import get_run
from gateway.reports import rejections_by_reason
from gateway.store.models import Run

EXIT_HELD = 3
# The run finished, but a file or table of the input could not be read: its
# records were neither changed nor ended, and a person should look.
EXIT_FILE_ERRORS = 4


def _emit_report(app: AppContext, report: service.RunReport) -> None:
    _show_report(app, report)
    if report.state == "held":
        raise click.exceptions.Exit(EXIT_HELD)
    if report.file_errors:
        raise click.exceptions.Exit(EXIT_FILE_ERRORS)


def _show_report(app: AppContext, report: service.RunReport) -> None:
    document = report.as_dict()
    document["rejected_by_reason"] = rejections_by_reason(report.run_id, examples=3)
    # The human lines read the rejections again, so they are built only when shown.
    app.emit(document, [] if app.json_output else run_lines(document))


@click.command("ingest")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--adapter", "adapter_key", required=True, type=click.Choice(adapter_keys()),
              help="The product format of PATH.")
@click.option("--source", help="Source name; default: the adapter key and PATH's name.")
@click.option("--school", help="The school code of rows that give none (a school's own list).")
@click.option("--school-name", help="The school name of rows that give none; with --school.")
@click.pass_obj
def ingest_command(app: AppContext, path: Path, adapter_key: str, source: str | None,
                   school: str | None, school_name: str | None) -> None:
    """Read PATH, map, validate and store its records; print what changed and what was rejected.

    Exits with 3 when the mass-change guard holds the run for approval.
    """
    given = _given_columns(adapter_key, school, school_name)
    db = app.database()
    if source is None:
        source = f"{adapter_key}:{path.resolve().name.removesuffix('.zip')}"
        # Next week's export usually has another file or folder name, so it would become
        # another source, and its bulk snapshot would end nothing of this one.
        click.echo(t("cli.source_from_file_name", source=source), err=True)
    with app.progress("progress.ingest") as bar:
        report = service.ingest(db, app.settings, path, adapter_key, source, progress=bar,
                                given=given)
    _emit_report(app, report)


def _given_columns(adapter_key: str, school: str | None, school_name: str | None) -> dict[str, str]:
    """Return the columns that ``--school`` and ``--school-name`` give rows of ``adapter_key``."""
    if school_name and not school:
        raise InputError("cli.school_name_without_code")
    if not school:
        return {}
    columns = get_adapter(adapter_key).school_columns
    if columns is None:
        raise InputError("cli.school_not_supported", adapter=adapter_key)
    code_column, name_column = columns
    given = {code_column: school.strip()}
    if school_name:
        given[name_column] = school_name.strip()
    return given


@click.group("runs")
def runs_group() -> None:
    """List, show, approve, reject and resume runs."""


@runs_group.command("list")
@click.option("--source", help="Only runs of this source.")
@click.option("--limit", type=int, default=20, show_default=True, help="Maximum number of runs listed.")
@click.pass_obj
def runs_list(app: AppContext, source: str | None, limit: int) -> None:
    """List the newest runs."""
    app.database()
    query = Run.select().order_by(Run.id.desc()).limit(limit)
    if source:
        query = query.where(Run.source == source)
    runs = list(query)
    file_errors = [service.run_report(r).file_errors for r in runs]
    rows: list[dict[str, Any]] = [
        {"run_id": r.id, "job": r.job, "source": r.source, "state": r.state,
         "file_errors": errors, "started_at": time_iso(r.started_at),
         "finished_at": time_iso(r.finished_at), "approved_by": r.approved_by}
        for r, errors in zip(runs, file_errors, strict=True)
    ]
    states = [_list_state(r.state, errors) for r, errors in zip(runs, file_errors, strict=True)]
    lines = [t("runs.list_header", count=len(rows))]
    source_width = max((len(r.source) for r in runs), default=0)
    state_width = max((len(state) for state in states), default=0)
    lines += [f"  {r.id:>5}  {state:<{state_width}}  {r.source:<{source_width}}  "
              f"{time_text(r.started_at)}" for r, state in zip(runs, states, strict=True)]
    app.emit(rows, lines)


def _list_state(state: str, file_errors: int) -> str:
    """Return a run's state for ``runs list``, with its count of unread files or tables."""
    text = t(f"run.state.{state}")
    if file_errors:
        # Such a run exited with EXIT_FILE_ERRORS: "succeeded" alone would hide that.
        return t("runs.state_file_errors", state=text, count=file_errors)
    return text


@runs_group.command("show")
@click.argument("run_id", type=int)
@click.pass_obj
def runs_show(app: AppContext, run_id: int) -> None:
    """Show one run: counts, guard, notices and rejections by reason."""
    db = app.database()
    report = service.report_of(run_id)
    document = report.as_dict()
    if report.state == "held" and "updates" not in document["counts"]:
        # Held by an older release, which kept no summary: its staged rows are still there.
        document["counts"]["updates"] = summarize_updates(db, get_run(run_id))
    document["rejected_by_reason"] = rejections_by_reason(run_id, examples=3)
    app.emit(document, run_lines(document))


@runs_group.command("approve")
@click.argument("run_id", type=int)
@click.option("--by", "approver", help="Who approves; default: the operating-system user.")
@click.pass_obj
def runs_approve(app: AppContext, run_id: int, approver: str | None) -> None:
    """Apply a run held by the mass-change guard, without re-reading its input."""
    db = app.database()
    with app.progress("progress.apply") as bar:
        report = service.approve(db, app.settings, run_id, approver or getpass.getuser(), progress=bar)
    _emit_report(app, report)


@runs_group.command("reject")
@click.argument("run_id", type=int)
@click.option("--by", "rejecter", help="Who rejects; default: the operating-system user.")
@click.pass_obj
def runs_reject(app: AppContext, run_id: int, rejecter: str | None) -> None:
    """Discard a run held by the mass-change guard: the store keeps every record as it was."""
    db = app.database()
    report = service.reject(db, app.settings, run_id, rejecter or getpass.getuser())
    # Exit code 0 even when the run had file errors: nothing of it was applied.
    _show_report(app, report)


@runs_group.command("resume")
@click.argument("run_id", type=int)
@click.pass_obj
def runs_resume(app: AppContext, run_id: int) -> None:
    """Finish applying a run whose process stopped while applying."""
    db = app.database()
    with app.progress("progress.apply") as bar:
        report = service.resume(db, app.settings, run_id, progress=bar)
    _emit_report(app, report)


@runs_group.command("rejections")
@click.argument("run_id", type=int)
@click.pass_obj
def runs_rejections(app: AppContext, run_id: int) -> None:
    """List a run's rejected rows grouped by reason, with their places."""
    app.database()
    # An unknown run is an error (as in `runs show`), not a run without rejections.
    get_run(run_id)
    groups = rejections_by_reason(run_id, examples=20)
    app.emit(groups, rejection_lines(run_id))

"""Human text for run reports and store summaries, from the translation catalogue."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from gateway.entities import load_entities
from gateway.i18n import COUNTED_MESSAGES, get_language, lookup, t
from gateway.reports import records_summary, rejected_rows, rejections_by_reason

DECISION_ORDER = ("insert", "update", "end", "unchanged", "alias", "outranked", "repeat", "seen",
                  "conflict", "rows_rejected")


_display_zone: tzinfo = UTC


def set_display_zone(name: str) -> None:
    """Show times for people in the IANA time zone ``name`` (setting ``locale.timezone``)."""
    global _display_zone
    _display_zone = ZoneInfo(name)


def time_text(value: datetime | str | None) -> str:
    """Return a stored time for people, to the second, in the display zone: ``2026-12-05 08:06:17+07:00``."""
    if value is None:
        return "-"
    return _as_datetime(value).astimezone(_display_zone).isoformat(sep=" ", timespec="seconds")


def time_iso(value: datetime | str | None) -> str | None:
    """Return a stored time for ``--json``: ISO 8601 with microseconds and UTC offset."""
    if value is None:
        return None
    return _as_datetime(value).isoformat()


def _as_datetime(value: datetime | str) -> datetime:
    # SQLite gives back the stored text ("2026-12-05 01:06:17.256802+00:00"),
    # PostgreSQL a datetime.
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if moment.tzinfo is None:
        # NOTE: PostgreSQL returns the store's `timestamp` columns without an offset,
        # in the session's time zone. They are read as UTC, the zone the store
        # writes, which is correct while the server's TimeZone setting is UTC.
        moment = moment.replace(tzinfo=UTC)
    return moment


def place_text(place: dict[str, Any]) -> str:
    parts = [str(place[k]) for k in ("file", "sheet") if place.get(k)]
    if place.get("row"):
        parts.append(t("place.row", row=place["row"]))
    if place.get("column"):
        parts.append(t("place.column", column=place["column"]))
    if place.get("field"):
        parts.append(t("place.field", field=place["field"]))
    return ", ".join(parts)


def run_lines(report: dict[str, Any]) -> list[str]:
    state = t(f"run.state.{report['state']}")
    unread = sum(1 for notice in report.get("notices", []) if notice.get("level") == "error")
    if report["state"] == "succeeded" and unread:
        # "Finished" alone reads as success when part of the input was not read.
        state = t("run.state.succeeded_with_unread", count=unread)
    lines = [t("run.header", run_id=report["run_id"], source=report["source"], state=state)]
    if report["state"] == "rejected":
        # The figures below describe what the run would have done, which reads as future.
        lines.append(t("run.rejected_nothing_changed"))
    stage = report["counts"].get("stage", {})
    read = nonzero(stage.get("rows_read", {}))
    if read:
        # A table adapter's stream is named "table", so its name is translated.
        detail = ", ".join(f"{stream_title(k)} {v}" for k, v in read.items())
        lines.append(t("run.rows_read", count=sum(read.values()), detail=detail))
    unmapped = nonzero(stage.get("unmapped", {}))
    if unmapped:
        lines.append(t("run.rows_unmapped", count=sum(unmapped.values())))
    decisions = report["counts"].get("decisions", {})
    if report["state"] == "succeeded":
        lines.append(t("run.changes", count=report.get("changes", 0)))
    lines.extend(_decision_lines(decisions, stage.get("rejected_by_entity", {})))
    lines.extend(_skipped_lines(nonzero(stage.get("skipped", {}))))
    rejected = sum(stage.get("rejected", {}).values())
    lines.extend(rejection_lines(report["run_id"], rejected))
    lines.extend(_notice_lines(report.get("notices", [])))
    if report.get("error"):
        error = report["error"]
        lines.append(t("run.error", message=t(error["error"], **error.get("params", {}))))
    if report.get("guard") and report["state"] in ("held", "superseded") or report.get("approved_by"):
        lines.extend(update_lines(report["counts"].get("updates", {})))
        lines.extend(guard_lines(report.get("guard") or {}))
    if report.get("approved_by"):
        lines.append(t(_decided_by_key(report), approver=report["approved_by"]))
    if report["state"] == "held":
        lines.append(t("run.held_hint", run_id=report["run_id"]))
    return lines


def _decided_by_key(report: dict[str, Any]) -> str:
    """Return the message that names the person in ``approved_by``.

    The same column records who ended records with `gateway records end` and who
    rejected a held run.
    """
    if report.get("job") == "end":
        return "run.ended_by"
    if report["state"] == "rejected":
        return "run.rejected_by"
    return "run.approved_by"


def guard_lines(guard: dict[str, Any]) -> list[str]:
    """Say in words how much existing data the run would change: per entity, and per school over the limit."""
    lines = []
    limit = round(100 * guard.get("max_change_ratio", 0))
    for entity, figures in sorted(guard.get("entities", {}).items()):
        if not figures.get("existing"):
            continue
        schools = figures.get("schools") or []
        all_ended = figures.get("schools_all_ended") or []
        above = figures["ratio"] > guard.get("max_change_ratio", 1)
        held = figures.get("trips") or (schools and above) or all_ended
        key = "run.guard_trips" if held else "run.guard_within"
        if key == "run.guard_within" and figures["existing"] < guard.get("min_existing", 0) and above:
            # Above the share, but too few records in scope for the guard to apply.
            key = "run.guard_too_few"
        lines.append("  " + t(key, entity=entity_title(entity), changed=figures["changed"],
                              count=figures["existing"], percent=round(100 * figures["ratio"]),
                              limit=limit, minimum=guard.get("min_existing", 0)))
        lines.extend(_school_guard_lines(schools, limit))
        lines.extend(_all_ended_lines(all_ended))
    return [t("run.guard_header"), *lines] if lines else []


GUARD_SCHOOLS_SHOWN = 20
"""Schools over the limit listed per entity in a report; ``--json`` gives them all."""


def _school_guard_lines(schools: list[dict[str, Any]], limit: int) -> list[str]:
    lines = ["    " + t("run.guard_school_trips", school=figures["school"], changed=figures["changed"],
                          count=figures["existing"], percent=round(100 * figures["ratio"]), limit=limit)
             for figures in schools[:GUARD_SCHOOLS_SHOWN]]
    if len(schools) > GUARD_SCHOOLS_SHOWN:
        lines.append("    " + t("run.guard_schools_more", count=len(schools) - GUARD_SCHOOLS_SHOWN))
    return lines


def _all_ended_lines(schools: list[dict[str, Any]]) -> list[str]:
    """Return a line per school whose every record of the entity the run would end."""
    lines = ["    " + t("run.guard_school_all_ended", school=figures["school"],
                          count=figures["existing"], inserted=figures["inserted"])
             for figures in schools[:GUARD_SCHOOLS_SHOWN]]
    if len(schools) > GUARD_SCHOOLS_SHOWN:
        lines.append("    " + t("run.guard_schools_all_ended_more",
                                count=len(schools) - GUARD_SCHOOLS_SHOWN))
    return lines


def update_lines(updates: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Say per entity which fields the run's updates change, with counts and example records.

    ``updates`` is a run's ``counts["updates"]``: field names, counts and ids, never values.
    """
    lines = []
    for entity, summary in sorted(updates.items()):
        fields = ", ".join(f"{name}: {count}" for name, count in summary["fields"].items())
        lines.append("  " + t("run.updates_entity", entity=entity_title(entity),
                              count=summary["updates"], fields=fields or "-"))
        for key in ("restored", "other_source"):
            if summary.get(key):
                lines.append("    " + t(f"run.updates_{key}", count=summary[key]))
        for change in summary.get("mapping_changes", ()):
            lines.append("    " + t("run.updates_mapping_changed", count=change["count"],
                                    old=change["from"], new=change["to"]))
        if summary["examples"]:
            lines.append("    " + t("run.updates_examples"))
        for example in summary["examples"]:
            lines.append("      " + t("run.updates_example", record_id=example["record_id"],
                                      local_id=example["local_id"],
                                      fields=", ".join(example["fields"]) or "-"))
    return [t("run.updates_header"), *lines] if lines else []


def entity_title(name: str) -> str:
    """Return the display name of entity ``name`` in the current language ("Học sinh"), or the name."""
    entity = load_entities().get(name)
    return entity.title.get(get_language(), name) if entity is not None else name


def nonzero(counts: Mapping[str, int]) -> dict[str, int]:
    """Return ``counts`` without its zero counts: a report lists only what happened."""
    return {key: count for key, count in counts.items() if count}


def _decision_lines(decisions: Mapping[str, Mapping[str, int]],
                    rejected: Mapping[str, int]) -> list[str]:
    """Return a line per entity with its decisions, or with its rejected rows when it has none.

    ``rejected`` counts rejected rows per entity. An entity whose every row was rejected
    before its local id was read has no decision, and is still listed.
    """
    lines = []
    for entity, counts in sorted(decisions.items()):
        shown = [f"{t('decision.' + d)} {counts[d]}" for d in DECISION_ORDER if counts.get(d)]
        if shown:
            lines.append(f"  {entity_title(entity)}: " + ", ".join(shown))
        elif rejected.get(entity):
            lines.append(f"  {entity_title(entity)}: "
                         + t("run.decisions_all_rejected", count=rejected[entity]))
    return [t("run.decisions_header"), *lines] if lines else []


def _skipped_lines(skipped: dict[str, int]) -> list[str]:
    if not skipped:
        return []
    lines = [t("run.skipped_header", count=sum(skipped.values()))]
    for label, count in sorted(skipped.items()):
        # A label is "stream" or "stream: value of the row filter" ("users: parent").
        stream, separator, value = label.partition(": ")
        lines.append(f"  {count} × {stream_title(stream) + separator + value if label else '-'}")
    return lines


def stream_title(name: str) -> str:
    """Return a stream's name for people: a table adapter's "table" is translated, a file's name kept."""
    return lookup(f"stream_name.{name}") or name


def rejection_lines(run_id: int, counted: int = 0) -> list[str]:
    """Return the lines of a run's rejections; ``counted`` is how many its counts record."""
    groups = rejections_by_reason(run_id)
    if not groups:
        # The rows are gone when the retention settings pruned them, and the counts remain.
        return [t("run.rejections_pruned", count=counted) if counted else t("run.no_rejections")]
    count, rows = sum(g["count"] for g in groups), rejected_rows(run_id)
    if rows == count:
        lines = [t("run.rejected_header", count=count)]
    else:
        # A pupil row of a list export gives a student and an enrollment, rejected together.
        lines = [t("run.rejected_header_rows", count=count, rows=rows)]
    for group in groups:
        example = group["examples"][0]
        message = t(group["reason"], **example["params"])
        label = _group_label(group, example["params"])
        entity = f"{label}: " if label else ""
        lines.append(f"  {group['count']} × {entity}{message}")
        lines.append("      " + t("run.first_at", place=place_text(example)))
        lines.extend("      " + line for line in other_problem_lines(example["problems"]))
    return lines


def _group_label(group: Mapping[str, Any], params: Mapping[str, Any]) -> str:
    """Return the entity title of a rejection group, or those of an unreadable row's stream."""
    if group.get("entity"):
        return entity_title(group["entity"])
    # A slash, because a title may contain commas ("Cán bộ, giáo viên, nhân viên").
    return " / ".join(entity_title(name) for name in params.get("row_entities") or ())


def other_problem_lines(problems: list[dict[str, Any]]) -> list[str]:
    """Return a line for each problem of a rejected row after its first (``reports.row_problems``)."""
    return [t("run.other_problem", place=place_text(problem),
              message=t(problem["reason"], **problem.get("params", {})))
            for problem in problems[1:]]


# How many further file names a notice repeated for several files lists.
MORE_FILES_NAMED = 5


def _notice_lines(notices: list[dict[str, Any]]) -> list[str]:
    lines = []
    for notice, others in _by_file(notices):
        params = notice.get("params", {})
        message = notice_message(notice["error"], params)
        if message is None:
            continue
        level = t(f"notice.{notice['level']}")
        place = notice.get("place", {})
        where = place_text(place)
        if not place.get("row") and not place.get("column") and place.get("file") \
                and any(place["file"] in str(value) for value in params.values()):
            where = ""  # the message already names the file (and sheet) it is about
        line = f"  [{level}] {message}" + (f" ({where})" if where else "")
        if others:
            named = ", ".join(others[:MORE_FILES_NAMED]) + (", …" if len(others) > MORE_FILES_NAMED else "")
            line += " " + t("run.notice_more_files", count=len(others), files=named)
        lines.append(line)
    return [t("run.notices_header", count=len(lines)), *lines] if lines else []


def _by_file(notices: list[dict[str, Any]]) -> list[tuple[dict[str, Any], list[str]]]:
    """Return each notice with the files of the later notices that repeat it for another file.

    A folder of 40 school lists in Windows-1258 would otherwise print the same warning 40
    times. Notices are the same when only their ``file`` parameter and place differ.
    """
    groups: dict[str, tuple[dict[str, Any], list[str]]] = {}
    order: list[tuple[dict[str, Any], list[str]]] = []
    for notice in notices:
        params = notice.get("params", {})
        if "file" not in params:
            order.append((notice, []))
            continue
        rest = {name: value for name, value in params.items() if name != "file"}
        key = json.dumps([notice["error"], notice.get("level"), rest], sort_keys=True,
                         ensure_ascii=False, default=str)
        if key in groups:
            groups[key][1].append(str(params["file"]))
            continue
        groups[key] = (notice, [])
        order.append(groups[key])
    return order


def notice_message(key: str, params: Mapping[str, Any]) -> str | None:
    """Return a notice's text, or ``None`` for a notice of counts that are all zero."""
    counted = COUNTED_MESSAGES.get(key)
    if counted is not None and not any(params.get(name) for name in counted):
        return None
    return t(key, **params)


def summary_lines(source: str | None) -> tuple[dict[str, Any], list[str]]:
    summary = records_summary(source)
    lines = [t("summary.header", source=source) if source else t("summary.header_all")]
    for entity, count in summary["entities"].items():
        lines.append(f"  {entity_title(entity)}: {count}")
    if source and summary["source_known"] is False:
        known = ", ".join(summary["sources"])
        lines.append(t("summary.unknown_source", source=source, known=known or "-"))
    elif not summary["entities"]:
        lines.append(t("summary.empty_source", source=source) if source else t("summary.empty"))
    if summary["ended"]:
        lines.append(t("summary.ended", count=summary["ended"]))
    if summary["schools"]:
        lines.append(t("summary.schools_header", count=len(summary["schools"])))
        for school in summary["schools"]:
            # A semicolon, because a title may contain commas ("Cán bộ, giáo viên, nhân viên").
            detail = "; ".join(f"{entity_title(k)} {v}" for k, v in school["records"].items())
            lines.append(f"  {school['name'] or school['school']} [{school['school']}]: {detail}")
    return summary, lines

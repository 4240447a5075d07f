"""The CLI's text report of a run."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from gateway.cli.render import (
    guard_lines,
    rejection_lines,
    run_lines,
    set_display_zone,
    time_iso,
    time_text,
    update_lines,
)
from gateway.i18n import COUNTED_MESSAGES, catalogue, set_language, translate
from gateway.ingest import runs
from gateway.store.models import Quarantine
from tests.support.store import StoreHandle


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    set_language("en")
    yield
    set_language(None)


GUARD = {"max_change_ratio": 0.25, "min_existing": 50, "entities": {
    "class": {"existing": 20, "changed": 17, "ratio": 0.85, "trips": False},
    "student": {"existing": 400, "changed": 10, "ratio": 0.025, "trips": False},
    "enrollment": {"existing": 400, "changed": 200, "ratio": 0.5, "trips": True},
}}


def test_guard_lines_small_scope() -> None:
    lines = guard_lines(GUARD)
    assert lines[1] == ("  Class: 17 of 20 existing records would be updated or ended (85%), above "
                        "the 25% limit, but not held because the scope has fewer than 50 records")
    assert lines[2].endswith("(50%), above the 25% limit")
    assert lines[3].endswith("(2%), within the 25% limit")


def test_guard_lines_one_existing_record() -> None:
    guard = {"max_change_ratio": 0.25, "min_existing": 1, "entities": {
        "school": {"existing": 1, "changed": 1, "ratio": 1.0, "trips": True}}}
    assert guard_lines(guard)[1] == ("  school: 1 of 1 existing record would be updated or ended "
                                     "(100%), above the 25% limit")


def test_update_lines_name_mapping_change() -> None:
    updates = {"student": {"updates": 6, "fields": {"grade": 6}, "restored": 0, "other_source": 0,
                           "mapping_changes": [{"from": "oneroster/student/v1",
                                                "to": "oneroster/student/v2", "count": 6}],
                           "examples": []}}
    lines = update_lines(updates)
    assert lines[1] == "  Student: 6 records updated; fields: grade: 6"
    assert lines[2] == ("    6 records were written by mapping oneroster/student/v1 and are now read "
                        "by oneroster/student/v2, so the new version may cause these updates. Compare "
                        "the two versions (gateway mappings export) before you approve.")


def school_figures(code: str) -> dict[str, object]:
    return {"school": code, "existing": 32, "changed": 24, "ratio": 0.75}


def test_guard_lines_name_schools_over_limit() -> None:
    guard = {"max_change_ratio": 0.25, "min_existing": 50, "min_existing_per_school": 10, "entities": {
        "student": {"existing": 128, "changed": 24, "ratio": 0.1875, "trips": False,
                    "schools": [school_figures("099001")]}}}
    lines = guard_lines(guard)
    assert lines[1].endswith("(19%), within the 25% limit")
    assert lines[2] == ("    school 099001: 24 of 32 existing records would be updated or ended "
                        "(75%), above the 25% limit")


def test_guard_lines_small_scope_held_by_school() -> None:
    guard = {"max_change_ratio": 0.25, "min_existing": 50, "entities": {
        "student": {"existing": 32, "changed": 24, "ratio": 0.75, "trips": False,
                    "schools": [school_figures("099001")]}}}
    assert guard_lines(guard)[1].endswith("(75%), above the 25% limit")


def test_guard_lines_cap_school_list() -> None:
    schools = [school_figures(f"0990{number:02d}") for number in range(25)]
    guard = {"max_change_ratio": 0.25, "min_existing": 50, "entities": {
        "student": {"existing": 800, "changed": 600, "ratio": 0.75, "trips": True, "schools": schools}}}
    lines = guard_lines(guard)
    assert len(lines) == 2 + 20 + 1
    assert lines[-1] == "    and 5 more schools above the limit (gateway --json runs show lists them all)"


TIME_CASES = [
    pytest.param("2026-12-05 01:06:17.256802+00:00", "2026-12-05 01:06:17+00:00",
                 "2026-12-05T01:06:17.256802+00:00", id="sqlite-text"),
    pytest.param(datetime(2026, 12, 5, 1, 6, 17, 256802, tzinfo=UTC), "2026-12-05 01:06:17+00:00",
                 "2026-12-05T01:06:17.256802+00:00", id="aware"),
    pytest.param(datetime(2026, 12, 5, 1, 6, 17, 256802), "2026-12-05 01:06:17+00:00",
                 "2026-12-05T01:06:17.256802+00:00", id="postgresql-naive"),
    pytest.param(datetime(2026, 12, 5, 8, 6, 17, tzinfo=timezone(timedelta(hours=7))),
                 "2026-12-05 01:06:17+00:00", "2026-12-05T08:06:17+07:00", id="other-offset"),
    pytest.param(None, "-", None, id="none"),
]


@pytest.fixture
def utc_display() -> Iterator[None]:
    set_display_zone("UTC")
    yield
    set_display_zone("UTC")


@pytest.mark.parametrize(("stored", "human", "machine"), TIME_CASES)
def test_time_formats(utc_display: None, stored: datetime | str | None, human: str,
                      machine: str | None) -> None:
    assert time_text(stored) == human
    assert time_iso(stored) == machine


def test_time_shown_in_display_zone(utc_display: None) -> None:
    set_display_zone("Asia/Ho_Chi_Minh")
    assert time_text("2026-12-05 20:06:17.256802+00:00") == "2026-12-06 03:06:17+07:00"
    assert time_iso("2026-12-05 20:06:17.256802+00:00") == "2026-12-05T20:06:17.256802+00:00"


def test_run_header_unread_files(store: StoreHandle) -> None:
    report = {"run_id": 7, "source": "lists", "state": "succeeded", "counts": {}, "changes": 0,
              "notices": [{"level": "error", "error": "table.no_data", "params": {"file": "a.csv"},
                           "place": {"file": "a.csv"}},
                          {"level": "warning", "error": "ingest.absent_not_ended",
                           "params": {"unread": 1}, "place": {}}]}
    assert run_lines(report)[0] == ("Run 7, source lists: finished, but with 1 error in reading a "
                                    "file or table or in applying a mapping to it (see the error "
                                    "notices below)")
    report["notices"].append(report["notices"][0])
    assert run_lines(report)[0].startswith("Run 7, source lists: finished, but with 2 errors in reading")


def test_pruned_rejections_explained(store: StoreHandle) -> None:
    report = {"run_id": 9, "source": "lists", "state": "succeeded", "changes": 0, "notices": [],
              "counts": {"stage": {"rejected": {"mapping.date_invalid": 2}}}}

    lines = run_lines(report)

    assert "This run had 2 rejections, but the rejected rows were deleted" in "\n".join(lines)
    assert "No rows were rejected." not in lines


def test_notice_file_named_once(store: StoreHandle) -> None:
    report = {"run_id": 8, "source": "lists", "state": "succeeded", "counts": {}, "changes": 0,
              "notices": [{"level": "warning", "error": "table.rows_skipped",
                           "params": {"table": "a.xlsx [Lớp 6]", "footers": 2, "headers": 1,
                                      "numbers": 0},
                           "place": {"file": "a.xlsx", "sheet": "Lớp 6"}},
                          {"level": "error", "error": "csv.malformed",
                           "params": {"line": 4}, "place": {"file": "b.csv", "row": 4}}]}
    lines = run_lines(report)
    assert lines[-2].count("a.xlsx") == 1
    assert lines[-1].endswith("(b.csv, row 4)")


def test_notice_repeated_per_file_printed_once(store: StoreHandle) -> None:
    notices = [{"level": "warning", "error": "table.encoding_fallback",
                "params": {"file": name, "encoding": "cp1258"}, "place": {"file": name}}
               for name in ("a.csv", "b.csv", "c.csv")]
    lines = run_lines(report_with({}, notices))
    printed = [line for line in lines if "Windows-1258" in line]
    assert len(printed) == 1
    assert printed[0].count("a.csv") == 1
    assert printed[0].endswith("(the same for 2 more files: b.csv, c.csv)")


def skipped_notice(footers: int, headers: int, numbers: int) -> dict[str, object]:
    return {"level": "warning", "error": "table.rows_skipped",
            "params": {"table": "a.xlsx [Lớp 6]", "footers": footers, "headers": headers,
                       "numbers": numbers},
            "place": {"file": "a.xlsx", "sheet": "Lớp 6"}}


def report_with(counts: dict[str, object], notices: list[dict[str, object]]) -> dict[str, object]:
    return {"run_id": 9, "source": "lists", "state": "succeeded", "counts": counts, "changes": 0,
            "notices": notices}


def test_rows_skipped_lists_nonzero_counts(store: StoreHandle) -> None:
    report = report_with({}, [skipped_notice(footers=2, headers=0, numbers=1)])

    english = run_lines(report)
    set_language("vi")
    vietnamese = run_lines(report)

    assert english[-2] == "File notices: 1"
    assert english[-1] == ("  [warning] Rows that are not data were skipped in a.xlsx [Lớp 6]: "
                           "2 at the end of a block (totals, signatures, dates), 1 numbering the columns.")
    assert vietnamese[-1] == ("  [cảnh báo] Trong a.xlsx [Lớp 6] đã bỏ qua các dòng không phải dữ liệu: "
                              "2 dòng cuối khối (tổng số, chữ ký, ngày tháng), 1 dòng đánh số cột.")


@pytest.mark.parametrize("lang", ["en", "vi"])
def test_rows_skipped_all_zero_not_shown(store: StoreHandle, lang: str) -> None:
    set_language(lang)
    report = report_with({}, [skipped_notice(footers=0, headers=0, numbers=0)])

    lines = run_lines(report)

    assert not any("a.xlsx" in line for line in lines)
    assert lines[-1] == run_lines(report_with({}, []))[-1]
    assert len(lines) == len(run_lines(report_with({}, [])))


@pytest.mark.parametrize("lang", ["en", "vi"])
def test_zero_counts_left_out(store: StoreHandle, lang: str) -> None:
    set_language(lang)
    counts = {"stage": {"rows_read": {"orgs": 2, "courses": 0}, "skipped": {"users: parent": 0}},
              "decisions": {"class": {"insert": 0, "unchanged": 0}, "student": {"insert": 3, "update": 0}}}

    lines = run_lines(report_with(counts, []))

    read = next(line for line in lines if "orgs 2" in line)
    assert "courses" not in read
    student = "Student" if lang == "en" else "Học sinh"
    assert not any(line.startswith(("  Class:", "  Lớp học:")) for line in lines)
    assert any(line.startswith(f"  {student}: ") and line.endswith(" 3") for line in lines)
    assert not any("users: parent" in line for line in lines)


@pytest.mark.parametrize(("lang", "expected"), [
    ("en", "  Class: all 2 rows were rejected"),
    ("vi", "  Lớp học: cả 2 dòng đều bị từ chối"),
])
def test_entity_with_only_rejections_listed(store: StoreHandle, lang: str, expected: str) -> None:
    set_language(lang)
    counts = {"stage": {"rejected_by_entity": {"class": 2, "student": 1}},
              "decisions": {"class": {}, "student": {"insert": 3}}}

    lines = run_lines(report_with(counts, []))

    assert expected in lines
    assert sum(1 for line in lines if line.startswith(("  Student:", "  Học sinh:"))) == 1


def test_entity_with_one_rejected_row_singular(store: StoreHandle) -> None:
    counts = {"stage": {"rejected_by_entity": {"class": 1}}, "decisions": {"class": {}}}

    assert "  Class: its 1 row was rejected" in run_lines(report_with(counts, []))


@pytest.mark.parametrize("lang", ["en", "vi"])
def test_all_zero_count_listings_not_shown(store: StoreHandle, lang: str) -> None:
    set_language(lang)
    counts = {"stage": {"rows_read": {"orgs": 0}, "skipped": {"users: parent": 0}},
              "decisions": {"class": {"insert": 0}}}

    assert run_lines(report_with(counts, [])) == run_lines(report_with({}, []))


@pytest.mark.parametrize("lang", ["en", "vi"])
def test_counted_notice_parts_have_texts(lang: str) -> None:
    keys = [f"{key}.{name}" for key, names in COUNTED_MESSAGES.items() for name in names]
    keys += list(COUNTED_MESSAGES)
    assert [key for key in keys if key not in catalogue(lang)] == []


def test_counted_message_stored_without_zeros() -> None:
    text = translate("table.rows_skipped", lang="en", table="list.xlsx", footers=2, headers=0,
                     numbers=0)
    assert text == "Rows that are not data were skipped in list.xlsx: 2 at the end of a block " \
                   "(totals, signatures, dates)."


def test_rejection_header_counts_rows(store: StoreHandle) -> None:
    run = runs.new_run("ingest", "lists", "school-export", None)
    for entity, reason, line in [("student", "mapping.date_invalid", 5),
                                 ("enrollment", "ingest.reference_rejected", 5),
                                 ("student", "mapping.date_invalid", 9)]:
        Quarantine.create(run=run.id, source="lists", entity=entity, file="a.csv", row=line,
                          field="birth_date", reason=reason, params="{}", created_at=datetime.now(UTC))

    lines = rejection_lines(run.id)

    assert lines[0] == "Rejections: 3 (input rows rejected: 2), by reason:"


@pytest.mark.parametrize(("lang", "expected"), [("en", "(tables 4)"), ("vi", "(bảng 4)")])
def test_table_stream_read_in_words(store: StoreHandle, lang: str, expected: str) -> None:
    set_language(lang)
    counts = {"stage": {"rows_read": {"table": 4}}, "decisions": {"student": {"insert": 4}}}

    lines = run_lines(report_with(counts, []))

    assert any(line.endswith(expected) for line in lines)


def test_rejection_under_old_key_rendered(store: StoreHandle) -> None:
    # A row rejected before csv.cell_too_long was renamed table.cell_too_long.
    run = runs.new_run("ingest", "lists", "school-export", None)
    Quarantine.create(run=run.id, source="lists", entity=None, file="a.xlsx", sheet="6A1", row=7,
                      column="Họ và tên", reason="csv.cell_too_long",
                      params='{"column": "Họ và tên", "chars": 120, "limit": 100}',
                      created_at=datetime.now(UTC))

    lines = rejection_lines(run.id)

    assert lines[1] == ('  1 × The value in column "Họ và tên" has 120 characters, more than the '
                        "limit of 100 (limits.max_cell_chars). Check that cell in the source file, "
                        "or raise the limit if the value is genuine.")
    assert lines[2] == "      first at: a.xlsx, 6A1, row 7, column Họ và tên"


@pytest.mark.parametrize(("lang", "expected"), [
    ("en", "4 rows were not stored because the file lacks a column they need (see the error notices below)."),
    ("vi", "4 dòng không được ghi vì tệp thiếu cột cần thiết (xem thông báo lỗi bên dưới)."),
])
def test_unmapped_rows_not_called_skipped(store: StoreHandle, lang: str, expected: str) -> None:
    set_language(lang)
    counts = {"stage": {"rows_read": {"table": 4}, "unmapped": {"table": 4}, "skipped": {}},
              "decisions": {}}

    lines = run_lines(report_with(counts, []))

    assert expected in lines
    assert not any("×" in line for line in lines)


def test_skipped_rows_name_stream_in_language(store: StoreHandle) -> None:
    set_language("vi")
    counts = {"stage": {"skipped": {"table": 2, "users: parent": 1}}, "decisions": {}}

    lines = run_lines(report_with(counts, []))

    assert "  2 × bảng" in lines
    assert "  1 × users: parent" in lines


def test_guard_lines_name_school_all_ended() -> None:
    guard = {"max_change_ratio": 0.25, "min_existing": 50, "entities": {
        "student": {"existing": 6, "changed": 6, "ratio": 1.0, "trips": False,
                    "schools_all_ended": [{"school": "099001", "existing": 6, "ended": 6,
                                           "inserted": 4}]}}}
    lines = guard_lines(guard)
    assert lines[1].endswith("(100%), above the 25% limit")
    assert lines[2] == ("    school 099001: all 6 existing records would be ended (4 inserted), and "
                        "a run that ends every record of a school is held whatever the school's size")

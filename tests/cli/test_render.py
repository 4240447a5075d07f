"""The CLI's text report of a run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.cli.render import guard_lines, run_lines
from gateway.i18n import set_language
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
    assert lines[1] == ("  class: 17 of 20 existing records would be updated or ended (85%), above "
                        "the 25% limit, but not held because the scope has fewer than 50 records")
    assert lines[2].endswith("(50%), above the 25% limit")
    assert lines[3].endswith("(2%), within the 25% limit")


def test_run_header_unread_files(store: StoreHandle) -> None:
    report = {"run_id": 7, "source": "lists", "state": "succeeded", "counts": {}, "changes": 0,
              "notices": [{"level": "error", "error": "table.no_data", "params": {"file": "a.csv"},
                           "place": {"file": "a.csv"}},
                          {"level": "warning", "error": "ingest.absent_not_ended",
                           "params": {"unread": 1}, "place": {}}]}
    assert run_lines(report)[0] == ("Run 7, source lists: finished, but 1 file(s), table(s) or "
                                    "mapping(s) could not be read (see the error notices below)")


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

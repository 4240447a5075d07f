"""A rejected row reports every problem it has, and still counts as one rejected row."""

from __future__ import annotations

import json
from pathlib import Path

from gateway.ingest import service
from gateway.reports import rejections_by_reason
from gateway.store.models import Quarantine
from tests.support.store import StoreHandle

HEADER = "STT,Mã trường,Tên trường,Lớp,Mã học sinh,Họ và tên,Ngày sinh,Giới tính,Dân tộc"
# Synthetic pupils. The first row has three bad cells: a date that does not exist, a gender
# code and an ethnic group that the code lists lack. The date rejects the row; the gender and
# the ethnic group alone would only be dropped (on_error: drop), so they are listed after it.
ROWS = [
    "1,092301,Trường THCS A,8A3,0923010001,Nguyễn Văn An,31/02/2011,X,Kinh Việt",
    "2,092301,Trường THCS A,8A3,0923010002,Trần Thị Bình,29/08/2011,Nữ,Kinh",
]


def write_list(folder: Path) -> Path:
    path = folder / "lop8a3.csv"
    path.write_text("\r\n".join([HEADER, *ROWS]) + "\r\n", encoding="utf-8")
    return path


def student_rejection(store: StoreHandle, tmp_path: Path) -> tuple[service.RunReport, Quarantine]:
    report = service.ingest(store.db, store.settings, write_list(tmp_path), "school-export", "t")
    rejected = list(Quarantine.select().where(Quarantine.entity == "student"))
    assert len(rejected) == 1
    return report, rejected[0]


def test_row_problems_all_stored(store: StoreHandle, tmp_path: Path) -> None:
    _, row = student_rejection(store, tmp_path)
    params = json.loads(row.params)
    problems = [(p["reason"], p.get("column"), p.get("field")) for p in params["problems"]]
    assert problems == [
        ("mapping.date_invalid", "Ngày sinh", "birth_date"),
        ("mapping.code_not_accepted", "Giới tính", "gender"),
        ("mapping.code_unknown", "Dân tộc", "ethnicity_code"),
    ]
    # The first problem stays where a one-problem row has it.
    assert (row.reason, row.column, row.field) == ("mapping.date_invalid", "Ngày sinh", "birth_date")
    assert params["value"] == "31/02/2011"
    assert params["other_fields"] == ["gender", "ethnicity_code"]


def test_row_problems_counted_once(store: StoreHandle, tmp_path: Path) -> None:
    report, _ = student_rejection(store, tmp_path)
    stage = report.counts["stage"]
    assert stage["rejected_by_entity"]["student"] == 1
    assert stage["rejected"]["mapping.date_invalid"] == 1
    assert "mapping.code_not_accepted" not in stage["rejected"]


def test_row_problems_in_rejections_json(store: StoreHandle, tmp_path: Path) -> None:
    report, _ = student_rejection(store, tmp_path)
    groups = [g for g in rejections_by_reason(report.run_id, examples=20)
              if g["entity"] == "student"]
    assert len(groups) == 1
    example = groups[0]["examples"][0]
    assert "problems" not in example["params"]
    assert [p.get("field") for p in example["problems"]] == ["birth_date", "gender", "ethnicity_code"]


def test_good_row_has_no_problem_list(store: StoreHandle, tmp_path: Path) -> None:
    report = service.ingest(store.db, store.settings, write_list(tmp_path), "school-export", "t")
    groups = rejections_by_reason(report.run_id, examples=20)
    enrollment = next(g for g in groups if g["entity"] == "enrollment")
    example = enrollment["examples"][0]
    # A row with one problem lists that one problem.
    assert [p["reason"] for p in example["problems"]] == ["ingest.reference_rejected"]
    assert example["problems"][0]["params"] == example["params"]

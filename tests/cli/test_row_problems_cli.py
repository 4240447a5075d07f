"""`quarantine list` and `runs rejections` show every problem of a rejected row."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_cli import home, run  # noqa: F401 (fixture)
from tests.ingest.test_row_problems import write_list


def test_quarantine_list_shows_all_problems(home: Path, tmp_path: Path) -> None:  # noqa: F811
    run(home, "ingest", str(write_list(tmp_path)), "--adapter", "school-export", "--source", "t")
    text = run(home, "--lang", "en", "quarantine", "list").stdout
    assert 'also in this row: column Giới tính, field gender (gender): "X"' in text
    assert "also in this row: column Dân tộc, field ethnic group (ethnicity_code)" in text
    rows = json.loads(run(home, "--json", "quarantine", "list").stdout)
    student = next(row for row in rows if row["reason"] == "mapping.date_invalid")
    assert [p["field"] for p in student["problems"]] == ["birth_date", "gender", "ethnicity_code"]
    assert all(p["message"] for p in student["problems"])


def test_run_rejections_show_all_problems(home: Path, tmp_path: Path) -> None:  # noqa: F811
    run(home, "ingest", str(write_list(tmp_path)), "--adapter", "school-export", "--source", "t")
    text = run(home, "--lang", "vi", "runs", "rejections", "1").stdout
    assert "cùng dòng này còn lỗi: cột Giới tính" in text
    groups = json.loads(run(home, "--json", "runs", "rejections", "1").stdout)
    student = next(g for g in groups if g["entity"] == "student")
    assert len(student["examples"][0]["problems"]) == 3

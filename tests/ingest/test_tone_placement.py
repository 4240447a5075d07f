"""A spelling that differs only in tone placement is no change, and a held run shows its changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.ingest import service
from gateway.ingest.changes import changed_fields
from gateway.store.changelog import horizon
from gateway.store.models import Record
from gateway.text import tone_key
from tests.support import oneroster as pkg
from tests.support.store import StoreHandle

OLD_STYLE, NEW_STYLE = "Hoà Thuỷ", "Hòa Thủy"
HEADER = "STT,Mã trường,Tên trường,Lớp,Mã học sinh,Họ và tên,Ngày sinh,Giới tính"


def ingest(store: StoreHandle, folder: Path, adapter: str = "oneroster") -> service.RunReport:
    return service.ingest(store.db, store.settings, folder, adapter, "school-a")


def named_city(given: str, students: int = 5) -> dict[str, list[dict[str, str]]]:
    tables = pkg.city(students=students)
    for user in tables["users"]:
        user["givenName"] = given
    return tables


def given_names() -> list[str]:
    query = Record.select().where(Record.entity == "student").order_by(Record.local_id)
    return [json.loads(record.data)["given_name"] for record in query]


def write_list_export(path: Path, names: list[str]) -> Path:
    """Write a school's pupil list as a CSV export, one pupil per name."""
    lines = [HEADER]
    for number, name in enumerate(names, start=1):
        lines.append(f"{number},093101,Trường TH Hoà Bình,2A,0931010{number:03d},{name},"
                     f"01/01/2017,Nữ")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8"))
    return path


# -- the keys ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("left", "right"), [
    ("Hoà", "Hòa"), ("Thuỷ", "Thủy"), ("Nguyễn Thị Hoà Thuỷ", "Nguyễn Thị Hòa Thủy"),
    ("Khoẻ", "Khỏe"), ("Hoà, Bình", "Hòa, Bình"),
], ids=["oa", "uy", "full-name", "oe", "punctuation-kept"])
def test_tone_key_ignores_tone_placement(left: str, right: str) -> None:
    assert tone_key(left) == tone_key(right)


@pytest.mark.parametrize(("left", "right"), [
    ("Hoà", "hòa"), ("Văn", "Vân"), ("Thuỷ", "Thúy"), ("Hoà Bình", "Hòa  Bình"),
    ("Hoà-Bình", "Hòa Bình"), ("Đức", "Dức"),
], ids=["case", "vowel-mark", "other-tone", "spacing", "punctuation", "d-stroke"])
def test_tone_key_keeps_other_differences(left: str, right: str) -> None:
    assert tone_key(left) != tone_key(right)


def test_changed_fields_nested_paths() -> None:
    old = {"name": "Hoà", "address": {"commune": "Xã A", "province": "01"}, "grades": ["06"]}
    new = {"name": "Hòa", "address": {"commune": "Xã B", "province": "01"}, "grades": ["07"],
           "phone": "0901"}
    assert changed_fields(old, new) == ["address.commune", "grades", "phone"]


def test_changed_fields_types_differ() -> None:
    assert changed_fields({"a": 1, "b": True}, {"a": "1", "b": 1}) == ["a", "b"]
    assert changed_fields({"a": None}, {}) == ["a"]
    assert changed_fields({"a": [{"x": "Thuỷ"}]}, {"a": [{"x": "Thủy"}]}) == []


# -- compare -------------------------------------------------------------------------------------

def test_tone_respelling_is_unchanged(store: StoreHandle, tmp_path: Path) -> None:
    ingest(store, pkg.write_package(tmp_path / "a", named_city(OLD_STYLE)))
    before = horizon()
    report = ingest(store, pkg.write_package(tmp_path / "b", named_city(NEW_STYLE)))
    assert report.state == "succeeded"
    assert report.counts["decisions"]["student"] == {"unchanged": 5}
    assert horizon() == before
    assert given_names() == [OLD_STYLE] * 5
    assert report.counts["updates"] == {}


def test_tone_respelling_learns_row_hash(store: StoreHandle, tmp_path: Path,
                                         mapped_rows: list[str]) -> None:
    ingest(store, pkg.write_package(tmp_path / "a", named_city(OLD_STYLE)))
    folder = pkg.write_package(tmp_path / "b", named_city(NEW_STYLE))
    ingest(store, folder)
    mapped_rows.clear()
    report = ingest(store, folder)
    assert mapped_rows == []
    assert report.counts["decisions"]["student"] == {"unchanged": 5}


@pytest.mark.parametrize("given", ["Hòa Thúy", "HOÀ THUỶ", "Hoa Thuy"],
                         ids=["other-tone", "case", "no-tone"])
def test_other_respelling_updates(store: StoreHandle, tmp_path: Path, given: str) -> None:
    ingest(store, pkg.write_package(tmp_path / "a", named_city(OLD_STYLE)))
    report = ingest(store, pkg.write_package(tmp_path / "b", named_city(given, students=5)))
    assert report.counts["decisions"]["student"] == {"update": 5}
    assert given_names() == [given] * 5


def test_tone_respelling_beside_real_change(store: StoreHandle, tmp_path: Path) -> None:
    ingest(store, pkg.write_package(tmp_path / "a", named_city(OLD_STYLE)))
    tables = named_city(NEW_STYLE)
    tables["users"][0]["familyName"] = "Trần"
    report = ingest(store, pkg.write_package(tmp_path / "b", tables))
    assert report.counts["decisions"]["student"] == {"update": 1, "unchanged": 4}
    # The changed record takes the row's whole content, its new tone placement too.
    assert given_names()[0] == NEW_STYLE
    assert given_names()[1:] == [OLD_STYLE] * 4


def test_list_export_tone_respelling_not_held(store: StoreHandle, tmp_path: Path) -> None:
    ingest(store, write_list_export(tmp_path / "1" / "list.csv", [f"Nguyễn Thị {OLD_STYLE}"] * 60),
           adapter="school-export")
    before = horizon()
    report = ingest(store, write_list_export(tmp_path / "2" / "list.csv",
                                             [f"Nguyễn Thị {NEW_STYLE}"] * 60),
                    adapter="school-export")
    assert report.state == "succeeded"
    assert report.counts["decisions"]["student"] == {"unchanged": 60}
    assert report.guard is not None
    assert report.guard["entities"]["student"]["changed"] == 0
    assert horizon() == before


# -- the summary of updates ------------------------------------------------------------------------

def test_held_run_summarises_changed_fields(store: StoreHandle, tmp_path: Path) -> None:
    names = [f"Nguyễn Thị {OLD_STYLE}"] * 60
    ingest(store, write_list_export(tmp_path / "1" / "list.csv", names), adapter="school-export")
    changed = [f"Trần Thị {NEW_STYLE}"] * 20 + [f"Nguyễn Thị {NEW_STYLE}"] * 40
    report = ingest(store, write_list_export(tmp_path / "2" / "list.csv", changed),
                    adapter="school-export")
    assert report.state == "held"
    summary = report.counts["updates"]["student"]
    assert summary["updates"] == 20
    assert summary["fields"] == {"family_name": 20, "full_name": 20}
    assert summary["restored"] == 0
    assert summary["other_source"] == 0
    assert len(summary["examples"]) == 5
    first = summary["examples"][0]
    assert first["local_id"] == "0931010001"
    assert first["fields"] == ["family_name", "full_name"]
    assert Record.get_by_id(first["record_id"]).local_id == "0931010001"


def test_update_summary_has_no_values(store: StoreHandle, tmp_path: Path) -> None:
    ingest(store, pkg.write_package(tmp_path / "a", pkg.city(students=4)))
    tables = pkg.city(students=4)
    tables["users"][1]["familyName"] = "Lê"
    tables["users"][1]["birthDate"] = "2014-02-03"
    report = ingest(store, pkg.write_package(tmp_path / "b", tables))
    text = json.dumps(report.counts["updates"], ensure_ascii=False)
    assert "Lê" not in text
    assert "2014" not in text
    assert report.counts["updates"]["student"]["examples"][0]["local_id"] == "u2"

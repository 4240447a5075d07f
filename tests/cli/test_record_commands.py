"""`gateway records show` as a user runs it: codes shown with their names from the code lists."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gateway.ingest import service
from gateway.mapping.spec import canonical_json
from gateway.store.models import ChangeEvent, MappingVersion, Record
from tests.support import oneroster as pkg
from tests.support.store import StoreHandle

ROOT = Path(__file__).resolve().parents[2]
GATEWAY = [sys.executable, "-m", "gateway.cli.main"]

# What the school-export mapping stores for a pupil of Cần Thơ, on top of the OneRoster fields.
SCHOOL_EXPORT_FIELDS = {"gender": "female", "ethnicity_code": "04", "learner_status": "studying",
                        "address": {"province_code": "92", "commune_code": "31360", "detail": "Ấp 6"}}


def gateway(store: StoreHandle, *args: str) -> str:
    return gateway_run(store, *args).stdout


def gateway_run(store: StoreHandle, *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    environment.update({"GATEWAY_HOME": str(store.home), "GATEWAY_STORE__URL": store.url})
    result = subprocess.run([*GATEWAY, *args], capture_output=True, text=True, env=environment,
                            cwd=ROOT, timeout=120, check=False)
    assert result.returncode == expect, result.stdout + result.stderr
    return result


def school_export_student(store: StoreHandle, fields: dict[str, Any]) -> int:
    """Ingest one OneRoster student, then make it a record the school-export mapping wrote."""
    folder = pkg.write_package(store.home / "pkg", pkg.city(students=1))
    report = service.ingest(store.db, store.settings, folder, "oneroster", "school-a")
    assert report.state == "succeeded", report.as_dict()
    record = Record.get((Record.entity == "student") & (Record.local_id == "u1"))
    mapping = MappingVersion.get((MappingVersion.adapter == "school-export")
                                 & (MappingVersion.entity == "student") & (MappingVersion.number == 2))
    data = {**json.loads(record.data), **fields}
    (Record.update(data=canonical_json(data), mapping_version=mapping.id)
     .where(Record.id == record.id).execute())
    return int(record.id)


def field_value(text: str, name: str) -> str:
    """Return the value column of field ``name`` in the one-version view.

    The field column names the field in words, with its name in brackets.
    """
    return field_line(text, name).split(f"({name})", 1)[1].strip()


def field_line(text: str, name: str) -> str:
    return next(line for line in text.splitlines()
                if line.startswith("  ") and f"({name}) " in line and "→" not in line)


def test_show_names_codes_in_vietnamese(store: StoreHandle) -> None:
    record_id = school_export_student(store, SCHOOL_EXPORT_FIELDS)

    text = gateway(store, "records", "show", str(record_id))

    assert field_value(text, "gender") == "female (Nữ)"
    # The school-export mapping looks ethnic groups up in the 1979 numbering, where 04 is Hoa.
    assert field_value(text, "ethnicity_code") == "04 (Hoa)"
    assert field_value(text, "learner_status") == "studying (Đang học)"
    assert field_value(text, "address.province_code") == "92 (Thành phố Cần Thơ)"
    assert field_value(text, "address.commune_code") == "31360 (Xã Thạnh Xuân)"
    assert field_value(text, "address.detail") == "Ấp 6"
    assert field_value(text, "local_id") == "u1"


def test_show_names_codes_in_english(store: StoreHandle) -> None:
    record_id = school_export_student(store, SCHOOL_EXPORT_FIELDS)

    text = gateway(store, "--lang", "en", "records", "show", str(record_id))

    assert field_value(text, "gender") == "female (Female)"
    assert field_value(text, "ethnicity_code") == "04 (Hoa)"
    assert field_value(text, "learner_status") == "studying (Studying)"
    # The administrative units have Vietnamese names only.
    assert field_value(text, "address.commune_code") == "31360 (Xã Thạnh Xuân)"


@pytest.mark.parametrize(("lang", "unknown"), [("vi", "không có trong danh mục"),
                                               ("en", "not in code list")])
def test_show_marks_codes_not_in_list(store: StoreHandle, lang: str, unknown: str) -> None:
    fields = {**SCHOOL_EXPORT_FIELDS, "ethnicity_code": "99",
              "address": {"province_code": "79", "commune_code": "26734"}}
    record_id = school_export_student(store, fields)

    text = gateway(store, "--lang", lang, "records", "show", str(record_id))

    assert field_value(text, "ethnicity_code") == f"99 ({unknown} ethnic-group-1979@1)"
    assert field_value(text, "address.commune_code") == f"26734 ({unknown} commune-2025@1)"
    assert field_value(text, "address.province_code").startswith("79 (")


def test_show_json_adds_labels(store: StoreHandle) -> None:
    record_id = school_export_student(store, SCHOOL_EXPORT_FIELDS)
    stored = json.loads(Record.get_by_id(record_id).data)

    document = json.loads(gateway(store, "--json", "--lang", "en", "records", "show", str(record_id)))

    assert document["stored"]["data"] == stored
    assert document["requested"]["data"] == stored
    assert document["labels"]["stored"]["ethnicity_code"] == {
        "codelist": "ethnic-group-1979@1", "available": True, "names": {"04": "Hoa"}}
    assert document["labels"]["stored"]["gender"]["names"] == {"female": "Female"}
    assert "local_id" not in document["labels"]["stored"]
    assert json.loads(Record.get_by_id(record_id).data) == stored


def test_show_older_version_view(store: StoreHandle) -> None:
    record_id = school_export_student(store, SCHOOL_EXPORT_FIELDS)

    text = gateway(store, "--lang", "en", "records", "show", str(record_id), "--schema-version", "1")

    gender = field_value(text, "gender")
    ethnicity = field_value(text, "ethnicity_code")
    assert field_line(text, "gender").startswith("  gender (gender) ")
    assert gender.split() == ["female", "(Female)", "female", "(Female)"]
    # The mapping wrote version 2, so its choice of numbering is not applied to the version-1 view.
    assert ethnicity.split() == ["04", "(Hoa)", "04"]


def test_find_by_ministry_id_links_sources(store: StoreHandle,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(pkg.HEADERS, "users", [*pkg.HEADERS["users"], "userMasterIdentifier"])
    tables = pkg.city(students=2)
    tables["users"][0]["userMasterIdentifier"] = "0123456789"
    service.ingest(store.db, store.settings, pkg.write_package(store.home / "a", tables),
                   "oneroster", "school-a")
    other = pkg.city(students=1)
    other["users"][0].update(sourcedId="x-77", userMasterIdentifier="0123456789")
    service.ingest(store.db, store.settings, pkg.write_package(store.home / "b", other),
                   "oneroster", "school-b")
    record = Record.get((Record.entity == "student") & (Record.local_id == "u1"))

    found = json.loads(gateway(store, "--json", "records", "find", "0123456789"))["records"]
    by_local = json.loads(gateway(store, "--json", "records", "find", "x-77",
                                  "--source", "school-b"))["records"]
    text = gateway(store, "--lang", "en", "records", "find", "u1", "--source", "school-a")

    assert [r["record_id"] for r in found] == [record.id]
    assert found[0]["matched"] == ["ministry_id"]
    assert {link["value"] for link in found[0]["local_ids"]} == {"u1", "x-77"}
    assert [r["record_id"] for r in by_local] == [record.id]
    assert f"#{record.id} Student school-a u1 (active): local id of source school-a" in text
    assert f"gateway records show {record.id}" in text


def test_find_unknown_value_lists_nothing(store: StoreHandle) -> None:
    text = gateway(store, "records", "find", "no-such-id")

    assert text.splitlines() == ["Không có bản ghi nào có mã no-such-id. Hãy kiểm tra lại giá trị, "
                                 "hoặc bỏ --source và --entity để tìm trong mọi nguồn."]


def test_show_names_referenced_records(store: StoreHandle) -> None:
    folder = pkg.write_package(store.home / "pkg", pkg.city(students=1))
    service.ingest(store.db, store.settings, folder, "oneroster", "school-a")
    enrollment = Record.get(Record.entity == "enrollment")
    school = Record.get(Record.entity == "organization")
    pupil = Record.get(Record.entity == "student")

    text = gateway(store, "--lang", "en", "records", "show", str(enrollment.id))
    document = json.loads(gateway(store, "--json", "records", "show", str(enrollment.id)))

    school_name = json.loads(school.data)["name"]
    lines = text.splitlines()
    assert (f"  school or organization (school_ref): {school.local_id} → #{school.id} "
            f"{school_name}") in lines
    assert (f"  student or staff member enrolled in the class (person_ref): {pupil.local_id} "
            f"→ #{pupil.id}") in lines
    by_field = {r["field"]: r for r in document["references"]}
    assert by_field["person_ref"]["name"] == ""
    assert by_field["school_ref"]["record_id"] == school.id


def test_show_gives_times_and_sequence(store: StoreHandle) -> None:
    folder = pkg.write_package(store.home / "pkg", pkg.city(students=1))
    service.ingest(store.db, store.settings, folder, "oneroster", "school-a")
    pupil = Record.get(Record.entity == "student")

    text = gateway(store, "--lang", "en", "records", "show", str(pupil.id))
    document = json.loads(gateway(store, "--json", "records", "show", str(pupil.id)))

    assert text.splitlines()[1].startswith("Created 20")
    assert f"sequence numbers {pupil.first_seq} to {pupil.last_seq}" in text.splitlines()[1]
    assert document["created_at"].endswith("+00:00")
    assert document["first_seq"] == pupil.first_seq


def test_records_end_by_hand(store: StoreHandle, tmp_path: Path) -> None:
    service.ingest(store.db, store.settings, pkg.write_package(tmp_path / "p", pkg.city(students=2)),
                   "oneroster", "school-a")
    pupil = Record.get((Record.entity == "student") & (Record.local_id == "u1"))

    document = json.loads(gateway_run(store, "--json", "records", "end", str(pupil.id), "999999",
                                      "--by", "admin", expect=1).stdout)
    again = json.loads(gateway(store, "--json", "records", "end", str(pupil.id)))

    [run] = document["runs"]
    assert (run["state"], run["approved_by"]) == ("succeeded", "admin")
    # The pupil's enrollment cannot stand without the pupil.
    assert run["counts"]["decisions"] == {"student": {"end": 1}, "enrollment": {"end": 1}}
    assert [n["error"] for n in run["notices"]] == ["ingest.ended_with_reference"]
    assert document["unknown"] == [999999]
    assert Record.get_by_id(pupil.id).state == "ended"
    enrollments = Record.select().where((Record.entity == "enrollment") & (Record.state == "active"))
    assert [json.loads(r.data)["person_ref"] for r in enrollments] == ["u2"]
    last = ChangeEvent.select().where(ChangeEvent.record_id == pupil.id).order_by(
        ChangeEvent.seq.desc()).first()
    assert (last.op, last.data) == ("end", pupil.data)
    assert (again["runs"], again["not_active"]) == ([], [pupil.id])


def test_records_end_unknown_id_fails(store: StoreHandle) -> None:
    result = gateway_run(store, "--lang", "en", "records", "end", "99999", expect=1)

    assert "99999" in result.stderr
    assert result.stdout == ""


def test_records_end_names_who_ended(store: StoreHandle, tmp_path: Path) -> None:
    service.ingest(store.db, store.settings, pkg.write_package(tmp_path / "p", pkg.city(students=2)),
                   "oneroster", "school-a")
    pupils = Record.select().where(Record.entity == "student").order_by(Record.id)

    vietnamese = gateway(store, "records", "end", str(pupils[0].id), "--by", "admin-test")
    english = gateway(store, "--lang", "en", "records", "end", str(pupils[1].id), "--by", "admin-test")

    assert "Người kết thúc bản ghi: admin-test" in vietnamese
    assert "Người duyệt" not in vietnamese
    assert "Ended by: admin-test" in english
    assert "Approved by" not in english


def test_find_and_show_name_entity_in_language(store: StoreHandle, tmp_path: Path) -> None:
    service.ingest(store.db, store.settings, pkg.write_package(tmp_path / "p", pkg.city(students=1)),
                   "oneroster", "school-a")
    pupil = Record.get((Record.entity == "student") & (Record.local_id == "u1"))

    found = gateway(store, "records", "find", "u1", "--source", "school-a")
    shown = gateway(store, "records", "show", str(pupil.id))

    assert f"#{pupil.id} Học sinh school-a u1 (đang hiệu lực)" in found
    assert shown.splitlines()[0].startswith(f"Bản ghi #{pupil.id} Học sinh (đang hiệu lực), ")
    assert "student" not in shown.splitlines()[0]

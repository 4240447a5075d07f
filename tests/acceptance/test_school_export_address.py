"""Pupil addresses through ``gateway ingest --adapter school-export``, as a user runs it.

The gateway command runs as a subprocess on a scratch home with SQLite. The demo city's
exports of both shapes carry the address columns of school products, and the shipped
student mapping turns them into the nested ``address`` of ``student@2``. A commune that no
province has, and a commune of another province, cost the pupil only the address: the pupil
is stored without it, and the run warns with the count, the rows and the reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gateway.demo import VendorFault, city_pupils

pytest.importorskip("vietnam_provinces", reason="the commune list is built from vietnam-provinces")

GATEWAY = [sys.executable, "-m", "gateway.cli.main"]
# The commune column of each shape and the reason each commune fault must give.
COMMUNE_COLUMNS = {"xlsx": "Phường/Xã", "csv1258": "Xã/Phường"}
COMMUNE_REASONS = {
    VendorFault.COMMUNE_UNKNOWN.value: "mapping.commune_2025_unknown_in",
    VendorFault.COMMUNE_OTHER_PROVINCE.value: "mapping.commune_2025_in_other_province",
}


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    environment["GATEWAY_HOME"] = str(home)
    result = subprocess.run([*GATEWAY, *args], capture_output=True, text=True, env=environment,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def run_json(home: Path, *args: str) -> Any:
    return json.loads(run(home, "--json", *args).stdout)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("home")
    run(folder, "init", "--no-dev-keys")
    return folder


@pytest.fixture(scope="module")
def demo(home: Path) -> dict[str, Any]:
    """Write the tiny city in both vendor shapes and return each shape's summary."""
    return run_json(home, "demo-data", "--size", "tiny", "--shapes", "xlsx,csv1258",
                    "--out", str(home / "demo"))


def stored_students(home: Path, source: str) -> dict[str, dict[str, Any]]:
    events = run_json(home, "changes", "--limit", "1000")["events"]
    return {event["data"]["local_id"]: event["data"] for event in events
            if event["entity"] == "student" and event["source"] == source}


@pytest.mark.parametrize("shape", ["xlsx", "csv1258"])
def test_ingest_command_stores_addresses(home: Path, demo: dict[str, Any], shape: str) -> None:
    source = f"{shape}-address"

    report = run_json(home, "ingest", str(home / "demo" / shape), "--adapter", "school-export",
                      "--source", source)

    assert report["state"] == "succeeded"
    stored = stored_students(home, source)
    pupils = {pupil.code: pupil for _, school in city_pupils("tiny", 2025) for pupil in school}
    assert any(pupils[code].address is not None for code in stored)
    dropped = []
    for code, record in stored.items():
        address = pupils[code].address
        if address is None:
            assert "address" not in record, code
        elif "address" not in record:
            dropped.append(code)  # a planted commune fault
        else:
            assert record["address"] == {"province_code": "92",
                                         "commune_code": address.commune_code,
                                         "detail": address.detail}, code
    if shape == "xlsx":
        # The CSV list runs second, and its pupils that the workbook gave are linked to those
        # records, so only the first shape stores every pupil itself.
        assert len(dropped) == len(COMMUNE_REASONS)


@pytest.mark.parametrize("shape", ["xlsx", "csv1258"])
def test_ingest_command_drops_bad_communes(home: Path, demo: dict[str, Any], shape: str) -> None:
    report = run_json(home, "ingest", str(home / "demo" / shape), "--adapter", "school-export",
                      "--source", f"{shape}-communes")
    rejected = run_json(home, "quarantine", "list", "--run", str(report["run_id"]))
    shown = run(home, "--lang", "en", "runs", "show", str(report["run_id"])).stdout

    assert [row for row in rejected if row["place"]["field"] == "address.commune_code"] == []
    warnings = [n for n in report["notices"] if n["error"] == "ingest.field_dropped"
                and n["params"]["field"] == "address"]
    assert sorted(n["params"]["problem"]["reason"] for n in warnings) == sorted(COMMUNE_REASONS.values())
    assert {n["params"]["column"] for n in warnings} == {COMMUNE_COLUMNS[shape]}
    assert report["counts"]["stage"]["dropped"]["student.address"] == 2
    assert "1 student row gave no address (address)" in shown
    # A new source: no record was stored before, so none kept an address.
    assert "Records that kept their stored address (address): 0." in shown
    assert "commune-2025@1" not in shown
    assert demo[shape]["faults"]["commune_unknown"] == 1
    assert demo[shape]["faults"]["commune_other_province"] == 1


def test_ingest_command_invalid_nested_value(home: Path) -> None:
    """A value that the schema rejects inside the address names its field and its column."""
    folder = home / "long-detail"
    folder.mkdir()
    rows = [
        "Mã trường;Tên trường;Lớp;Mã học sinh;Họ và tên;Số nhà, đường;Xã/Phường;Tỉnh/TP",
        "T1;Trường Tiểu học A;1A1;HS1;Nguyễn Văn An;12 Trần Phú;P. Ninh Kiều;TP Cần Thơ",
        f"T1;Trường Tiểu học A;1A1;HS2;Lê Thị Bình;{'x' * 2001};Phường Cái Khế;Cần Thơ",
        "T1;Trường Tiểu học A;1A1;HS3;Trần Văn Cường;;;",
    ]
    (folder / "hoc-sinh.csv").write_text("\r\n".join(rows) + "\r\n", encoding="utf-8")

    report = run_json(home, "ingest", str(folder), "--adapter", "school-export",
                      "--source", "long-detail")
    rejected = run_json(home, "quarantine", "list", "--run", str(report["run_id"]))

    # Quarantine keeps the student row's cells by header. The enrollment of that row, rejected
    # because it names a student the source lacks, keeps its record instead.
    students = [row for row in rejected if row["raw"].get("Mã học sinh") == "HS2"]
    assert [(row["reason"], row["place"]["field"], row["place"]["column"], row["place"]["row"])
            for row in students] == [("validation.max_length", "address.detail", "Số nhà, đường", 3)]
    stored = stored_students(home, "long-detail")
    assert stored["HS1"]["address"] == {"province_code": "92", "commune_code": "31135",
                                        "detail": "12 Trần Phú"}
    assert "address" not in stored["HS3"]
    assert "HS2" not in stored

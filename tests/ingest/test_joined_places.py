"""A value joined from another file is rejected, or dropped, at the place where that file writes it."""

from __future__ import annotations

import csv
from pathlib import Path

from gateway.errors import row_label
from gateway.ingest import service
from gateway.store.models import Quarantine
from tests.support.store import StoreHandle

MANIFEST = [["propertyName", "value"], ["manifest.version", "1.0"], ["oneroster.version", "1.2"],
            ["file.orgs", "bulk"], ["file.users", "bulk"], ["file.roles", "bulk"],
            ["file.demographics", "bulk"]]


def write(folder: Path, name: str, rows: list[list[str]]) -> None:
    with (folder / f"{name}.csv").open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\r\n").writerows(rows)


def package(folder: Path) -> Path:
    folder.mkdir()
    write(folder, "manifest", MANIFEST)
    write(folder, "orgs", [["sourcedId", "status", "dateLastModified", "name", "type"],
                           ["s1", "active", "", "Trường A", "school"]])
    write(folder, "users", [["sourcedId", "status", "dateLastModified", "enabledUser", "username",
                             "givenName", "familyName"],
                            *[[f"u{n}", "active", "", "true", f"u{n}", "An", "Lê"] for n in (1, 2, 3)]])
    write(folder, "roles", [["sourcedId", "status", "dateLastModified", "userSourcedId", "roleType",
                             "role", "orgSourcedId"],
                            *[[f"r{n}", "active", "", f"u{n}", "primary", "student", "s1"]
                              for n in (1, 2, 3)]])
    # Listed in another order than users.csv, so that the two files' line numbers differ.
    write(folder, "demographics", [["sourcedId", "status", "dateLastModified", "birthDate", "sex"],
                                   ["u3", "active", "", "2015-02-30", "female"],
                                   ["u1", "active", "", "2015-01-01", "x"],
                                   ["u2", "active", "", "2015-01-02", "male"]])
    return folder


def test_joined_value_rejected_at_demographics(store: StoreHandle,
                                               tmp_path: Path) -> None:
    report = service.ingest(store.db, store.settings, package(tmp_path / "p"), "oneroster", "school-a")
    rejected = sorted((q.file, q.row, q.column, q.reason) for q in Quarantine.select())
    assert rejected == [("demographics.csv", 2, "birthDate", "mapping.date_invalid")]
    # An unknown sex costs the pupil the gender only, and the warning names the same place.
    (dropped,) = [n for n in report.notices if n["error"] == "ingest.field_dropped"]
    assert dropped["params"]["column"] == "sex"
    assert dropped["params"]["rows"] == row_label("demographics.csv", None, 3)
    assert dropped["params"]["problem"]["reason"] == "mapping.code_not_accepted"

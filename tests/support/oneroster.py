"""Small OneRoster 1.1 packages written by tests, row by row."""

from __future__ import annotations

import csv
import unicodedata
from pathlib import Path

HEADERS = {
    "orgs": ["sourcedId", "status", "dateLastModified", "name", "type", "identifier", "parentSourcedId"],
    "academicSessions": ["sourcedId", "status", "dateLastModified", "title", "type", "startDate",
                         "endDate", "parentSourcedId", "schoolYear"],
    "classes": ["sourcedId", "status", "dateLastModified", "title", "grades", "courseSourcedId",
                "classCode", "classType", "location", "schoolSourcedId", "termSourcedIds",
                "subjects", "subjectCodes", "periods"],
    "users": ["sourcedId", "status", "dateLastModified", "enabledUser", "orgSourcedIds", "role",
              "username", "userIds", "givenName", "familyName", "middleName", "identifier", "email",
              "sms", "phone", "agentSourcedIds", "grades", "password"],
    "enrollments": ["sourcedId", "status", "dateLastModified", "classSourcedId", "schoolSourcedId",
                    "userSourcedId", "role", "primary", "beginDate", "endDate"],
}
ALL_FILES = ["academicSessions", "categories", "classes", "classResources", "courses",
             "courseResources", "demographics", "enrollments", "lineItems", "orgs", "resources",
             "results", "users"]


def school(sourced_id: str, name: str = "Trường THCS Thử") -> dict[str, str]:
    return {"sourcedId": sourced_id, "name": name, "type": "school", "identifier": f"M{sourced_id}"}


def year(sourced_id: str = "y2026", school_year: str = "2026") -> dict[str, str]:
    start = int(school_year) - 1
    return {"sourcedId": sourced_id, "title": f"Năm học {start}-{school_year}", "type": "schoolYear",
            "startDate": f"{start}-09-05", "endDate": f"{school_year}-05-31", "schoolYear": school_year}


def klass(sourced_id: str, school_id: str, term: str = "y2026") -> dict[str, str]:
    return {"sourcedId": sourced_id, "title": f"Lớp {sourced_id}", "classType": "homeroom",
            "schoolSourcedId": school_id, "termSourcedIds": term, "grades": "06"}


def student(sourced_id: str, school_id: str, given: str = "An", **extra: str) -> dict[str, str]:
    row = {"sourcedId": sourced_id, "enabledUser": "TRUE", "orgSourcedIds": school_id,
           "role": "student", "givenName": given, "familyName": "Nguyễn", "middleName": "Văn",
           "identifier": f"HS{sourced_id}", "password": "Secret-1", "grades": "06"}
    row.update(extra)
    return row


def enrollment(sourced_id: str, class_id: str, user_id: str, school_id: str) -> dict[str, str]:
    return {"sourcedId": sourced_id, "classSourcedId": class_id, "userSourcedId": user_id,
            "schoolSourcedId": school_id, "role": "student", "primary": "true"}


def write_package(folder: Path, tables: dict[str, list[dict[str, str]]], mode: str = "bulk") -> Path:
    """Write ``tables`` as a OneRoster 1.1 package; tables not given are absent."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = [["propertyName", "value"], ["manifest.version", "1.0"], ["oneroster.version", "1.1"]]
    for name in ALL_FILES:
        manifest.append([f"file.{name}", mode if name in tables else "absent"])
    _write(folder / "manifest.csv", manifest)
    for name, rows in tables.items():
        headers = HEADERS[name]
        _write(folder / f"{name}.csv", [headers, *[[row.get(h, "") for h in headers] for row in rows]])
    return folder


def _write(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\r\n").writerows(rows)


def city(students: int = 10, schools: int = 1, school_year: str = "2026") -> dict[str, list[dict[str, str]]]:
    """A small consistent package: schools, a year, one class per school, students, enrollments."""
    orgs = [school(f"s{n}", f"Trường {n}") for n in range(1, schools + 1)]
    sessions = [year(f"y{school_year}", school_year)]
    classes = [klass(f"c{n}", f"s{n}", f"y{school_year}") for n in range(1, schools + 1)]
    users, enrollments = [], []
    for number in range(1, students + 1):
        school_id = f"s{(number - 1) % schools + 1}"
        users.append(student(f"u{number}", school_id, given=f"An{number}"))
        enrollments.append(enrollment(f"e{number}", f"c{school_id[1:]}", f"u{number}", school_id))
    return {"orgs": orgs, "academicSessions": sessions, "classes": classes, "users": users,
            "enrollments": enrollments}


def cp1258(text: str) -> bytes:
    """Encode ``text`` as Windows-1258 writes it: a letter with a tone is a base letter and a mark."""
    out = bytearray()
    for char in text:
        try:
            out += char.encode("cp1258")
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", char)
            out += (unicodedata.normalize("NFC", parts[:-1]) + parts[-1]).encode("cp1258")
    return bytes(out)

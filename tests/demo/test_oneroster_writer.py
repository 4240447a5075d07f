"""The OneRoster 1.2 package of the demo city, read back from the files it writes."""

from __future__ import annotations

import csv
import re
import tracemalloc
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from gateway.demo import SIZES, DemoSummary, FaultKind, Level, write_oneroster
from gateway.demo.city import LevelShape
from gateway.demo.oneroster import HEADERS
from gateway.errors import ConfigurationError, PermanentError
from gateway.i18n import catalogue

Rows = list[dict[str, str]]
BULK = ("orgs", "academicSessions", "classes", "users", "roles", "demographics", "enrollments")
USERS_1_2 = (
    "sourcedId,status,dateLastModified,enabledUser,username,userIds,givenName,familyName,"
    "middleName,identifier,email,sms,phone,agentSourcedIds,grades,password,userMasterIdentifier,"
    "preferredGivenName,preferredMiddleName,preferredFamilyName,primaryOrgSourcedId,pronouns"
)
NAME_COLUMNS = ("givenName", "middleName", "familyName")


def read(folder: Path, table: str) -> Rows:
    with (folder / f"{table}.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> DemoSummary:
    return write_oneroster(tmp_path_factory.mktemp("tiny"), "tiny")


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> DemoSummary:
    return write_oneroster(tmp_path_factory.mktemp("small"), "small")


# --- Determinism and counts ---


@pytest.mark.parametrize("size", ["tiny", "small"])
def test_same_seed_identical_bytes(tmp_path: Path, size: str) -> None:
    first = write_oneroster(tmp_path / "first", size, seed=7)
    second = write_oneroster(tmp_path / "second", size, seed=7)

    for name in [*(f"{t}.csv" for t in BULK), "manifest.csv"]:
        assert (first.package / name).read_bytes() == (second.package / name).read_bytes(), name


def test_other_seed_other_bytes(tmp_path: Path) -> None:
    first = write_oneroster(tmp_path / "first", "tiny", seed=1)
    second = write_oneroster(tmp_path / "second", "tiny", seed=2)

    assert (first.package / "users.csv").read_bytes() != (second.package / "users.csv").read_bytes()


@pytest.mark.parametrize("table", BULK)
def test_summary_counts_rows_per_file(small: DemoSummary, table: str) -> None:
    assert small.files[f"{table}.csv"] == len(read(small.package, table))


def test_summary_counts_per_school(small: DemoSummary) -> None:
    roles = Counter(
        (r["orgSourcedId"], r["role"] == "student") for r in read(small.package, "roles"))
    classes = Counter(r["schoolSourcedId"] for r in read(small.package, "classes"))

    for school in small.schools:
        assert roles[(school.sourced_id, True)] == school.students, school.name
        assert roles[(school.sourced_id, False)] == school.staff, school.name
        assert classes[school.sourced_id] == school.classes, school.name


def test_summary_as_dict_totals(small: DemoSummary) -> None:
    data = small.as_dict()

    assert data["package"] == str(small.package)
    assert data["totals"]["schools"] == 5
    assert data["totals"]["students"] == small.students
    assert set(data["faults"]) == {k.value for k in FaultKind} - {"name_nfd"}
    assert set(data["normalised"]) == {"name_nfd"}


def test_progress_reports_each_school(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    write_oneroster(tmp_path, "tiny", progress=lambda done, total: calls.append((done, total)))

    assert calls == [(1, 2), (2, 2)]


# --- Files and manifest ---


def test_manifest_content(tiny: DemoSummary) -> None:
    with (tiny.package / "manifest.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    manifest = dict(rows[1:])

    assert rows[0] == ["propertyName", "value"]
    assert manifest["manifest.version"] == "1.0"
    assert manifest["oneroster.version"] == "1.2"
    assert manifest["source.systemName"] == "Demo city generator"
    bulk = {k.removeprefix("file.") for k, v in manifest.items() if v == "bulk"}
    assert bulk == set(BULK)
    assert {v for k, v in manifest.items() if k.startswith("file.")} == {"bulk", "absent"}
    assert "file.courses" in manifest
    assert "file.results" in manifest


@pytest.mark.parametrize("name", [*(f"{t}.csv" for t in BULK), "manifest.csv"])
def test_file_utf8_crlf_without_bom(tiny: DemoSummary, name: str) -> None:
    data = (tiny.package / name).read_bytes()

    assert not data.startswith(b"\xef\xbb\xbf")
    assert data.endswith(b"\r\n")
    assert data.count(b"\n") == data.count(b"\r\n")
    data.decode("utf-8")


def test_users_header_is_oneroster_1_2(tiny: DemoSummary) -> None:
    first_line = (tiny.package / "users.csv").read_bytes().decode("utf-8").split("\r\n")[0]

    assert first_line == USERS_1_2


@pytest.mark.parametrize("table", BULK)
def test_header_matches_writer(tiny: DemoSummary, table: str) -> None:
    with (tiny.package / f"{table}.csv").open(encoding="utf-8", newline="") as handle:
        assert tuple(next(csv.reader(handle))) == HEADERS[table]


def test_rewrite_replaces_package(tmp_path: Path) -> None:
    write_oneroster(tmp_path, "small")
    summary = write_oneroster(tmp_path, "tiny")

    assert len(read(tmp_path, "users")) == summary.files["users.csv"]
    assert len(read(tmp_path, "orgs")) == 3


# --- Content ---


def test_orgs_department_and_schools(small: DemoSummary) -> None:
    orgs = read(small.package, "orgs")
    department, schools = orgs[0], orgs[1:]

    assert department["type"] == "district"
    assert department["name"] == "Sở Giáo dục và Đào tạo thành phố Cần Thơ"
    assert {s["type"] for s in schools} == {"school"}
    assert {s["parentSourcedId"] for s in schools} == {department["sourcedId"]}
    assert any(s["identifier"].startswith("0") for s in schools)
    assert any(s["name"].startswith("Trường THPT ") for s in schools)


def test_sessions_year_and_semesters(tiny: DemoSummary) -> None:
    year, first, second = read(tiny.package, "academicSessions")

    assert (year["type"], year["schoolYear"]) == ("schoolYear", "2026")
    assert (year["startDate"], year["endDate"]) == ("2025-09-05", "2026-05-31")
    assert [first["title"], second["title"]] == ["Học kỳ I", "Học kỳ II"]
    assert {first["type"], second["type"]} == {"semester"}
    assert {first["parentSourcedId"], second["parentSourcedId"]} == {year["sourcedId"]}


def test_classes_homeroom_with_both_terms(small: DemoSummary) -> None:
    sessions = read(small.package, "academicSessions")
    terms = f"{sessions[1]['sourcedId']},{sessions[2]['sourcedId']}"
    classes = read(small.package, "classes")

    assert {c["classType"] for c in classes} == {"homeroom"}
    assert {c["termSourcedIds"] for c in classes} == {terms}
    assert {c["grades"] for c in classes} == {"PK", *(f"{g:02d}" for g in range(1, 13))}
    assert {"Lá 1", "6A1", "10A1"} <= {c["title"] for c in classes}


def test_every_user_has_role_and_demographics(small: DemoSummary) -> None:
    users = {u["sourcedId"] for u in read(small.package, "users")}
    roles = read(small.package, "roles")
    demographics = {d["sourcedId"] for d in read(small.package, "demographics")}

    assert {r["userSourcedId"] for r in roles} == users
    assert len(roles) == len(users)
    assert demographics == users
    assert {r["roleType"] for r in roles} == {"primary"}
    assert {r["role"] for r in roles} == {"student", "teacher", "principal"}


def test_roles_name_their_school(small: DemoSummary) -> None:
    primary_org = {u["sourcedId"]: u["primaryOrgSourcedId"] for u in read(small.package, "users")}

    for role in read(small.package, "roles"):
        assert role["orgSourcedId"] == primary_org[role["userSourcedId"]]


def test_only_staff_have_email_and_phone(small: DemoSummary) -> None:
    role = {r["userSourcedId"]: r["role"] for r in read(small.package, "roles")}
    for user in read(small.package, "users"):
        is_staff = role[user["sourcedId"]] != "student"
        assert bool(user["email"]) is is_staff
        assert bool(user["phone"]) is is_staff


def test_users_carry_password_and_text_ids(small: DemoSummary) -> None:
    users = read(small.package, "users")

    assert all(u["password"] for u in users)
    assert all(len(u["userMasterIdentifier"]) == 10 for u in users)
    assert any(u["userMasterIdentifier"].startswith("0") for u in users)
    assert all(re.fullmatch(r"(HS|GV)\d{5}", u["identifier"]) for u in users)


def test_birth_dates_match_grades(small: DemoSummary) -> None:
    grade = {u["sourcedId"]: u["grades"] for u in read(small.package, "users")}
    for row in read(small.package, "demographics"):
        code = grade[row["sourcedId"]]
        if not code or code == "PK" or "/" in row["birthDate"]:
            continue
        assert int(row["birthDate"][:4]) == 2020 - int(code), row["sourcedId"]


def test_enrollments_one_homeroom_per_student(small: DemoSummary) -> None:
    enrollments = read(small.package, "enrollments")
    students = [e["userSourcedId"] for e in enrollments if e["role"] == "student"]
    role = {r["userSourcedId"]: r["role"] for r in read(small.package, "roles")}

    assert Counter(students) == Counter(u for u, r in role.items() if r == "student")
    assert {e["primary"] for e in enrollments if e["role"] == "student"} == {"true"}
    assert {e["beginDate"] for e in enrollments} == {"2025-09-05"}


def test_each_class_has_primary_teacher(small: DemoSummary) -> None:
    enrollments = read(small.package, "enrollments")
    primary_teachers = Counter(
        e["classSourcedId"] for e in enrollments
        if e["role"] == "teacher" and e["primary"] == "true"
    )

    assert primary_teachers == Counter(c["sourcedId"] for c in read(small.package, "classes"))


# --- Faults ---


def _found(folder: Path) -> dict[str, int]:
    """Count each fault kind by looking at the files, independently of the summary."""
    users, demographics = read(folder, "users"), read(folder, "demographics")
    classes = {c["sourcedId"] for c in read(folder, "classes")}
    ids = Counter(u["sourcedId"] for u in users)
    return {
        "birth_date_not_iso": sum(
            bool(re.fullmatch(r"\d\d/\d\d/\d{4}", d["birthDate"])) for d in demographics),
        "sex_unknown": sum(d["sex"] not in ("male", "female") for d in demographics),
        "given_name_empty": sum(not u["givenName"] for u in users),
        "sourced_id_duplicate": sum(n - 1 for n in ids.values()),
        "status_invalid": sum(u["status"] != "active" for u in users),
        "enrollment_class_unknown": sum(
            e["classSourcedId"] not in classes for e in read(folder, "enrollments")),
        "name_nfd": sum(
            any(not unicodedata.is_normalized("NFC", u[c]) for c in NAME_COLUMNS) for u in users),
    }


@pytest.mark.parametrize("kind", [k.value for k in FaultKind])
def test_tiny_fault_present_and_counted(tiny: DemoSummary, kind: str) -> None:
    stated = {**tiny.faults, **tiny.normalised}

    assert stated[kind] >= 1
    assert _found(tiny.package)[kind] == stated[kind]


def test_small_faults_match_files(small: DemoSummary) -> None:
    found = _found(small.package)

    assert {k: found[k] for k in small.faults} == small.faults
    assert found["name_nfd"] == small.normalised["name_nfd"]
    assert all(count >= 1 for count in found.values())


def test_faults_near_rate_in_bigger_city(tmp_path: Path) -> None:
    """About 1% of people, plus the seven placed to have one of each kind."""
    city = replace(SIZES["medium"], schools={Level.PRIMARY: 4})
    summary = write_oneroster(tmp_path, city)
    people = summary.students + summary.staff
    injected = sum(summary.faults.values()) + sum(summary.normalised.values()) - len(FaultKind)

    assert 0.005 * people <= injected <= 0.02 * people


def test_duplicate_has_other_name(tiny: DemoSummary) -> None:
    by_id: dict[str, list[dict[str, str]]] = {}
    for user in read(tiny.package, "users"):
        by_id.setdefault(user["sourcedId"], []).append(user)
    first, second = next(rows for rows in by_id.values() if len(rows) > 1)

    assert [first[c] for c in NAME_COLUMNS] != [second[c] for c in NAME_COLUMNS]
    assert first["userMasterIdentifier"] == second["userMasterIdentifier"]


def test_names_nfc_except_injected(small: DemoSummary) -> None:
    texts = [o["name"] for o in read(small.package, "orgs")]
    texts += [c["title"] for c in read(small.package, "classes")]
    texts += [s["title"] for s in read(small.package, "academicSessions")]

    assert all(unicodedata.is_normalized("NFC", text) for text in texts)
    assert _found(small.package)["name_nfd"] == small.normalised["name_nfd"]


def test_zero_rate_writes_clean_package(tmp_path: Path, small: DemoSummary) -> None:
    clean = write_oneroster(tmp_path, "small", fault_rate=0)

    assert set(clean.faults.values()) == {0}
    assert set(_found(tmp_path).values()) == {0}
    assert len(read(tmp_path, "roles")) == len(read(small.package, "roles"))


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_fault_kinds_have_labels(lang: str) -> None:
    labels = catalogue(lang)

    assert [k for k in FaultKind if f"demo.fault.{k}" not in labels] == []


# --- Errors ---


def test_unknown_size_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        write_oneroster(tmp_path, "huge")

    assert caught.value.key == "demo.size_unknown"
    assert "tiny" in caught.value.message("en")


@pytest.mark.parametrize("rate", [-0.1, 1.5])
def test_rate_outside_range_rejected(tmp_path: Path, rate: float) -> None:
    with pytest.raises(ConfigurationError) as caught:
        write_oneroster(tmp_path, "tiny", fault_rate=rate)

    assert caught.value.key == "demo.fault_rate_invalid"


def test_unwritable_folder_is_permanent_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")

    with pytest.raises(PermanentError) as caught:
        write_oneroster(blocker / "package", "tiny")

    assert caught.value.key == "demo.write_failed"
    assert isinstance(caught.value.__cause__, OSError)


# --- Memory ---


def _traced_peak(run: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        run()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def test_memory_follows_school_not_city(tmp_path: Path) -> None:
    """Peak memory stays flat when the city has five times as many students.

    Method: two cities whose schools all have the same fixed shape (three
    grades of six classes of 40 pupils), one with one school and one with
    five. Every school is the same size, so a generator that keeps one school
    at a time peaks at the same height in both. A generator that kept the city
    in lists would need about five times the per-school memory in the second.
    A warm-up run first loads Faker's providers, so the traced peak covers only
    the run itself. The 1.5 bound leaves room for the summary's per-school
    entries and allocator noise. Keeping only the School objects of every
    school already makes the ratio about 1.8, so the test can fail.
    """
    shape = LevelShape((6, 6), (40, 40), 1.5, 10)
    one = replace(SIZES["medium"], name="one", schools={Level.UPPER_SECONDARY: 1},
                  shapes={Level.UPPER_SECONDARY: shape})
    five = replace(one, name="five", schools={Level.UPPER_SECONDARY: 5})
    write_oneroster(tmp_path / "warm-up", "tiny")

    peak_one = _traced_peak(lambda: write_oneroster(tmp_path / "one", one))
    peak_five = _traced_peak(lambda: write_oneroster(tmp_path / "five", five))

    assert peak_five <= 1.5 * peak_one, (peak_one, peak_five)

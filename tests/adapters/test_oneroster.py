"""The OneRoster CSV adapter on small packages written here, and on every real package."""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

import pytest

from adapters.base import Limits, Package, Scope, Stream
from adapters.oneroster import files
from adapters.oneroster.adapter import OneRosterAdapter
from adapters.oneroster.schoolyears import school_year_label
from gateway.errors import InputError
from tests.support import oneroster as pkg

PASSWORD = "Hunter2-secret"

ORGS = """sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId
org-1,active,2024-08-01,Trường THCS Một,school,,
org-2,active,2024-08-01,Trường THCS Hai,school,,
"""

SESSIONS = """sourcedId,status,dateLastModified,title,type,startDate,endDate,parentSourcedId,schoolYear
term-1,active,2024-08-01,HK1,semester,2023-09-05,2024-01-13,,2024
term-2,active,2024-08-01,HK2,semester,2024-01-15,2024-05-31,,2024
term-3,active,2024-08-01,HK1,semester,2024-09-05,2025-01-13,,2025
"""  # noqa: E501 (CSV rows as producers write them)

CLASSES = """sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,location,schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods
cls-1,active,2024-08-01,6A1,06,crs-6,6A1,homeroom,,org-1,term-1,,,
cls-2,active,2024-08-01,6A2,06,crs-6,6A2,homeroom,,org-1,"term-1,term-2",,,
cls-3,active,2024-08-01,6A3,06,crs-6,6A3,homeroom,,org-1,"term-1,term-3",,,
cls-4,active,2024-08-01,6A4,06,crs-6,6A4,homeroom,,org-1,term-9,,,
cls-5,active,2024-08-01,6A5,06,crs-6,6A5,homeroom,,org-1,,,,
"""  # noqa: E501 (CSV rows as producers write them)

USERS_12 = f"""sourcedId,status,dateLastModified,enabledUser,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password,userMasterIdentifier,preferredGivenName,preferredMiddleName,preferredFamilyName,primaryOrgSourcedId,pronouns
usr-1,active,2024-08-01,TRUE,lan,,Lan,Nguyễn,Thị,,,,,,,{PASSWORD},,,,,,
usr-2,active,2024-08-01,TRUE,an,,An,Trần,Văn,,,,,,06,{PASSWORD},,,,,org-2,
usr-3,active,2024-08-01,TRUE,binh,,Bình,Lê,,,,,,,,{PASSWORD},,,,,,
"""  # noqa: E501 (CSV rows as producers write them)

USERS_11 = f"""sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password
usr-1,active,2024-08-01,TRUE,"org-2,org-1",teacher,lan,,Lan,Nguyễn,Thị,,,,,,,{PASSWORD}
usr-2,active,2024-08-01,TRUE,org-1,student,an,,An,Trần,Văn,,,,,,06,{PASSWORD}
"""  # noqa: E501 (CSV rows as producers write them)

ROLES = """sourcedId,status,dateLastModified,userSourcedId,roleType,role,beginDate,endDate,orgSourcedId,userProfileSourcedId
rol-1,active,2024-08-01,usr-1,secondary,administrator,,,org-2,
rol-2,active,2024-08-01,usr-1,primary,teacher,,,org-1,
rol-3,active,2024-08-01,usr-2,primary,student,,,org-1,
rol-4,active,2024-08-01,usr-2,secondary,student,,,org-2,
rol-5,tobedeleted,2024-08-01,usr-3,primary,teacher,,,org-1,
rol-6,active,2024-08-01,usr-9,primary,student,,,org-1,
rol-7,active,2024-08-01,usr-8,primary,student,,,org-1,
"""  # noqa: E501 (CSV rows as producers write them)

DEMOGRAPHICS = """sourcedId,status,dateLastModified,birthDate,sex,americanIndianOrAlaskaNative,asian,blackOrAfricanAmerican,nativeHawaiianOrOtherPacificIslander,white,demographicRaceTwoOrMoreRaces,hispanicOrLatinoEthnicity,countryOfBirthCode,stateOfBirthAbbreviation,cityOfBirth,publicSchoolResidenceStatus
usr-2,active,2024-08-01,2012-03-04,female,,,,,,,,,,,
usr-7,active,2024-08-01,2011-05-06,male,,,,,,,,,,,
"""  # noqa: E501 (CSV rows as producers write them)

ENROLLMENTS = """sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate
enr-1,active,2024-08-01,cls-1,org-1,usr-2,student,false,,
enr-2,active,2024-08-01,cls-3,org-1,usr-2,student,false,,
enr-3,active,2024-08-01,cls-99,org-1,usr-2,student,false,,
"""  # noqa: E501 (CSV rows as producers write them)

USER_PROFILES = f"""sourcedId,status,dateLastModified,userSourcedId,profileType,vendorId,applicationId,description,credentialType,username,password
up-1,active,2024-08-01,usr-1,SYSTEM,v,,,login,lan,{PASSWORD}
"""  # noqa: E501 (CSV rows as producers write them)

CORE_12 = {
    "orgs.csv": ORGS, "academicSessions.csv": SESSIONS, "classes.csv": CLASSES,
    "users.csv": USERS_12, "enrollments.csv": ENROLLMENTS,
}
CORE_MODES = {name: "bulk" for name in files.STREAM_FILES}


def manifest_text(version: str = "1.2", modes: dict[str, str] | None = None) -> str:
    """Return a manifest declaring every file of ``version`` absent except those in ``modes``."""
    modes = modes or {}
    read_as = files.READ_AS.get(version, "1.2")
    names = sorted(files.KNOWN_FILES[read_as] | set(modes), key=str.casefold)
    lines = ["propertyName,value", "manifest.version,1.0", f"oneroster.version,{version}"]
    lines += [f"file.{name},{modes.get(name, 'absent')}" for name in names]
    lines += ["source.systemName,Test SIS", "source.systemCode,test"]
    return "\r\n".join(lines) + "\r\n"


def write_package(folder: Path, contents: dict[str, str], manifest: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if manifest is not None:
        (folder / "manifest.csv").write_text(manifest, encoding="utf-8")
    for name, text in contents.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def package_12(folder: Path, extra_modes: dict[str, str] | None = None, **contents: str) -> Path:
    modes = {**CORE_MODES, **(extra_modes or {})}
    return write_package(folder, {**CORE_12, **contents}, manifest_text("1.2", modes))


def read_all(path: Path) -> tuple[dict[str, Stream], dict[str, list[dict[str, str]]], Package]:
    """Read every stream of the package at ``path``; rows become dicts by header."""
    adapter = OneRosterAdapter()
    streams: dict[str, Stream] = {}
    rows: dict[str, list[dict[str, str]]] = {}
    with adapter.open(path, Limits()) as package:
        for stream in package.streams():
            streams[stream.name] = stream
            rows[stream.name] = [
                dict(zip(stream.headers, row.cells, strict=True))
                for row in stream.rows
                if row.cells is not None
            ]
    return streams, rows, package


def notice_keys(package: Package) -> list[tuple[str, str]]:
    return [(notice.level, notice.error.key) for notice in package.notices]


def by_id(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {row["sourcedId"]: row for row in rows}


# Manifest -------------------------------------------------------------------


def test_manifest_missing_raises(tmp_path: Path):
    folder = write_package(tmp_path / "p", CORE_12)

    with pytest.raises(InputError) as raised, OneRosterAdapter().open(folder, Limits()):
        pass

    assert raised.value.key == "oneroster.manifest_missing"


@pytest.mark.parametrize("name", ["lop-6a1.xlsx", "lop-6a1.xls", "lop-6a1.csv"])
def test_table_file_names_school_export(tmp_path: Path, name: str):
    path = tmp_path / name
    path.write_bytes(b"PK\x03\x04" if name.endswith(".xlsx") else "Mã HS,Họ và tên\n1,An\n".encode())

    with pytest.raises(InputError) as raised, OneRosterAdapter().open(path, Limits()):
        pass

    assert raised.value.key == "oneroster.table_file"


def test_single_oneroster_file_asks_for_package(tmp_path: Path):
    path = tmp_path / "users.csv"
    path.write_text(USERS_12, encoding="utf-8")

    with pytest.raises(InputError) as raised, OneRosterAdapter().open(path, Limits()):
        pass

    assert raised.value.key == "oneroster.single_file"


def test_folder_of_lists_names_school_export(tmp_path: Path):
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "Ghi chú.txt").write_text("xem các lớp", encoding="utf-8")
    (folder / "6A1.xlsx").write_bytes(b"PK\x03\x04")

    with pytest.raises(InputError) as raised, OneRosterAdapter().open(folder, Limits()):
        pass

    assert raised.value.key == "oneroster.manifest_missing_tables"
    assert raised.value.params["example"] == "6A1.xlsx"


def test_package_without_manifest_still_missing(tmp_path: Path):
    folder = write_package(tmp_path / "p", CORE_12)

    with pytest.raises(InputError) as raised, OneRosterAdapter().open(folder, Limits()):
        pass

    assert raised.value.key == "oneroster.manifest_missing"


def test_manifest_without_columns_raises(tmp_path: Path):
    folder = write_package(tmp_path / "p", CORE_12, "name,mode\nfile.users,bulk\n")

    with pytest.raises(InputError) as raised, OneRosterAdapter().open(folder, Limits()):
        pass

    assert raised.value.key == "oneroster.manifest_columns"


@pytest.mark.parametrize(
    ("manifest", "key"),
    [
        (
            "propertyName,value\nmanifest.version,2.0\noneroster.version,1.2\n",
            "oneroster.manifest_version_unsupported",
        ),
        (
            "propertyName,value\nmanifest.version,1.0\noneroster.version,1.3\n",
            "oneroster.version_unsupported",
        ),
        ("propertyName,value\nmanifest.version,1.0\n", "oneroster.manifest_property_missing"),
        (
            "propertyName,value\nmanifest.version,1.0\noneroster.version,1.2\noneroster.version,1.1\n",
            "oneroster.manifest_duplicate",
        ),
    ],
    ids=["manifest-version", "oneroster-version", "no-oneroster-version", "duplicate"],
)
def test_manifest_versions_checked(tmp_path: Path, manifest: str, key: str):
    folder = write_package(tmp_path / "p", CORE_12, manifest)

    with pytest.raises(InputError) as raised, OneRosterAdapter().open(folder, Limits()):
        pass

    assert raised.value.key == key


def test_manifest_bad_value_skips_file(tmp_path: Path):
    folder = package_12(tmp_path / "p", {"users": "full"})

    streams, _, package = read_all(folder)

    assert "users" not in streams
    assert "enrollments" in streams
    assert ("error", "oneroster.manifest_value_invalid") in notice_keys(package)
    assert package.description["files"]["users"] == "invalid"


def test_manifest_empty_value_read_as_absent(tmp_path: Path):
    folder = package_12(tmp_path / "p", {"enrollments": ""})

    streams, _, package = read_all(folder)

    assert "enrollments" not in streams
    assert notice_keys(package) == [
        ("warning", "oneroster.manifest_value_empty"),
        ("warning", "oneroster.file_declared_absent"),
    ]
    assert package.notices[0].error.params["file"] == "enrollments.csv"


def test_manifest_facts_in_description(tmp_path: Path):
    folder = package_12(tmp_path / "p")

    _, _, package = read_all(folder)

    assert package.description["oneroster_version"] == "1.2"
    assert package.description["manifest_version"] == "1.0"
    assert package.description["files"]["users"] == "bulk"
    assert package.description["files"]["results"] == "absent"
    assert package.description["source_system_name"] == "Test SIS"
    assert package.description["source_system_code"] == "test"


def test_version_10_read_as_11(tmp_path: Path):
    contents = {**CORE_12, "users.csv": USERS_11}
    folder = write_package(tmp_path / "p", contents, manifest_text("1.0", CORE_MODES))

    streams, rows, package = read_all(folder)

    assert list(streams) == ["orgs", "academicSessions", "classes", "users", "enrollments"]
    assert notice_keys(package) == [("warning", "oneroster.version_read_as")]
    assert package.description["read_as_version"] == "1.1"
    assert by_id(rows["users"])["usr-1"]["role"] == "teacher"


# Files ----------------------------------------------------------------------


def test_declared_file_missing_is_error_others_read(tmp_path: Path):
    folder = package_12(tmp_path / "p")
    (folder / "classes.csv").unlink()

    streams, rows, package = read_all(folder)

    assert list(streams) == ["orgs", "academicSessions", "users", "enrollments"]
    assert notice_keys(package) == [("error", "oneroster.file_missing")]
    assert package.notices[0].error.params == {"file": "classes.csv", "mode": "bulk"}
    assert all(row["schoolYear"] == "" for row in rows["enrollments"])


def test_present_file_declared_absent_not_read(tmp_path: Path):
    folder = package_12(tmp_path / "p")
    modes = {**CORE_MODES, "orgs": "absent"}
    (folder / "manifest.csv").write_text(manifest_text("1.2", modes), encoding="utf-8")

    streams, _, package = read_all(folder)

    assert "orgs" not in streams
    assert notice_keys(package) == [("warning", "oneroster.file_declared_absent")]


def test_present_file_not_listed_not_read(tmp_path: Path):
    folder = package_12(tmp_path / "p")
    (folder / "extra.csv").write_text("a,b\n1,2\n", encoding="utf-8")

    streams, _, package = read_all(folder)

    assert list(streams) == ["orgs", "academicSessions", "classes", "users", "enrollments"]
    assert notice_keys(package) == [("warning", "oneroster.file_not_listed")]
    assert package.notices[0].error.params["file"] == "extra.csv"


def test_unmapped_files_are_warned(tmp_path: Path):
    courses = (
        "sourcedId,status,dateLastModified,schoolYearSourcedId,title,courseCode,grades,"
        "orgSourcedId,subjects,subjectCodes\n"
    )
    folder = package_12(
        tmp_path / "p", {"courses": "bulk", "userProfiles": "delta"},
        **{"courses.csv": courses, "userProfiles.csv": USER_PROFILES},
    )

    streams, _, package = read_all(folder)

    assert list(streams) == ["orgs", "academicSessions", "classes", "users", "enrollments"]
    assert notice_keys(package) == [
        ("warning", "oneroster.file_not_mapped"),
        ("warning", "oneroster.file_not_mapped"),
    ]
    named = {notice.error.params["file"] for notice in package.notices}
    assert named == {"courses.csv", "userProfiles.csv"}


def test_duplicate_headers_skip_file(tmp_path: Path):
    classes = CLASSES.replace("location,", "Title,", 1)
    folder = package_12(tmp_path / "p", **{"classes.csv": classes})

    streams, rows, package = read_all(folder)

    assert "classes" not in streams
    assert "enrollments" in streams
    assert notice_keys(package) == [("error", "csv.duplicate_header")]
    assert all(row["schoolYear"] == "" for row in rows["enrollments"])


def test_missing_sourcedid_column_skips_file(tmp_path: Path):
    orgs = ORGS.replace("sourcedId,", "id,", 1)
    folder = package_12(tmp_path / "p", **{"orgs.csv": orgs})

    streams, _, package = read_all(folder)

    assert "orgs" not in streams
    assert notice_keys(package) == [("error", "oneroster.column_missing")]


def _write_bytes(folder: Path, name: str, data: bytes) -> None:
    (folder / name).write_bytes(data)


@pytest.mark.parametrize(("separator", "shown"), [(";", ";"), ("\t", "Tab")], ids=["semicolon", "tab"])
def test_other_separator_named_once(tmp_path: Path, separator: str, shown: str):
    # As Excel saves the file again: the list separator of the machine, quotes where needed.
    users = USERS_12.replace(",", separator)
    folder = package_12(tmp_path / "p", **{"users.csv": users})

    streams, rows, package = read_all(folder)

    assert "users" not in streams
    assert "enrollments" in streams
    assert notice_keys(package) == [("error", "csv.wrong_separator")]
    error = package.notices[0].error
    assert error.params == {"file": "users.csv", "separator": shown}
    assert package.notices[0].stream == "users"


def test_other_separator_in_join_file_named(tmp_path: Path):
    folder = package_12(tmp_path / "p", {"roles": "bulk"}, **{"roles.csv": ROLES.replace(",", ";")})

    streams, _, package = read_all(folder)

    assert "users" in streams
    assert notice_keys(package) == [("error", "csv.wrong_separator")]
    assert package.notices[0].error.params["file"] == "roles.csv"
    assert package.notices[0].stream is None


def test_manifest_with_semicolons_raises(tmp_path: Path):
    folder = write_package(tmp_path / "p", CORE_12, manifest_text("1.2", CORE_MODES).replace(",", ";"))

    with pytest.raises(InputError) as raised, OneRosterAdapter().open(folder, Limits()):
        pass

    assert raised.value.key == "csv.wrong_separator"
    assert raised.value.params["file"] == "manifest.csv"


def test_one_column_header_without_separator_is_missing_column(tmp_path: Path):
    folder = package_12(tmp_path / "p", **{"orgs.csv": "name\nTrường A\n"})

    _, _, package = read_all(folder)

    assert notice_keys(package) == [("error", "oneroster.column_missing")]


@pytest.mark.parametrize(("codec", "shown"), [
    ("cp1258", "Windows-1258"), ("utf-16", "UTF-16"), ("utf-16-le", "UTF-16"),
], ids=["cp1258", "utf16-bom", "utf16-le"])
def test_file_in_other_encoding_is_file_error(tmp_path: Path, codec: str, shown: str):
    folder = package_12(tmp_path / "p")
    _write_bytes(folder, "users.csv", pkg.cp1258(USERS_12) if codec == "cp1258" else USERS_12.encode(codec))

    streams, _, package = read_all(folder)

    assert "users" not in streams
    assert notice_keys(package) == [("error", "csv.not_utf8")]
    assert package.notices[0].error.params == {"file": "users.csv", "encoding": shown}
    assert package.notices[0].stream == "users"


def test_excel_semicolon_cp1258_names_both(tmp_path: Path):
    folder = package_12(tmp_path / "p")
    _write_bytes(folder, "users.csv", pkg.cp1258(USERS_12.replace(",", ";")))

    _, _, package = read_all(folder)

    assert notice_keys(package) == [("error", "csv.not_utf8_separator")]
    assert package.notices[0].error.params == {
        "file": "users.csv", "encoding": "Windows-1258", "separator": ";"}


def test_one_bad_line_stays_row_error(tmp_path: Path):
    """A UTF-8 file with one line pasted from a Windows-1258 program loses only that line."""
    bad_line = pkg.cp1258("usr-4,active,,TRUE,x,,Hương,Phạm,,,,,,,,,,,,,,\n")
    folder = package_12(tmp_path / "p")
    _write_bytes(folder, "users.csv", USERS_12.encode("utf-8") + bad_line)

    with OneRosterAdapter().open(folder, Limits()) as package:
        streams = package.streams()
        users_stream = next(s for s in streams if s.name == "users")
        read = list(users_stream.rows)

    assert notice_keys(package) == []
    assert [row.error.key if row.error else None for row in read] == [
        None, None, None, "csv.invalid_encoding"]


def test_long_utf8_file_not_flagged(tmp_path: Path):
    """A multi-byte letter cut at the end of the first chunk is not taken for another encoding."""
    row = "usr-{n},active,,TRUE,x,,Hương,Phạm,Thị,,,,,,,,,,,,,\n"
    body = "".join(row.format(n=n) for n in range(4, 3000))
    folder = package_12(tmp_path / "p")
    _write_bytes(folder, "users.csv", (USERS_12 + body).encode("utf-8"))

    _, rows, package = read_all(folder)

    assert notice_keys(package) == []
    assert len(rows["users"]) == 3 + 2996


def test_streams_in_dependency_order_with_modes(tmp_path: Path):
    modes = {**CORE_MODES, "users": "delta"}
    folder = write_package(tmp_path / "p", CORE_12, manifest_text("1.2", modes))

    streams, rows, _ = read_all(folder)

    assert list(streams) == ["orgs", "academicSessions", "classes", "users", "enrollments"]
    assert streams["users"].mode == "delta"
    assert streams["orgs"].mode == "bulk"
    assert all(stream.key_column == "sourcedId" for stream in streams.values())
    assert streams["classes"].file == "classes.csv"
    assert [len(rows[name]) for name in streams] == [2, 3, 5, 3, 3]


def test_package_in_zip_with_top_level_folder(tmp_path: Path):
    folder = package_12(tmp_path / "p")
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(folder.iterdir()):
            archive.write(file, f"Export 2024/{file.name}")

    streams, rows, package = read_all(path)

    assert list(streams) == ["orgs", "academicSessions", "classes", "users", "enrollments"]
    assert streams["users"].file == "Export 2024/users.csv"
    assert notice_keys(package) == []
    assert len(rows["users"]) == 3


# Passwords ------------------------------------------------------------------


def test_password_never_in_headers_or_cells(tmp_path: Path):
    folder = package_12(
        tmp_path / "p", {"userProfiles": "bulk"}, **{"userProfiles.csv": USER_PROFILES}
    )

    streams, rows, _ = read_all(folder)

    for stream in streams.values():
        assert "password" not in [header.casefold() for header in stream.headers]
    for name, table in rows.items():
        for row in table:
            assert PASSWORD not in row.values(), name


# Joins ----------------------------------------------------------------------


def test_roles_joined_into_users_12(tmp_path: Path):
    folder = package_12(tmp_path / "p", {"roles": "bulk"}, **{"roles.csv": ROLES})

    streams, rows, package = read_all(folder)
    users = by_id(rows["users"])

    assert "role" in streams["users"].headers
    assert users["usr-1"]["role"] == "teacher,administrator"
    assert users["usr-1"]["primaryOrgSourcedId"] == "org-1"
    assert users["usr-2"]["role"] == "student"
    assert users["usr-2"]["primaryOrgSourcedId"] == "org-2"
    assert users["usr-3"]["role"] == ""
    assert users["usr-3"]["primaryOrgSourcedId"] == ""
    assert notice_keys(package) == [("warning", "oneroster.roles_user_unknown")]
    assert package.notices[0].error.params == {"file": "roles.csv", "count": 2}


def test_roles_declared_but_missing_users_still_read(tmp_path: Path):
    folder = package_12(tmp_path / "p", {"roles": "bulk"})

    streams, rows, package = read_all(folder)

    assert "users" in streams
    assert notice_keys(package) == [("error", "oneroster.file_missing")]
    assert all(row["role"] == "" for row in rows["users"])


def test_roles_without_users_warned(tmp_path: Path):
    modes = {**CORE_MODES, "users": "absent", "roles": "bulk"}
    contents = {name: text for name, text in CORE_12.items() if name != "users.csv"}
    contents["roles.csv"] = ROLES
    folder = write_package(tmp_path / "p", contents, manifest_text("1.2", modes))

    streams, _, package = read_all(folder)

    assert "users" not in streams
    assert notice_keys(package) == [("warning", "oneroster.join_without_users")]


def test_demographics_joined_into_users(tmp_path: Path):
    folder = package_12(
        tmp_path / "p", {"demographics": "delta"}, **{"demographics.csv": DEMOGRAPHICS}
    )

    streams, rows, package = read_all(folder)
    users = by_id(rows["users"])

    assert streams["users"].headers[-2:] == ["birthDate", "sex"]
    assert users["usr-2"]["birthDate"] == "2012-03-04"
    assert users["usr-2"]["sex"] == "female"
    assert users["usr-1"]["birthDate"] == ""
    assert notice_keys(package) == [("warning", "oneroster.demographics_user_unknown")]
    assert package.notices[0].error.params["count"] == 1


def test_demographics_joined_from_zip(tmp_path: Path):
    # Roles and demographics are spooled side by side, the demographics in a forked
    # process that must open the zip file through a handle of its own.
    folder = package_12(
        tmp_path / "p", {"demographics": "bulk", "roles": "bulk"},
        **{"demographics.csv": DEMOGRAPHICS, "roles.csv": ROLES},
    )
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(folder.iterdir()):
            archive.write(file, file.name)

    streams, rows, package = read_all(path)
    users = by_id(rows["users"])

    assert users["usr-2"]["birthDate"] == "2012-03-04"
    assert users["usr-2"]["sex"] == "female"
    assert users["usr-1"]["role"] == "teacher,administrator"
    assert notice_keys(package) == [("warning", "oneroster.roles_user_unknown"),
                                    ("warning", "oneroster.demographics_user_unknown")]


def test_demographics_without_sourcedid_reported(tmp_path: Path):
    folder = package_12(
        tmp_path / "p", {"demographics": "bulk", "roles": "bulk"},
        **{"demographics.csv": "userId,birthDate\nusr-2,2012-03-04\n", "roles.csv": ROLES},
    )

    streams, rows, package = read_all(folder)

    errors = [n for n in package.notices if n.level == "error"]
    assert [n.error.key for n in errors] == ["oneroster.column_missing"]
    assert errors[0].error.params["file"] == "demographics.csv"
    assert by_id(rows["users"])["usr-2"]["birthDate"] == ""


def test_no_demographics_columns_without_file(tmp_path: Path):
    streams, _, _ = read_all(package_12(tmp_path / "p"))

    assert "birthDate" not in streams["users"].headers
    assert "sex" not in streams["users"].headers


def test_users_11_role_and_first_org(tmp_path: Path):
    contents = {**CORE_12, "users.csv": USERS_11}
    folder = write_package(tmp_path / "p", contents, manifest_text("1.1", CORE_MODES))

    streams, rows, package = read_all(folder)
    users = by_id(rows["users"])

    assert streams["users"].headers.count("role") == 1
    assert users["usr-1"]["role"] == "teacher"
    assert users["usr-1"]["primaryOrgSourcedId"] == "org-2"
    assert users["usr-2"]["primaryOrgSourcedId"] == "org-1"
    assert notice_keys(package) == []


def test_bad_user_row_passes_as_row_error(tmp_path: Path):
    users = USERS_12 + "usr-4,active,,TRUE,x,,X,Y,,,,,,,,,,,,,,,,extra,cells\n"
    contents = {"users.csv": users, "roles.csv": ROLES}
    folder = package_12(tmp_path / "p", {"roles": "bulk"}, **contents)

    with OneRosterAdapter().open(folder, Limits()) as package:
        streams = package.streams()
        users_stream = next(s for s in streams if s.name == "users")
        read = list(users_stream.rows)

    assert [row.line for row in read] == [2, 3, 4, 5]
    assert read[3].error is not None
    assert read[3].error.key == "csv.too_many_cells"
    assert read[3].cells is None
    role_index = users_stream.headers.index("role")
    assert read[0].cells is not None
    assert read[0].cells[role_index] == "teacher,administrator"


def test_streams_read_twice_give_same_rows(tmp_path: Path):
    folder = package_12(tmp_path / "p", {"roles": "bulk"}, **{"roles.csv": ROLES})

    with OneRosterAdapter().open(folder, Limits()) as package:
        first = [(s.name, [row.cells for row in s.rows]) for s in package.streams()]
        second = [(s.name, [row.cells for row in s.rows]) for s in package.streams()]

    assert first == second


def test_join_index_removed_at_close(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    folder = package_12(tmp_path / "p", {"roles": "bulk"}, **{"roles.csv": ROLES})

    spooled = []
    with OneRosterAdapter().open(folder, Limits()) as package:
        for stream in package.streams():
            list(stream.rows)
            if stream.name == "users":
                spooled = list(spool.iterdir())

    assert len(spooled) == 1
    assert list(spool.iterdir()) == []


# School years and scope -----------------------------------------------------


@pytest.mark.parametrize(
    ("value", "label"),
    [("2023", "2022-2023"), ("2022-2023", "2022-2023"), ("2022 - 2023", "2022-2023"),
     ("2022-2024", ""), ("", ""), ("23", ""), ("năm 2023", "")],
)
def test_school_year_label(value: str, label: str):
    assert school_year_label(value) == label


def test_school_year_of_classes_and_enrollments(tmp_path: Path):
    streams, rows, _ = read_all(package_12(tmp_path / "p"))
    classes = by_id(rows["classes"])
    enrollments = by_id(rows["enrollments"])

    assert streams["classes"].headers[-1] == "schoolYear"
    assert classes["cls-1"]["schoolYear"] == "2023-2024"
    assert classes["cls-2"]["schoolYear"] == "2023-2024"
    assert classes["cls-3"]["schoolYear"] == ""
    assert classes["cls-4"]["schoolYear"] == ""
    assert classes["cls-5"]["schoolYear"] == ""
    assert enrollments["enr-1"]["schoolYear"] == "2023-2024"
    assert enrollments["enr-2"]["schoolYear"] == ""
    assert enrollments["enr-3"]["schoolYear"] == ""


def test_bulk_scope_periods_from_sessions(tmp_path: Path):
    streams, _, _ = read_all(package_12(tmp_path / "p"))

    periods = frozenset({"2023-2024", "2024-2025"})
    assert streams["classes"].scope == Scope(periods=periods)
    assert streams["enrollments"].scope == Scope(periods=periods)
    assert streams["orgs"].scope == Scope()
    assert streams["users"].scope == Scope()
    assert streams["academicSessions"].scope == Scope()


def test_scope_empty_without_sessions_file(tmp_path: Path):
    modes = {**CORE_MODES, "academicSessions": "absent"}
    contents = {name: text for name, text in CORE_12.items() if name != "academicSessions.csv"}
    folder = write_package(tmp_path / "p", contents, manifest_text("1.2", modes))

    streams, rows, _ = read_all(folder)

    assert streams["classes"].scope == Scope(periods=frozenset())
    assert streams["enrollments"].scope == Scope(periods=frozenset())
    assert all(row["schoolYear"] == "" for row in rows["classes"])


def test_delta_streams_have_no_scope(tmp_path: Path):
    modes = {name: "delta" for name in CORE_MODES}
    folder = write_package(tmp_path / "p", CORE_12, manifest_text("1.2", modes))

    streams, _, _ = read_all(folder)

    assert streams["classes"].scope == Scope()
    assert streams["enrollments"].scope == Scope()


# Real packages --------------------------------------------------------------

MOODLE_COUNTS = {"orgs": 1, "academicSessions": 5, "classes": 2, "users": 6, "enrollments": 6}

REAL_PACKAGES = {
    "Test_full_data_set": (MOODLE_COUNTS, []),
    "Test_minimal_data_set": (MOODLE_COUNTS, []),
    "oneroster_test_data": (
        {"orgs": 1, "academicSessions": 1, "classes": 1, "users": 1, "enrollments": 1},
        [("warning", "oneroster.file_not_mapped", "courses.csv"),
         ("warning", "oneroster.file_not_mapped", "userProfiles.csv")],
    ),
    "v1p2_full_dataset": (
        MOODLE_COUNTS,
        [("warning", "oneroster.manifest_value_empty", "scoreScales.csv"),
         ("warning", "oneroster.manifest_value_empty", "userProfiles.csv"),
         ("warning", "oneroster.manifest_value_empty", "userResources.csv"),
         ("warning", "oneroster.file_declared_absent", "userprofiles.csv")],
    ),
}
REAL_PASSWORDS = ("Password1-", "Batman.Ru1ez")


def real_package_paths() -> list[tuple[str, str]]:
    """Return (package name, path under the realdata folder): each folder and its zip."""
    paths = []
    for name in REAL_PACKAGES:
        paths += [(name, name), (name, f"zips/{name}.zip")]
    return paths


REAL_PATHS = real_package_paths()
REAL_IDS = [relative for _, relative in REAL_PATHS]


@pytest.fixture
def oneroster_realdata(realdata_dir: Path) -> Path:
    return realdata_dir / "oneroster-moodle-catalyst"


@pytest.mark.realdata
@pytest.mark.parametrize(("name", "relative"), REAL_PATHS, ids=REAL_IDS)
def test_real_package_streams_and_notices(oneroster_realdata: Path, name: str, relative: str):
    counts, expected_notices = REAL_PACKAGES[name]

    streams, rows, package = read_all(oneroster_realdata / relative)

    assert list(streams) == list(counts)
    assert {stream: len(table) for stream, table in rows.items()} == counts
    assert [
        (notice.level, notice.error.key, notice.error.params["file"]) for notice in package.notices
    ] == expected_notices


@pytest.mark.realdata
@pytest.mark.parametrize(("name", "relative"), REAL_PATHS, ids=REAL_IDS)
def test_real_package_has_no_password(oneroster_realdata: Path, name: str, relative: str):
    adapter = OneRosterAdapter()

    with adapter.open(oneroster_realdata / relative, Limits()) as package:
        for stream in package.streams():
            assert "password" not in [header.casefold() for header in stream.headers]
            for row in stream.rows:
                assert row.error is None, (stream.name, row.line, row.error)
                assert row.cells is not None
                for value in row.cells:
                    assert value not in REAL_PASSWORDS
                    assert all(password not in value for password in REAL_PASSWORDS)


@pytest.mark.realdata
def test_real_v1p2_roles_and_quirks(oneroster_realdata: Path):
    streams, rows, _ = read_all(oneroster_realdata / "v1p2_full_dataset")
    users = by_id(rows["users"])

    assert users["usr-222-123456"]["role"] == "teacher,guardian"
    assert users["usr-222-1234561"]["role"] == "siteAdministrator"
    assert users["usr-222-66778899"]["primaryOrgSourcedId"] == "org-sch-222-456"
    # Misspelled headers are kept as written, for the mapping's synonyms.
    assert "prefferedGivenName" in streams["users"].headers
    assert users["usr-222-123456"]["dateLastModified"] == "1/05/2023"
    assert by_id(rows["classes"])["cls-222-123456"]["grades"] == "09,10,11"
    assert streams["classes"].scope == Scope(periods=frozenset({"2022-2023"}))


@pytest.mark.realdata
def test_real_delta_package_joins(oneroster_realdata: Path):
    streams, rows, package = read_all(oneroster_realdata / "zips" / "oneroster_test_data.zip")
    user = rows["users"][0]

    assert all(stream.mode == "delta" for stream in streams.values())
    assert user["role"] == "student"
    assert user["primaryOrgSourcedId"] == "ORG_1"
    assert user["birthDate"] == "2010-04-17"
    assert user["sex"] == ""
    assert package.description["source_system_name"] == "DataGen"
    assert streams["classes"].scope == Scope()


@pytest.mark.realdata
def test_real_11_users_keep_role_column(oneroster_realdata: Path):
    streams, rows, _ = read_all(oneroster_realdata / "Test_full_data_set")
    users = by_id(rows["users"])

    assert streams["users"].headers.count("role") == 1
    assert users["usr-222-1234561"]["role"] == "parent"
    assert users["usr-222-1234561"]["primaryOrgSourcedId"] == "org-sch-222-456"
    assert by_id(rows["enrollments"])["enr-s-222-12345-987532"]["schoolYear"] == "2022-2023"

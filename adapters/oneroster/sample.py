"""A small OneRoster 1.2 bulk package, written for the adapter contract tests and for demos.

The files carry the quirks the adapter must handle. They have a byte order
mark, CRLF and LF line ends in one file, quoted multi-value and multi-line
cells, and decomposed (NFD) Vietnamese text with outer spaces. Their password
columns hold values that must never leave the adapter.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

SAMPLE_FOLDER = "oneroster-sample"
# Planted in the password columns; no cell read from the sample may contain it.
SAMPLE_PASSWORD = "Sample-Secret-1"  # noqa: S105 (test data, not a credential)

_MANIFEST = """propertyName,value
manifest.version,1.0
oneroster.version,1.2
file.academicSessions,bulk
file.categories,absent
file.classes,bulk
file.classResources,absent
file.courses,absent
file.courseResources,absent
file.demographics,bulk
file.enrollments,bulk
file.lineItemLearningObjectiveIds,absent
file.lineItems,absent
file.lineItemScoreScales,absent
file.orgs,bulk
file.resources,absent
file.resultLearningObjectiveIds,absent
file.results,absent
file.resultScoreScales,absent
file.roles,bulk
file.scoreScales,absent
file.userProfiles,absent
file.userResources,absent
file.users,bulk
source.systemName,Sample SIS
source.systemCode,sample
"""

_ORGS = """sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId
org-dept,active,2024-08-01,Sở Giáo dục và Đào tạo,district,,
org-school-1,active,2024-08-01,"  Trường THPT Châu Văn Liêm\u00a0",school,79000701,org-dept
"""

_SESSIONS = """\
sourcedId,status,dateLastModified,title,type,startDate,endDate,parentSourcedId,schoolYear
as-2024,active,2024-08-01,Năm học 2023-2024,schoolYear,2023-09-05,2024-05-31,,2024
as-2024-hk1,active,2024-08-01,Học kỳ I,semester,2023-09-05,2024-01-13,as-2024,2024
as-2024-hk2,active,2024-08-01,Học kỳ II,semester,2024-01-15,2024-05-31,as-2024,2024
"""

_CLASSES = (
    "sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,"
    "location,schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods\r\n"
    'cls-10a1,active,2024-08-01,"Lớp 10A1\nchuyên Toán",10,crs-10,10A1,homeroom,P.201,'
    'org-school-1,"as-2024-hk1,as-2024-hk2","Toán, Vật lý",,1\n'
    "cls-11b2,active,2024-08-01,Lớp 11B2,11,crs-11,11B2,homeroom,P.305,org-school-1,"
    "as-2024-hk1,,,\r\n"
)

_USERS = (
    "sourcedId,status,dateLastModified,enabledUser,username,userIds,givenName,familyName,"
    "middleName,identifier,email,sms,phone,agentSourcedIds,grades,password,userMasterIdentifier,"
    "preferredGivenName,preferredMiddleName,preferredFamilyName,primaryOrgSourcedId,pronouns\n"
    f"usr-t1,active,2024-08-01,TRUE,lan.nguyen,,Lan,Nguyễn,Thị,GV001,lan@example.edu.vn,,,,,"
    f"{SAMPLE_PASSWORD},,,,,org-school-1,\n"
    f"usr-s1,active,2024-08-01,TRUE,an.tran,\"{{LDAP:1}},{{SIS:7}}\",An,Trần,Văn,HS001,,,,usr-p1,10,"
    f"{SAMPLE_PASSWORD},,,,,,\n"
    f"usr-p1,active,2024-08-01,TRUE,binh.tran,,Bình,Trần,Quốc,,,,,,,{SAMPLE_PASSWORD},,,,,,\n"
)

_ROLES = """\
sourcedId,status,dateLastModified,userSourcedId,roleType,role,beginDate,endDate,orgSourcedId,\
userProfileSourcedId
rol-1,active,2024-08-01,usr-t1,primary,teacher,,,org-school-1,
rol-2,active,2024-08-01,usr-s1,primary,student,,,org-school-1,
rol-3,active,2024-08-01,usr-p1,primary,parent,,,org-school-1,
rol-4,active,2024-08-01,usr-t1,secondary,administrator,,,org-school-1,
"""

_DEMOGRAPHICS = (
    "sourcedId,status,dateLastModified,birthDate,sex,americanIndianOrAlaskaNative,asian,"
    "blackOrAfricanAmerican,nativeHawaiianOrOtherPacificIslander,white,"
    "demographicRaceTwoOrMoreRaces,hispanicOrLatinoEthnicity,countryOfBirthCode,"
    "stateOfBirthAbbreviation,cityOfBirth,publicSchoolResidenceStatus\n"
    "usr-s1,active,2024-08-01,2009-03-14,male,,,,,,,,VN,,Cần Thơ,\n"
)

_ENROLLMENTS = """\
sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,\
beginDate,endDate
enr-1,active,2024-08-01,cls-10a1,org-school-1,usr-t1,teacher,true,,
enr-2,active,2024-08-01,cls-10a1,org-school-1,usr-s1,student,false,,
"""


def write_sample(directory: Path) -> Path:
    """Write the sample package into a new folder under ``directory`` and return that folder."""
    folder = Path(directory) / SAMPLE_FOLDER
    folder.mkdir(parents=True, exist_ok=False)
    _write(folder / "manifest.csv", _MANIFEST.replace("\n", "\r\n"))
    # Byte order mark, CRLF, and a name in decomposed form with outer spaces.
    _write(folder / "orgs.csv", "\ufeff" + _decomposed(_ORGS).replace("\n", "\r\n"))
    _write(folder / "academicSessions.csv", _SESSIONS)
    _write(folder / "classes.csv", _CLASSES)
    _write(folder / "users.csv", _decomposed(_USERS))
    _write(folder / "roles.csv", _ROLES)
    _write(folder / "demographics.csv", _DEMOGRAPHICS)
    _write(folder / "enrollments.csv", _ENROLLMENTS)
    return folder


def _decomposed(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def _write(path: Path, text: str) -> None:
    path.write_bytes(text.encode("utf-8"))

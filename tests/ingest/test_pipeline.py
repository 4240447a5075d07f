"""Ingest end to end on both engines: stage, compare, guard, apply, and the change log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.errors import RunStateError
from gateway.ingest import service
from gateway.store.changelog import horizon, read_changes
from gateway.store.models import Alias, ChangeEvent, Quarantine, Record, Run
from tests.support import oneroster as pkg
from tests.support.store import StoreHandle


def ingest(store: StoreHandle, folder: Path, source: str = "school-a") -> service.RunReport:
    return service.ingest(store.db, store.settings, folder, "oneroster", source)


def active(entity: str) -> int:
    return Record.select().where((Record.entity == entity) & (Record.state == "active")).count()


def decisions(report: service.RunReport, entity: str) -> dict[str, int]:
    return report.counts["decisions"].get(entity, {})


def test_first_load_inserts_every_entity(store: StoreHandle, tmp_path: Path) -> None:
    report = ingest(store, pkg.write_package(tmp_path / "p", pkg.city(students=5)))
    assert report.state == "succeeded"
    assert active("organization") == 1
    assert active("academic_session") == 1
    assert active("class") == 1
    assert active("student") == 5
    assert active("enrollment") == 5
    assert horizon() == 13
    assert ChangeEvent.select().count() == 13


def test_reingest_writes_nothing(store: StoreHandle, tmp_path: Path) -> None:
    folder = pkg.write_package(tmp_path / "p", pkg.city(students=5))
    ingest(store, folder)
    before = horizon()
    report = ingest(store, folder)
    assert horizon() == before
    for entity, counts in report.counts["decisions"].items():
        assert set(counts) == {"unchanged"}, entity


def test_changed_row_gives_one_update(store: StoreHandle, tmp_path: Path) -> None:
    tables = pkg.city(students=5)
    ingest(store, pkg.write_package(tmp_path / "a", tables))
    tables["users"][2]["givenName"] = "Bình"
    report = ingest(store, pkg.write_package(tmp_path / "b", tables))
    assert decisions(report, "student") == {"unchanged": 4, "update": 1}
    event = ChangeEvent.select().order_by(ChangeEvent.seq.desc()).first()
    assert event.op == "update"
    assert json.loads(event.data)["given_name"] == "Bình"


def test_absent_from_bulk_ends_record(store: StoreHandle, tmp_path: Path) -> None:
    tables = pkg.city(students=5)
    ingest(store, pkg.write_package(tmp_path / "a", tables))
    del tables["users"][4]
    del tables["enrollments"][4]
    report = ingest(store, pkg.write_package(tmp_path / "b", tables))
    assert decisions(report, "student")["end"] == 1
    assert active("student") == 4
    ended = Record.get((Record.entity == "student") & (Record.local_id == "u5"))
    assert ended.state == "ended"


def test_unreadable_row_keeps_absent_records(store: StoreHandle, tmp_path: Path) -> None:
    tables = pkg.city(students=5)
    ingest(store, pkg.write_package(tmp_path / "a", tables))
    del tables["users"][4]
    del tables["enrollments"][4]
    folder = pkg.write_package(tmp_path / "b", tables)
    # The lost pupil's row, now with more cells than the header: its key cannot be read.
    too_wide = ",".join(["u5"] + ["x"] * (len(pkg.HEADERS["users"]) + 2))
    with (folder / "users.csv").open("a", encoding="utf-8", newline="") as handle:
        handle.write(too_wide + "\r\n")
    report = ingest(store, folder)
    assert decisions(report, "student").get("end", 0) == 0
    assert active("student") == 5
    assert report.counts["stage"]["rejected"] == {"csv.too_many_cells": 1}
    held_back = [n for n in report.notices if n["error"] == "ingest.absent_not_ended_rows"]
    assert len(held_back) == 1
    assert "student" in held_back[0]["params"]["entities"].split(", ")
    assert held_back[0]["params"]["count"] == 1
    # The enrollments stream was read in full, so its absent enrollment still ends.
    assert decisions(report, "enrollment")["end"] == 1


def test_row_without_id_keeps_absent_records(store: StoreHandle, tmp_path: Path) -> None:
    tables = pkg.city(students=3, schools=2)
    ingest(store, pkg.write_package(tmp_path / "a", tables))
    # The second class's row lost its id: it may be the row of the stored class "c2".
    tables["classes"][1]["sourcedId"] = ""
    report = ingest(store, pkg.write_package(tmp_path / "b", tables))
    assert decisions(report, "class").get("end", 0) == 0
    assert Record.get((Record.entity == "class") & (Record.local_id == "c2")).state == "active"
    held_back = [n for n in report.notices if n["error"] == "ingest.absent_not_ended_no_id"]
    assert len(held_back) == 1
    assert held_back[0]["params"]["entities"] == "class"
    assert held_back[0]["params"]["count"] == 1


def test_absent_from_delta_keeps_record(store: StoreHandle, tmp_path: Path) -> None:
    tables = pkg.city(students=3)
    ingest(store, pkg.write_package(tmp_path / "a", tables))
    delta = {"users": [tables["users"][0]]}
    report = ingest(store, pkg.write_package(tmp_path / "b", delta, mode="delta"))
    assert report.state == "succeeded"
    assert active("student") == 3


# The file still lists the pupil's enrollment, unchanged or changed, but it cannot stand
# without the pupil.
@pytest.mark.parametrize("primary", ["true", "false"])
def test_tobedeleted_ends_record(store: StoreHandle, tmp_path: Path, primary: str) -> None:
    tables = pkg.city(students=3)
    ingest(store, pkg.write_package(tmp_path / "a", tables))
    tables["users"][0]["status"] = "tobedeleted"
    tables["enrollments"][0]["primary"] = primary
    report = ingest(store, pkg.write_package(tmp_path / "b", tables))
    assert decisions(report, "student")["end"] == 1
    assert active("student") == 2
    assert report.counts["stage"]["rejected"] == {}
    assert decisions(report, "enrollment") == {"end": 1, "unchanged": 2}
    assert active("enrollment") == 2


def test_rejected_row_does_not_end_existing(store: StoreHandle, tmp_path: Path) -> None:
    tables = pkg.city(students=3)
    ingest(store, pkg.write_package(tmp_path / "a", tables))
    tables["users"][1]["givenName"] = ""
    report = ingest(store, pkg.write_package(tmp_path / "b", tables))
    assert report.counts["stage"]["rejected"] == {"mapping.required_missing": 1}
    assert active("student") == 3
    rejected = Quarantine.get(Quarantine.run == report.run_id)
    assert (rejected.file, rejected.row, rejected.column, rejected.field) == \
        ("users.csv", 3, "givenName", "given_name")


def test_password_never_reaches_quarantine(store: StoreHandle, tmp_path: Path) -> None:
    tables = pkg.city(students=2)
    tables["users"][0]["givenName"] = ""
    report = ingest(store, pkg.write_package(tmp_path / "a", tables))
    raw = Quarantine.get(Quarantine.run == report.run_id).cells
    assert "Secret-1" not in raw
    assert "password" not in raw.lower()


def test_duplicate_local_id_keeps_first(store: StoreHandle, tmp_path: Path) -> None:
    tables = pkg.city(students=3)
    tables["users"].append(pkg.student("u1", "s1", given="Khác"))
    report = ingest(store, pkg.write_package(tmp_path / "a", tables))
    assert report.counts["stage"]["rejected"] == {"ingest.duplicate_local_id": 1}
    kept = Record.get((Record.entity == "student") & (Record.local_id == "u1"))
    assert json.loads(kept.data)["given_name"] == "An1"
    rejected = Quarantine.get(Quarantine.run == report.run_id)
    assert (rejected.file, rejected.column, rejected.field) == ("users.csv", "sourcedId", "local_id")


def test_guard_holds_mass_end_until_approved(store: StoreHandle, tmp_path: Path) -> None:
    settings = store.settings.with_overrides({"guard": {"min_existing": 5, "max_change_ratio": 0.2}})
    tables = pkg.city(students=10)
    service.ingest(store.db, settings, pkg.write_package(tmp_path / "a", tables), "oneroster", "s")
    tables["users"] = tables["users"][:5]
    tables["enrollments"] = tables["enrollments"][:5]
    report = service.ingest(store.db, settings, pkg.write_package(tmp_path / "b", tables), "oneroster", "s")
    assert report.state == "held"
    assert report.guard["entities"]["student"] == {"existing": 10, "changed": 5, "ratio": 0.5, "trips": True}
    assert active("student") == 10
    approved = service.approve(store.db, settings, report.run_id, "admin")
    assert approved.state == "succeeded"
    assert active("student") == 5
    assert Run.get_by_id(report.run_id).approved_by == "admin"


def test_first_load_never_trips_guard(store: StoreHandle, tmp_path: Path) -> None:
    settings = store.settings.with_overrides({"guard": {"min_existing": 0, "max_change_ratio": 0.01}})
    folder = pkg.write_package(tmp_path / "a", pkg.city(students=20))
    report = service.ingest(store.db, settings, folder, "oneroster", "s")
    assert report.state == "succeeded"


def test_approve_refuses_succeeded_run(store: StoreHandle, tmp_path: Path) -> None:
    report = ingest(store, pkg.write_package(tmp_path / "a", pkg.city(students=2)))
    with pytest.raises(RunStateError):
        service.approve(store.db, store.settings, report.run_id, "admin")


def test_snapshot_scope_keeps_other_years(store: StoreHandle, tmp_path: Path) -> None:
    last_year = pkg.city(students=3, school_year="2025")
    ingest(store, pkg.write_package(tmp_path / "a", last_year))
    this_year = pkg.city(students=3, school_year="2026")
    for row in this_year["classes"]:
        row["sourcedId"] += "-2026"
    for row in this_year["enrollments"]:
        row["sourcedId"] += "-2026"
        row["classSourcedId"] += "-2026"
    report = ingest(store, pkg.write_package(tmp_path / "b", this_year))
    assert report.state == "succeeded"
    assert active("class") == 2
    assert active("enrollment") == 6
    assert active("academic_session") == 1


def test_feed_pinned_bound_gives_each_record_once(store: StoreHandle, tmp_path: Path) -> None:
    tables = pkg.city(students=4)
    ingest(store, pkg.write_package(tmp_path / "a", tables))
    tables["users"][0]["givenName"] = "Bình"
    ingest(store, pkg.write_package(tmp_path / "b", tables))
    bound = horizon()
    seen: list[int] = []
    after = 0
    while True:
        page = read_changes(after=after, limit=3, bound=bound)
        seen.extend(e.record_id for e in page.events)
        after = page.next_after
        if page.complete:
            break
    assert len(seen) == len(set(seen)) == Record.select().count()
    updated = Record.get((Record.entity == "student") & (Record.local_id == "u1"))
    latest = ChangeEvent.get(ChangeEvent.record_id == updated.id, ChangeEvent.op == "update")
    assert latest.seq <= bound


def test_ministry_id_links_two_sources(store: StoreHandle, tmp_path: Path) -> None:
    first = pkg.city(students=1)
    first["users"][0]["identifier"] = "HS-1"
    ingest(store, pkg.write_package(tmp_path / "a", first), source="vendor-a")
    student = Record.get(Record.entity == "student")
    assert json.loads(student.data)["local_code"] == "HS-1"


def _one_pupil(sourced_id: str, ministry_id: str, birth_date: str) -> dict[str, list[dict[str, str]]]:
    tables = pkg.city(students=1)
    tables["users"][0].update(sourcedId=sourced_id, userMasterIdentifier=ministry_id)
    for enrollment in tables["enrollments"]:
        enrollment["userSourcedId"] = sourced_id
    tables["demographics"] = [{"sourcedId": sourced_id, "birthDate": birth_date, "sex": "female"}]
    return tables


@pytest.fixture
def owned(store: StoreHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Record:
    """Return the record of one pupil with a Ministry id, stored by the source vendor-a."""
    monkeypatch.setitem(pkg.HEADERS, "users", [*pkg.HEADERS["users"], "userMasterIdentifier"])
    monkeypatch.setitem(pkg.HEADERS, "demographics", ["sourcedId", "status", "birthDate", "sex"])
    ingest(store, pkg.write_package(tmp_path / "a", _one_pupil("u1", "0123456789", "2015-03-04")),
           source="vendor-a")
    return Record.get((Record.entity == "student") & (Record.local_id == "u1"))


def test_identifier_link_needs_same_birth_date(store: StoreHandle, tmp_path: Path,
                                               owned: Record) -> None:
    first = owned

    other = ingest(store, pkg.write_package(tmp_path / "b", _one_pupil("x9", "0123456789", "2016-01-01")),
                   source="vendor-b")
    same = ingest(store, pkg.write_package(tmp_path / "c", _one_pupil("z5", "0123456789", "2015-03-04")),
                  source="vendor-c")

    assert other.counts["stage"]["rejected"]["ingest.identifier_mismatch"] == 1
    rejected = Quarantine.get((Quarantine.run == other.run_id)
                              & (Quarantine.reason == "ingest.identifier_mismatch"))
    assert (rejected.file, rejected.field) == ("users.csv", "birth_date")
    assert json.loads(rejected.params)["other_source"] == "vendor-a"
    assert "2015-03-04" not in rejected.params
    assert decisions(same, "student") == {"alias": 1}
    linked = {a.value for a in Alias.select().where(Alias.record == first.id)}
    assert "z5" in linked
    assert "x9" not in linked


def test_identifier_link_compares_names_loosely(store: StoreHandle, tmp_path: Path, owned: Record,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(store.settings.data["identity"], "confirm_fields", ["birth_date", "given_name"])
    same = _one_pupil("z5", "0123456789", "2015-03-04")
    same["users"][0]["givenName"] = "ÁN1"  # the stored given name is "An1"
    other = _one_pupil("x9", "0123456789", "2015-03-04")
    other["users"][0]["givenName"] = "Bình1"

    linked = ingest(store, pkg.write_package(tmp_path / "b", same), source="vendor-b")
    rejected = ingest(store, pkg.write_package(tmp_path / "c", other), source="vendor-c")

    assert decisions(linked, "student") == {"alias": 1}
    assert rejected.counts["stage"]["rejected"]["ingest.identifier_mismatch"] == 1
    assert Quarantine.get(Quarantine.run == rejected.run_id).field == "given_name"


def test_outranked_change_counted_once(store: StoreHandle, tmp_path: Path, owned: Record) -> None:
    linked = _one_pupil("z5", "0123456789", "2015-03-04")
    ingest(store, pkg.write_package(tmp_path / "b", linked), source="vendor-c")
    again = ingest(store, pkg.write_package(tmp_path / "c", linked), source="vendor-c")
    before = horizon()
    linked["users"][0]["givenName"] = "Bình"

    changed = ingest(store, pkg.write_package(tmp_path / "d", linked), source="vendor-c")
    repeated = ingest(store, pkg.write_package(tmp_path / "e", linked), source="vendor-c")

    assert decisions(again, "student") == {"unchanged": 1}
    assert decisions(changed, "student") == {"outranked": 1}
    assert decisions(repeated, "student") == {"unchanged": 1}
    assert horizon() == before
    assert Record.get_by_id(owned.id).data == owned.data


def test_link_without_content_hash_learns_it(store: StoreHandle, tmp_path: Path,
                                             owned: Record) -> None:
    # A link stored before aliases kept content hashes has none: the next run records it.
    linked = _one_pupil("z5", "0123456789", "2015-03-04")
    ingest(store, pkg.write_package(tmp_path / "b", linked), source="vendor-c")
    Alias.update(content_hash=None).execute()
    linked["users"][0]["givenName"] = "Bình"

    learned = ingest(store, pkg.write_package(tmp_path / "c", linked), source="vendor-c")
    linked["users"][0]["givenName"] = "Châu"
    changed = ingest(store, pkg.write_package(tmp_path / "d", linked), source="vendor-c")

    assert decisions(learned, "student") == {"unchanged": 1}
    assert decisions(changed, "student") == {"outranked": 1}


def test_unknown_class_rejects_enrollment(store: StoreHandle, tmp_path: Path) -> None:
    tables = pkg.city(students=3)
    tables["enrollments"][0]["classSourcedId"] = "no-such-class"
    report = ingest(store, pkg.write_package(tmp_path / "a", tables))
    assert report.counts["stage"]["rejected"] == {"ingest.reference_unknown": 1}
    assert active("enrollment") == 2
    rejected = Quarantine.get(Quarantine.run == report.run_id)
    assert (rejected.file, rejected.row, rejected.field) == ("enrollments.csv", 2, "class_ref")
    assert rejected.column == "classSourcedId"


def test_rejected_class_rejects_its_enrollments(store: StoreHandle, tmp_path: Path) -> None:
    tables = pkg.city(students=3)
    tables["classes"][0]["classType"] = "lecture"
    report = ingest(store, pkg.write_package(tmp_path / "a", tables))
    assert report.counts["stage"]["rejected"] == {"mapping.code_not_accepted": 1,
                                                   "ingest.reference_rejected": 3}
    follow_on = Quarantine.get((Quarantine.run == report.run_id)
                               & (Quarantine.reason == "ingest.reference_rejected"))
    assert json.loads(follow_on.params)["target_file"] == "classes.csv"
    assert json.loads(follow_on.params)["target_row"] == 2
    assert active("enrollment") == 0


def test_entity_with_every_row_rejected_listed(store: StoreHandle, tmp_path: Path) -> None:
    tables = pkg.city(students=3)
    tables["classes"][0]["sourcedId"] = ""
    report = ingest(store, pkg.write_package(tmp_path / "a", tables))
    assert decisions(report, "class") == {}
    assert "class" in report.counts["decisions"]
    assert report.counts["stage"]["rejected_by_entity"] == {"class": 1, "enrollment": 3}


def test_approved_run_keeps_rejected_entity(store: StoreHandle, tmp_path: Path) -> None:
    settings = store.settings.with_overrides({"guard": {"min_existing": 5, "max_change_ratio": 0.2}})
    tables = pkg.city(students=10)
    first = {name: rows for name, rows in tables.items() if name not in ("classes", "enrollments")}
    service.ingest(store.db, settings, pkg.write_package(tmp_path / "a", first), "oneroster", "s")
    tables["users"] = tables["users"][:5]
    tables["enrollments"] = tables["enrollments"][:5]
    tables["classes"][0]["sourcedId"] = ""
    held = service.ingest(store.db, settings, pkg.write_package(tmp_path / "b", tables), "oneroster", "s")
    assert held.state == "held"
    assert held.counts["decisions"]["class"] == {}
    approved = service.approve(store.db, settings, held.run_id, "admin")
    assert approved.counts["decisions"]["class"] == {}
    assert approved.counts["stage"]["rejected_by_entity"]["class"] == 1


def test_dangling_reference_keeps_stored_record(store: StoreHandle, tmp_path: Path) -> None:
    tables = pkg.city(students=3)
    ingest(store, pkg.write_package(tmp_path / "a", tables))
    tables["enrollments"][0]["classSourcedId"] = "no-such-class"
    report = ingest(store, pkg.write_package(tmp_path / "b", tables))
    assert report.changes == 0
    assert active("enrollment") == 3


def test_delta_deletion_row_needs_only_id(store: StoreHandle, tmp_path: Path) -> None:
    tables = pkg.city(students=2)
    ingest(store, pkg.write_package(tmp_path / "a", tables))
    deletion = {"users": [{"sourcedId": "u1", "status": "tobedeleted"}]}
    report = ingest(store, pkg.write_package(tmp_path / "b", deletion, mode="delta"))
    assert report.counts["stage"]["rejected"] == {}
    assert decisions(report, "student") == {"end": 1}
    assert active("student") == 1
    # The row names no role, but only a pupil has its id: no staff member is counted.
    assert "staff" not in report.counts["decisions"]
    assert report.counts["stage"]["ends_requested"] == {"student": 1}
    # The delta leaves out the pupil's enrollment, which cannot stand without the pupil.
    assert decisions(report, "enrollment") == {"end": 1}
    assert active("enrollment") == 1
    ended = [n for n in report.notices if n["error"] == "ingest.ended_with_reference"]
    assert [(n["params"]["entities"], n["params"]["count"]) for n in ended] == [("enrollment", 1)]


def test_school_year_range_accepted(store: StoreHandle, tmp_path: Path) -> None:
    tables = pkg.city(students=1)
    tables["academicSessions"][0]["schoolYear"] = "2025-2026"
    report = ingest(store, pkg.write_package(tmp_path / "a", tables))
    assert report.counts["stage"]["rejected"] == {}
    session = Record.get(Record.entity == "academic_session")
    assert json.loads(session.data)["school_year"] == "2025-2026"


def test_busy_source_fails_new_run(store: StoreHandle, tmp_path: Path) -> None:
    from gateway.ingest import runs

    holder = runs.new_run("ingest", "busy", "oneroster", None)
    runs.claim_source(store.db, holder, lease_seconds=300)
    folder = pkg.write_package(tmp_path / "a", pkg.city(students=1))
    with pytest.raises(RunStateError):
        service.ingest(store.db, store.settings, folder, "oneroster", "busy")
    states = [r.state for r in Run.select().order_by(Run.id)]
    assert states == ["staging", "failed"]


def test_identical_repeat_is_not_rejected(store: StoreHandle, tmp_path: Path) -> None:
    tables = pkg.city(students=2)
    tables["users"].append(dict(tables["users"][0]))
    report = ingest(store, pkg.write_package(tmp_path / "a", tables))
    assert report.counts["stage"]["rejected"] == {}
    assert active("student") == 2


def link_notices(report: service.RunReport) -> list[dict]:
    return [n for n in report.notices if n["error"] == "ingest.link_differs"]


def test_link_with_other_name_warns(store: StoreHandle, tmp_path: Path, owned: Record,
                                    caplog: pytest.LogCaptureFixture) -> None:
    other = _one_pupil("z5", "0123456789", "2015-03-04")
    other["users"][0]["givenName"] = "Bình"
    other["demographics"][0]["sex"] = "male"

    with caplog.at_level("INFO"):
        report = ingest(store, pkg.write_package(tmp_path / "b", other), source="vendor-b")

    assert decisions(report, "student") == {"alias": 1}
    [notice] = link_notices(report)
    assert notice["level"] == "warning"
    assert notice["params"]["count"] == 1
    assert notice["params"]["differing_fields"] == "full_name, gender"
    assert notice["params"]["record_ids"] == f"#{owned.id}"
    assert notice["params"]["places"] == "users.csv: 2"
    assert "Bình" not in json.dumps(notice, ensure_ascii=False)
    assert "Bình" not in caplog.text
    assert "(full_name)" in notice["message"]
    assert Record.get_by_id(owned.id).data == owned.data


def test_link_differing_in_tone_placement_is_quiet(store: StoreHandle, tmp_path: Path,
                                                   owned: Record) -> None:
    first = _one_pupil("u7", "0777", "2015-03-04")
    first["users"][0].update(middleName="Thị Hoà", givenName="Thuỷ")
    ingest(store, pkg.write_package(tmp_path / "a7", first), source="vendor-a7")
    same = _one_pupil("z7", "0777", "2015-03-04")
    same["users"][0].update(familyName="NGUYỄN", middleName="thị  hòa", givenName="THỦY")

    report = ingest(store, pkg.write_package(tmp_path / "b7", same), source="vendor-b7")

    assert decisions(report, "student") == {"alias": 1}
    assert link_notices(report) == []


def test_link_warning_counts_rows_and_names_three(store: StoreHandle, tmp_path: Path,
                                                  owned: Record) -> None:
    tables = pkg.city(students=4)
    for number, user in enumerate(tables["users"], start=1):
        user["userMasterIdentifier"] = f"0800{number}"
    tables["demographics"] = [{"sourcedId": u["sourcedId"], "birthDate": "2015-03-04", "sex": "female"}
                              for u in tables["users"]]
    ingest(store, pkg.write_package(tmp_path / "a", tables), source="vendor-a4")
    for user in tables["users"]:
        user["sourcedId"] = "x" + user["sourcedId"]
        user["givenName"] = "Khác"
    for row in tables["demographics"]:
        row["sourcedId"] = "x" + row["sourcedId"]
    for row in tables["enrollments"]:
        row["userSourcedId"] = "x" + row["userSourcedId"]

    report = ingest(store, pkg.write_package(tmp_path / "b", tables), source="vendor-b4")

    assert decisions(report, "student") == {"alias": 4}
    [notice] = link_notices(report)
    assert notice["params"]["count"] == 4
    assert notice["params"]["differing_fields"] == "full_name"
    assert len(notice["params"]["record_ids"].split(", ")) == 3
    assert notice["params"]["places"].count("users.csv") == 3


def test_link_warning_off_without_warn_fields(store: StoreHandle, tmp_path: Path, owned: Record,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(store.settings.data["identity"], "warn_fields", [])
    other = _one_pupil("z5", "0123456789", "2015-03-04")
    other["users"][0]["givenName"] = "Bình"

    report = ingest(store, pkg.write_package(tmp_path / "b", other), source="vendor-b")

    assert decisions(report, "student") == {"alias": 1}
    assert link_notices(report) == []


@pytest.mark.parametrize(("mine", "other", "differ"), [
    ("Nguyễn Thị Hoà", "NGUYỄN  thị hòa", False),
    ("Lê Văn", "Lê Vân", True),
    ("2015-03-04", "2015-03-05", True),
    ("female", None, False),
], ids=["tone-case-space", "other-letter", "date", "one-missing"])
def test_identity_values_differ(mine: str, other: str | None, differ: bool) -> None:
    from gateway.ingest.compare import _identity_values_differ

    assert _identity_values_differ(mine, other) is differ

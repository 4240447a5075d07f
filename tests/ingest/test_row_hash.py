"""The row hash: a re-ingest maps only the rows that changed, and still compares every row."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from gateway.demo import write_vendor_csv1258
from gateway.ingest import service, stage
from gateway.store.changelog import horizon
from gateway.store.models import Quarantine, Record
from tests.support import oneroster as pkg
from tests.support.store import StoreHandle


def ingest(store: StoreHandle, folder: Path, source: str = "school-a") -> service.RunReport:
    return service.ingest(store.db, store.settings, folder, "oneroster", source)


def students() -> list[Record]:
    return list(Record.select().where(Record.entity == "student").order_by(Record.local_id))


def test_row_hash_stored_per_record(store: StoreHandle, tmp_path: Path) -> None:
    ingest(store, pkg.write_package(tmp_path / "p", pkg.city(students=3)))
    hashes = [r.row_hash for r in Record.select()]
    assert all(hashes)
    assert len(set(hashes)) == len(hashes)


def test_row_hash_unchanged_rows_not_mapped(store: StoreHandle, tmp_path: Path,
                                            mapped_rows: list[str]) -> None:
    tables = pkg.city(students=5)
    ingest(store, pkg.write_package(tmp_path / "a", tables))
    first = len(mapped_rows)
    mapped_rows.clear()
    tables["users"][2]["givenName"] = "Bình"
    report = ingest(store, pkg.write_package(tmp_path / "b", tables))
    assert first == 13
    assert mapped_rows == ["student"]
    assert report.counts["decisions"]["student"] == {"unchanged": 4, "update": 1}
    assert report.counts["stage"]["staged"]["student"] == 5


def test_row_hash_new_release_maps_all(store: StoreHandle, tmp_path: Path,
                                       mapped_rows: list[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    folder = pkg.write_package(tmp_path / "p", pkg.city(students=3))
    ingest(store, folder)
    mapped_rows.clear()
    # A new gateway release may transform differently, so the digest of the context changes.
    monkeypatch.setattr(stage, "__version__", "0.0.0-other")
    before = horizon()
    report = ingest(store, folder)
    assert len(mapped_rows) == 9
    assert horizon() == before
    assert set(report.counts["decisions"]["student"]) == {"unchanged"}


def test_row_hash_new_package_maps_all(store: StoreHandle, tmp_path: Path,
                                       mapped_rows: list[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    folder = pkg.write_package(tmp_path / "p", pkg.city(students=3))
    ingest(store, folder)
    mapped_rows.clear()
    # The 2025 units come from the vietnam-provinces package: a new release may change them.
    installed = stage.metadata.version
    monkeypatch.setattr(stage.metadata, "version",
                        lambda name: "9999.1" if name == "vietnam-provinces" else installed(name))
    ingest(store, folder)
    assert len(mapped_rows) == 9


def test_row_hash_learned_when_missing(store: StoreHandle, tmp_path: Path,
                                       mapped_rows: list[str]) -> None:
    folder = pkg.write_package(tmp_path / "p", pkg.city(students=3))
    ingest(store, folder)
    learned = {r.id: r.row_hash for r in Record.select()}
    # As a store written before row hashes were kept.
    Record.update(row_hash=None).execute()
    before = horizon()
    ingest(store, folder)
    assert horizon() == before
    assert {r.id: r.row_hash for r in Record.select()} == learned
    mapped_rows.clear()
    ingest(store, folder)
    assert mapped_rows == []


def test_row_hash_ended_record_remapped(store: StoreHandle, tmp_path: Path) -> None:
    tables = pkg.city(students=3)
    ingest(store, pkg.write_package(tmp_path / "a", tables))
    removed_user, removed_enrollment = tables["users"].pop(), tables["enrollments"].pop()
    ingest(store, pkg.write_package(tmp_path / "b", tables))
    assert [r.state for r in students()] == ["active", "active", "ended"]
    tables["users"].append(removed_user)
    tables["enrollments"].append(removed_enrollment)
    report = ingest(store, pkg.write_package(tmp_path / "c", tables))
    assert report.counts["decisions"]["student"] == {"unchanged": 2, "update": 1}
    assert [r.state for r in students()] == ["active", "active", "active"]


def test_row_hash_skipped_row_keeps_identifier(store: StoreHandle, tmp_path: Path,
                                               mapped_rows: list[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(pkg.HEADERS, "users", [*pkg.HEADERS["users"], "userMasterIdentifier"])
    tables = pkg.city(students=2)
    tables["users"][0]["userMasterIdentifier"] = "0123456789"
    ingest(store, pkg.write_package(tmp_path / "a", tables))
    newcomer = dict(tables["users"][1], sourcedId="u9", userMasterIdentifier="0123456789")
    tables["users"].append(newcomer)
    mapped_rows.clear()
    report = ingest(store, pkg.write_package(tmp_path / "b", tables))
    # The first row was not mapped again, but its Ministry id still makes the later row a duplicate.
    assert mapped_rows == ["student"]
    assert report.counts["stage"]["rejected"] == {"ingest.duplicate_ministry_id": 1}
    rejected = Quarantine.get(Quarantine.reason == "ingest.duplicate_ministry_id")
    assert rejected.row == 4
    assert rejected.column == "userMasterIdentifier"


def test_row_hash_list_export_maps_rejected(store: StoreHandle, tmp_path: Path,
                                            mapped_rows: list[str]) -> None:
    summary = write_vendor_csv1258(tmp_path / "csv", "tiny", 2025)
    first = service.ingest(store.db, store.settings, summary.package, "school-export", "lists")
    mapped_first = Counter(mapped_rows)
    mapped_rows.clear()
    second = service.ingest(store.db, store.settings, summary.package, "school-export", "lists")
    # Every pupil row names its school and class: they share the row hash of the stored
    # school and class, so none of them is mapped again. Only the rows whose record was
    # rejected (for its own values or a dangling reference) are mapped again, and the pupil
    # rows stored without their address or ethnic group, so that every run warns about them.
    # Each of those rows lost one field only.
    rejected = second.counts["decisions"]
    assert second.counts["stage"]["dropped"] == {"student.address": 2, "student.ethnicity_code": 1}
    dropped = sum(second.counts["stage"]["dropped"].values())
    assert mapped_first == {"organization": 37, "class": 37, "student": 37, "enrollment": 37}
    assert Counter(mapped_rows) == {"student": rejected["student"]["seen"] + dropped,
                                    "enrollment": rejected["enrollment"]["seen"]}
    assert rejected["student"]["seen"] == 3
    assert rejected["organization"] == {"unchanged": 2, "repeat": 35}
    assert first.changes > 0
    assert second.changes == 0

"""Schema versions in the store, on both engines: migrate on write, migrate stored records, read.

The shipped OneRoster mappings carry no address, and the mapping format cannot build an
object from columns yet, so the tests that need version-1 input with an address import a
mapping whose ``address`` is a constant. Stored version-1 records are made by writing a
version-1 state into records that an ingest stored, as a store from before student@2 holds.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from playhouse.migrate import SchemaMigrator

from gateway import schema_versions
from gateway.ingest import service
from gateway.ingest.stage import content_hash
from gateway.mapping.registry import import_shipped, list_versions
from gateway.mapping.spec import MAPPING_DIR, canonical_json
from gateway.records import migrate_records, read_record, records_for_review
from gateway.store.changelog import horizon
from gateway.store.migrations import CURRENT_VERSION, SCHEMA_VERSION_KEY, migrate, store_version
from gateway.store.models import ChangeEvent, Record, SeenRecord, StagedRecord, StoreMeta
from tests.support import oneroster as pkg
from tests.support.store import StoreHandle

ROOT = Path(__file__).resolve().parents[2]
GATEWAY = [sys.executable, "-c", "from gateway.cli.main import main; main()"]
UNITS = ("old_commune_code,new_province_code,new_commune_code\n"
         "31117,92,31120\n31178,92,31120\n31178,92,31168\n")


def old_address(commune: str) -> dict[str, str]:
    return {"province_code": "92", "district_code": "916", "commune_code": commune,
            "detail": "Số 1 Lê Lợi"}


@pytest.fixture
def units(store: StoreHandle) -> Iterator[None]:
    """A small correspondence table in the store's home, configured for this process."""
    (store.home / "units.csv").write_text(UNITS, encoding="utf-8")
    # service.ingest configures conversions from the settings it is given.
    store.settings = store.settings.with_overrides({"codelists": {"unit_correspondence": "units.csv"}})
    schema_versions.configure(store.settings)
    yield
    schema_versions.configure(None)


def import_address_mapping(folder: Path, address: dict[str, str]) -> None:
    """Import a student@1 mapping that gives every student ``address``, as the newest version."""
    number = 1 + max(v.number for v in list_versions("oneroster") if v.entity == "student")
    document = yaml.safe_load((MAPPING_DIR / "oneroster" / "student" / "v1.yaml").read_text("utf-8"))
    document["version"] = number
    document["schema_version"] = 1
    document["fields"]["address"] = {"const": address}
    path = folder / "mappings" / "oneroster" / "student" / f"v{number}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    import_shipped([path], state="active")


def ingest(store: StoreHandle, tables: dict[str, Any], name: str = "p") -> service.RunReport:
    folder = pkg.write_package(store.home / name, tables)
    report = service.ingest(store.db, store.settings, folder, "oneroster", "school-a")
    assert report.state == "succeeded", report.as_dict()
    return report


def student(local_id: str) -> Record:
    return Record.get((Record.entity == "student") & (Record.local_id == local_id))


def store_at_v1(local_id: str, address: dict[str, str] | None) -> None:
    """Write a version-1 state into a stored student, as a gateway before student@2 stored it."""
    record = student(local_id)
    data = json.loads(record.data)
    data.pop("address", None)
    if address is not None:
        data["address"] = address
    document = canonical_json(data)
    Record.update(schema_version=1, data=document, content_hash=content_hash(1, document),
                  review=None).where(Record.id == record.id).execute()


# -- migrate on write ------------------------------------------------------------------------------


def test_v1_input_stored_at_v2(store: StoreHandle, units: None) -> None:
    import_address_mapping(store.home, old_address("31117"))

    ingest(store, pkg.city(students=3))

    record = student("u1")
    event = ChangeEvent.get(ChangeEvent.record_id == record.id)
    assert record.schema_version == 2
    assert json.loads(record.data)["address"] == {
        "province_code": "92", "commune_code": "31120", "detail": "Số 1 Lê Lợi"
    }
    assert record.review is None
    assert record.content_hash == content_hash(2, record.data)
    assert (event.schema_version, event.data) == (2, record.data)


def test_reingest_of_v1_input_unchanged(store: StoreHandle, units: None) -> None:
    import_address_mapping(store.home, old_address("31178"))
    ingest(store, pkg.city(students=3), "a")
    before = horizon()

    report = ingest(store, pkg.city(students=3), "b")

    assert horizon() == before
    assert report.counts["decisions"]["student"] == {"unchanged": 3}


def test_split_on_ingest_marks_review(store: StoreHandle, units: None) -> None:
    import_address_mapping(store.home, old_address("31178"))

    ingest(store, pkg.city(students=3))

    record = student("u2")
    review = json.loads(record.review)
    assert json.loads(record.data)["address"] == {"province_code": "92", "detail": "Số 1 Lê Lợi"}
    assert review["reason"] == "schema.review.commune_split"
    assert review["params"]["candidates"] == ["31120", "31168"]
    assert StagedRecord.select().count() == 0


def test_review_list_names_ids_only(store: StoreHandle, units: None) -> None:
    import_address_mapping(store.home, old_address("31178"))
    ingest(store, pkg.city(students=3))

    listed = records_for_review("student")

    assert [row["local_id"] for row in listed] == ["u1", "u2", "u3"]
    assert set(listed[0]) == {"record_id", "entity", "source", "local_id", "schema_version",
                              "reason", "params", "message"}
    assert "An1" not in json.dumps(listed, ensure_ascii=False)
    assert "31120, 31168" in listed[0]["message"]


def test_later_update_clears_review(store: StoreHandle, units: None) -> None:
    import_address_mapping(store.home, old_address("31178"))
    ingest(store, pkg.city(students=3), "a")
    import_address_mapping(store.home, old_address("31117"))

    report = ingest(store, pkg.city(students=3), "b")

    assert report.counts["decisions"]["student"] == {"update": 3}
    assert student("u1").review is None
    assert json.loads(student("u1").data)["address"]["commune_code"] == "31120"
    assert records_for_review() == []


# -- migrating stored records ----------------------------------------------------------------------


def load_v1_store(store: StoreHandle) -> None:
    """Five students stored at version 1: one mapped, one split, one unknown, one bare, one ended."""
    tables = pkg.city(students=5)
    ingest(store, tables, "a")
    del tables["users"][4]
    del tables["enrollments"][4]
    ingest(store, tables, "b")
    store_at_v1("u1", old_address("31117"))
    store_at_v1("u2", old_address("31178"))
    store_at_v1("u3", old_address("31999"))
    store_at_v1("u4", None)
    store_at_v1("u5", old_address("31117"))


def test_stored_v1_records_migrated(store: StoreHandle, units: None) -> None:
    load_v1_store(store)
    before = horizon()

    result = migrate_records(store.db, "student", chunk_size=2)

    assert result.migrated == {"student": 4}
    assert result.review == {"schema.review.commune_split": 1, "schema.review.commune_unknown": 1}
    assert horizon() == before + 4
    events = list(ChangeEvent.select().where(ChangeEvent.seq > before).order_by(ChangeEvent.seq))
    assert [e.op for e in events] == ["update"] * 4
    assert [e.record_id for e in events] == [student(f"u{n}").id for n in range(1, 5)]
    for event in events:
        record = Record.get_by_id(event.record_id)
        assert (record.schema_version, record.last_seq) == (2, event.seq)
        assert (event.schema_version, event.data, event.content_hash) == (
            2, record.data, record.content_hash)
        assert record.content_hash == content_hash(2, record.data)
    assert json.loads(student("u1").data)["address"]["commune_code"] == "31120"
    assert json.loads(student("u3").review)["reason"] == "schema.review.commune_unknown"
    assert student("u4").review is None


def test_ended_record_left_at_its_version(store: StoreHandle, units: None) -> None:
    load_v1_store(store)

    migrate_records(store.db)

    ended = student("u5")
    assert (ended.state, ended.schema_version) == ("ended", 1)
    assert read_record(ended.id)["requested"]["data"]["address"]["commune_code"] == "31120"


def test_second_migration_writes_nothing(store: StoreHandle, units: None) -> None:
    load_v1_store(store)
    migrate_records(store.db)
    before, events = horizon(), ChangeEvent.select().count()

    result = migrate_records(store.db)

    assert result.migrated == {}
    assert horizon() == before
    assert ChangeEvent.select().count() == events


def test_migrated_store_reingests_unchanged(store: StoreHandle, units: None) -> None:
    tables = pkg.city(students=3)
    ingest(store, tables, "a")
    for number in range(1, 4):
        store_at_v1(f"u{number}", None)
    migrate_records(store.db)
    before = horizon()

    report = ingest(store, tables, "b")

    assert horizon() == before
    assert report.counts["decisions"]["student"] == {"unchanged": 3}


def test_failed_chunk_leaves_earlier_chunks(store: StoreHandle, units: None) -> None:
    load_v1_store(store)
    broken = student("u3")
    Record.update(data="{not json").where(Record.id == broken.id).execute()
    before = horizon()

    # The unreadable record takes the place of a kill: its chunk (u3, u4) rolls back whole.
    with pytest.raises(ValueError):
        migrate_records(store.db, "student", chunk_size=2)

    assert horizon() == before + 2
    assert [student(f"u{n}").schema_version for n in range(1, 5)] == [2, 2, 1, 1]
    Record.update(data=broken.data).where(Record.id == broken.id).execute()
    assert migrate_records(store.db, "student", chunk_size=2).migrated == {"student": 2}
    assert horizon() == before + 4


def test_v1_view_of_v2_record(store: StoreHandle, units: None) -> None:
    import_address_mapping(store.home, old_address("31117"))
    ingest(store, pkg.city(students=1))

    shown = read_record(student("u1").id, 1)

    assert shown["stored"]["schema_version"] == 2
    assert shown["requested"]["schema_version"] == 1
    assert "address" in shown["stored"]["data"]
    assert "address" not in shown["requested"]["data"]
    assert shown["requested"]["data"]["local_id"] == "u1"


# -- the store step and the commands ---------------------------------------------------------------


def test_store_step_3_adds_staged_review(store: StoreHandle) -> None:
    table = StagedRecord._meta.table_name
    with store.db.atomic():
        SchemaMigrator.from_database(store.db).drop_column(table, "review").run()
        StoreMeta.update(value="2").where(StoreMeta.key == SCHEMA_VERSION_KEY).execute()

    assert migrate(store.db) == (2, CURRENT_VERSION)
    assert store_version(store.db) == CURRENT_VERSION
    assert "review" in {column.name for column in store.db.get_columns(table)}
    assert migrate(store.db) == (CURRENT_VERSION, CURRENT_VERSION)


def test_store_step_4_adds_row_hashes(store: StoreHandle) -> None:
    with store.db.atomic():
        migrator = SchemaMigrator.from_database(store.db)
        store.db.execute_sql(f"DROP INDEX {Record._meta.table_name}_row_hash_source_state_entity")
        for model in (Record, StagedRecord):
            migrator.drop_column(model._meta.table_name, "row_hash").run()
        StoreMeta.update(value="3").where(StoreMeta.key == SCHEMA_VERSION_KEY).execute()

    assert migrate(store.db) == (3, CURRENT_VERSION)
    for model in (Record, StagedRecord):
        assert "row_hash" in {column.name for column in store.db.get_columns(model._meta.table_name)}
    indexes = {index.name for index in store.db.get_indexes(Record._meta.table_name)}
    # Step 7 replaces step 4's index with one that covers the stager's lookup.
    assert f"{Record._meta.table_name}_row_hash_source_state_entity" in indexes
    assert f"{Record._meta.table_name}_row_hash" not in indexes
    assert migrate(store.db) == (CURRENT_VERSION, CURRENT_VERSION)


def test_store_step_7_adds_seen_records(store: StoreHandle) -> None:
    table = Record._meta.table_name
    with store.db.atomic():
        store.db.drop_tables([SeenRecord])
        store.db.execute_sql(f"DROP INDEX {table}_row_hash_source_state_entity")
        store.db.execute_sql(f"CREATE INDEX {table}_row_hash ON {table} (row_hash)")
        StoreMeta.update(value="6").where(StoreMeta.key == SCHEMA_VERSION_KEY).execute()

    assert migrate(store.db) == (6, CURRENT_VERSION)
    assert store.db.table_exists(SeenRecord._meta.table_name)
    indexes = {index.name for index in store.db.get_indexes(table)}
    assert f"{table}_row_hash_source_state_entity" in indexes
    assert f"{table}_row_hash" not in indexes


def test_store_step_9_adds_keep_fields(store: StoreHandle) -> None:
    table = StagedRecord._meta.table_name
    with store.db.atomic():
        SchemaMigrator.from_database(store.db).drop_column(table, "keep_fields").run()
        StoreMeta.update(value="8").where(StoreMeta.key == SCHEMA_VERSION_KEY).execute()

    assert migrate(store.db) == (8, CURRENT_VERSION)
    assert "keep_fields" in {column.name for column in store.db.get_columns(table)}
    assert migrate(store.db) == (CURRENT_VERSION, CURRENT_VERSION)


def test_store_step_5_partial_indexes(store: StoreHandle) -> None:
    table = StagedRecord._meta.table_name
    with store.db.atomic():
        for name in ("ministry_id", "personal_id"):
            store.db.execute_sql(f"DROP INDEX {table}_run_id_entity_{name}")
            store.db.execute_sql(f"CREATE INDEX {table}_run_id_entity_{name} "
                                 f"ON {table} (run_id, entity, {name})")
        StoreMeta.update(value="4").where(StoreMeta.key == SCHEMA_VERSION_KEY).execute()

    assert migrate(store.db) == (4, CURRENT_VERSION)
    indexes = {index.name: index.sql for index in store.db.get_indexes(table)}
    assert f"{table}_run_id_id" in indexes
    for name in ("ministry_id", "personal_id"):
        assert f"{name} IS NOT NULL" in indexes[f"{table}_run_id_entity_{name}"].replace('"', "")


def gateway(store: StoreHandle, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    environment.update({"GATEWAY_HOME": str(store.home), "GATEWAY_STORE__URL": store.url,
                        "GATEWAY_CODELISTS__UNIT_CORRESPONDENCE": "units.csv"})
    result = subprocess.run([*GATEWAY, *args], capture_output=True, text=True, env=environment,
                            cwd=ROOT, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_records_commands(store: StoreHandle, units: None) -> None:
    load_v1_store(store)
    record_id = student("u1").id

    first = json.loads(gateway(store, "--json", "records", "migrate", "--entity", "student").stdout)
    second = json.loads(gateway(store, "--json", "records", "migrate").stdout)
    review = gateway(store, "--lang", "en", "records", "review").stdout
    shown = gateway(store, "--lang", "en", "records", "show", str(record_id),
                    "--schema-version", "1").stdout

    assert first["migrated"] == {"student": 4}
    assert second["migrated"] == {}
    assert "Records waiting for review: 2 (showing 2)" in review
    assert "u2: Old unit 31178 was split between several new communes (31120, 31168)" in review
    assert "An2" not in review
    assert re.search(r"^  commune code of the address \(address\.commune_code\) +31120 ", shown,
                     re.MULTILINE), shown
    assert ("Not in the version-1 view: commune code of the address (address.commune_code), "
            "house number, street or hamlet of the address (address.detail), "
            "province code of the address (address.province_code).") in shown


def test_show_unknown_record_fails(store: StoreHandle) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    environment.update({"GATEWAY_HOME": str(store.home), "GATEWAY_STORE__URL": store.url})

    result = subprocess.run([*GATEWAY, "--lang", "en", "records", "show", "999"], capture_output=True,
                            text=True, env=environment, cwd=ROOT, timeout=120, check=False)

    assert result.returncode == 1
    assert "No record 999" in result.stderr

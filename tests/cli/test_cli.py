"""The gateway command as a user runs it: a real subprocess, a scratch home, SQLite."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.mapping.spec import shipped_mapping_files
from gateway.store.migrations import CURRENT_VERSION
from tests.support import oneroster as pkg

GATEWAY = [sys.executable, "-m", "gateway.cli.main"]


def run(home: Path, *args: str, expect: int = 0,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    environment.update({"GATEWAY_HOME": str(home), **(env or {})})
    result = subprocess.run([*GATEWAY, *args], capture_output=True, text=True, env=environment,
                            timeout=120, check=False)
    assert result.returncode == expect, result.stdout + result.stderr
    return result


@pytest.fixture
def home(tmp_path: Path) -> Path:
    run(tmp_path, "init", "--no-dev-keys")
    return tmp_path


def test_init_reports_store_and_mappings(tmp_path: Path) -> None:
    result = run(tmp_path, "--json", "init", "--no-dev-keys")
    document = json.loads(result.stdout)
    assert document["store_version"] == {"before": 0, "after": CURRENT_VERSION}
    assert document["mappings"]["new"] == len(shipped_mapping_files())


def test_ingest_json_then_no_changes(home: Path) -> None:
    folder = pkg.write_package(home / "pkg", pkg.city(students=4))
    first = json.loads(run(home, "ingest", str(folder), "--adapter", "oneroster", "--json").stdout)
    assert first["state"] == "succeeded"
    assert first["changes"] == 11
    second = json.loads(run(home, "ingest", str(folder), "--adapter", "oneroster", "--json").stdout)
    assert second["changes"] == 0
    assert second["source"] == "oneroster:pkg"


def test_source_from_file_name_noted(home: Path) -> None:
    sheet = home / "ds-tuan-1.csv"
    sheet.write_text("Mã trường,Tên trường,Lớp,Mã học sinh,Họ và tên,Ngày sinh,Giới tính\n"
                     "099001,Trường Thử,6A1,0990010001,Học Sinh Thử,01/09/2013,Nam\n",
                     encoding="utf-8")
    folder = pkg.write_package(home / "pkg", pkg.city(students=1))

    from_file = run(home, "--lang", "en", "ingest", str(sheet), "--adapter", "school-export")
    named = run(home, "--lang", "en", "ingest", str(sheet), "--adapter", "school-export",
                "--source", "school-099001")
    from_folder = run(home, "--lang", "en", "ingest", str(folder), "--adapter", "oneroster")

    assert 'named after the file or folder, "school-export:ds-tuan-1.csv"' in from_file.stderr
    assert "--source" not in named.stderr
    assert '"oneroster:pkg"' in from_folder.stderr


def test_summary_of_empty_store_explained(home: Path) -> None:
    assert "Chưa có bản ghi nào" in run(home, "summary").stdout
    assert "The store has no source named nope" in run(home, "--lang", "en", "summary",
                                                      "--source", "nope").stdout


def test_summary_json_tells_unknown_source(home: Path) -> None:
    empty = json.loads(run(home, "--json", "summary").stdout)
    folder = pkg.write_package(home / "pkg", pkg.city(students=2))
    run(home, "ingest", str(folder), "--adapter", "oneroster")
    unknown = json.loads(run(home, "--json", "summary", "--source", "nope").stdout)
    known = json.loads(run(home, "--json", "summary", "--source", "oneroster:pkg").stdout)

    assert empty == {"source": None, "source_known": None, "sources": [], "entities": {},
                     "schools": [], "ended": 0}
    assert unknown == {"source": "nope", "source_known": False, "sources": ["oneroster:pkg"],
                       "entities": {}, "schools": [], "ended": 0}
    assert known["source_known"] is True
    assert known["entities"]["student"] == 2


def test_summary_in_english_anywhere(home: Path) -> None:
    folder = pkg.write_package(home / "pkg", pkg.city(students=2))
    run(home, "ingest", str(folder), "--adapter", "oneroster")
    text = run(home, "summary", "--lang", "en").stdout
    assert "Active records" in text
    assert "Student: 2" in text
    assert "Trường 1 [s1]" in text


def test_vietnamese_is_default(home: Path) -> None:
    folder = pkg.write_package(home / "pkg", pkg.city(students=2))
    text = run(home, "ingest", str(folder), "--adapter", "oneroster").stdout
    assert "hoàn tất" in text
    assert "Không có dòng nào bị từ chối." in text


def test_rejections_grouped_by_reason(home: Path) -> None:
    tables = pkg.city(students=3)
    tables["users"][0]["givenName"] = ""
    tables["users"][1]["givenName"] = ""
    folder = pkg.write_package(home / "pkg", tables)
    text = run(home, "--lang", "en", "ingest", str(folder), "--adapter", "oneroster").stdout
    # The two students' enrollments go too, because they name rejected students.
    assert "Rows rejected: 4, by reason:" in text
    assert "2 × Student: Missing required value for field given name (given_name) (column givenName)." in text
    assert ("2 × Enrollment: Field student or staff member enrolled in the class (person_ref) "
            'names the student "u1", whose own row (users.csv, row 2) was rejected') in text
    assert "first at: users.csv, row 2, column givenName, field given name (given_name)" in text


def hold_three_ends(home: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """Ingest a city of four pupils as source "s", then hold run 2, which ends three of them."""
    env = {"GATEWAY_GUARD__MIN_EXISTING": "1", "GATEWAY_GUARD__MAX_CHANGE_RATIO": "0.1"}
    tables = pkg.city(students=4)
    run(home, "ingest", str(pkg.write_package(home / "a", tables)), "--adapter", "oneroster",
        "--source", "s", env=env)
    tables["users"] = tables["users"][:1]
    tables["enrollments"] = tables["enrollments"][:1]
    return run(home, *options, "ingest", str(pkg.write_package(home / "b", tables)), "--adapter",
               "oneroster", "--source", "s", env=env, expect=3)


def test_held_run_exits_three_and_approves(home: Path) -> None:
    held = hold_three_ends(home, "--json")
    run_id = json.loads(held.stdout)["run_id"]
    approved = json.loads(run(home, "--json", "runs", "approve", str(run_id), "--by", "tester").stdout)
    assert approved["state"] == "succeeded"
    assert approved["counts"]["decisions"]["student"]["end"] == 3


def test_held_run_rejected_keeps_store(home: Path) -> None:
    held = hold_three_ends(home, "--lang", "en")
    assert "reject, which keeps the store as it is: gateway runs reject 2." in held.stdout

    rejected = run(home, "--lang", "en", "runs", "reject", "2", "--by", "tester").stdout
    assert rejected.splitlines()[0] == "Run 2, source s: rejected"
    assert rejected.splitlines()[1].startswith("This run was rejected, so no record changed.")
    assert "Rejected by: tester" in rejected
    again = run(home, "--lang", "en", "runs", "approve", "2", expect=1)
    assert 'Run 2 is in state "rejected", so it cannot be approved:' in again.stderr
    summary = json.loads(run(home, "--json", "summary", "--source", "s").stdout)
    assert summary["entities"]["student"] == 4


def test_reject_of_finished_run_fails(home: Path) -> None:
    folder = pkg.write_package(home / "pkg", pkg.city(students=2))
    run(home, "ingest", str(folder), "--adapter", "oneroster")
    result = run(home, "--lang", "en", "runs", "reject", "1", expect=1)
    assert 'Run 1 is in state "succeeded", so it cannot be rejected:' in result.stderr


def hold_family_name_change(home: Path) -> None:
    """Ingest a city, then hold run 2, which changes one pupil's family name, by a strict guard."""
    env = {"GATEWAY_GUARD__MIN_EXISTING": "1", "GATEWAY_GUARD__MAX_CHANGE_RATIO": "0.1"}
    tables = pkg.city(students=4)
    run(home, "ingest", str(pkg.write_package(home / "a", tables)), "--adapter", "oneroster",
        "--source", "s", env=env)
    tables["users"][1]["familyName"] = "Lê"
    run(home, "ingest", str(pkg.write_package(home / "b", tables)), "--adapter", "oneroster",
        "--source", "s", env=env, expect=3)


def test_held_run_shows_changed_fields(home: Path) -> None:
    hold_family_name_change(home)
    text = run(home, "--lang", "en", "runs", "show", "2").stdout
    document = json.loads(run(home, "--json", "runs", "show", "2").stdout)
    assert "Student: 1 record updated; fields: family_name: 1, full_name: 1" in text
    assert re.search(r"record \d+, local id u2: family_name, full_name", text)
    assert document["counts"]["updates"]["student"]["fields"] == {"family_name": 1, "full_name": 1}
    assert "Lê" not in text
    assert "Lê" not in json.dumps(document, ensure_ascii=False)


def test_held_run_without_summary_shows_fields(home: Path) -> None:
    """A run held by a release that kept no summary of updates is summarised when shown."""
    hold_family_name_change(home)
    with sqlite3.connect(home / "var" / "gateway.db") as connection:
        counts = json.loads(connection.execute("SELECT counts FROM run WHERE id = 2").fetchone()[0])
        del counts["updates"]
        connection.execute("UPDATE run SET counts = ? WHERE id = 2", [json.dumps(counts)])
    document = json.loads(run(home, "--json", "runs", "show", "2").stdout)
    assert document["counts"]["updates"]["student"]["fields"] == {"family_name": 1, "full_name": 1}


def test_bad_settings_refuse_to_start(tmp_path: Path) -> None:
    result = run(tmp_path, "--lang", "en", "summary", expect=1,
                 env={"GATEWAY_RUNS__CHUNK_SIZE": "0", "GATEWAY_GUARD__MIN_EXISTING": "-1"})
    assert "Invalid settings" in result.stderr
    assert "runs.chunk_size" in result.stderr
    assert "guard.min_existing" in result.stderr


def test_unmigrated_store_names_the_fix(tmp_path: Path) -> None:
    result = run(tmp_path, "--lang", "en", "summary", expect=1)
    assert "Run: gateway init" in result.stderr


def test_missing_manifest_is_an_error(home: Path) -> None:
    folder = home / "empty"
    folder.mkdir()
    result = run(home, "--json", "ingest", str(folder), "--adapter", "oneroster", expect=1)
    assert json.loads(result.stdout)["error"].startswith("oneroster.")


def test_changes_feed_pages(home: Path) -> None:
    folder = pkg.write_package(home / "pkg", pkg.city(students=3))
    run(home, "ingest", str(folder), "--adapter", "oneroster")
    page = json.loads(run(home, "--json", "changes", "--limit", "5").stdout)
    assert [e["seq"] for e in page["events"]] == [1, 2, 3, 4, 5]
    rest = json.loads(run(home, "--json", "changes", "--after", str(page["next_after"])).stdout)
    assert len(rest["events"]) == 4
    assert rest["complete"] is True


def test_help_in_both_languages(tmp_path: Path) -> None:
    assert "Đọc PATH" in run(tmp_path, "ingest", "--help").stdout
    assert "Read PATH" in run(tmp_path, "ingest", "--help", "--lang", "en").stdout


def test_mapping_states_and_pin(home: Path) -> None:
    listed = json.loads(run(home, "--json", "mappings", "list").stdout)
    student = next(v for v in listed if v["entity"] == "student")
    folder = pkg.write_package(home / "pkg", pkg.city(students=1))
    run(home, "ingest", str(folder), "--adapter", "oneroster", "--source", "s")
    pinned = json.loads(run(home, "--json", "mappings", "pin", "s", student["id"][:10]).stdout)
    assert pinned["entity"] == "student"
    refused = run(home, "--lang", "en", "mappings", "set-state", student["id"][:10], "draft", expect=1)
    assert "cannot move to draft" in refused.stderr
    retired = json.loads(run(home, "--json", "mappings", "set-state", student["id"][:10], "retired").stdout)
    assert retired["state"] == "retired"


def test_failed_run_keeps_its_reason(home: Path) -> None:
    broken = home / "broken.zip"
    broken.write_bytes(b"not a zip at all")
    run(home, "ingest", str(broken), "--adapter", "oneroster", expect=1)
    shown = run(home, "--lang", "en", "runs", "show", "1").stdout
    assert "failed" in shown
    assert "Reason:" in shown
    assert "not a folder or a readable .zip file" in shown


def test_file_error_exits_four(home: Path) -> None:
    tables = pkg.city(students=2)
    folder = pkg.write_package(home / "pkg", tables)
    (folder / "users.csv").write_text("", encoding="utf-8")
    result = run(home, "--json", "ingest", str(folder), "--adapter", "oneroster", expect=4)
    assert json.loads(result.stdout)["file_errors"] == 1


def test_log_lines_go_to_log_file(home: Path) -> None:
    tables = pkg.city(students=2)
    folder = pkg.write_package(home / "pkg", tables)
    (folder / "users.csv").write_text("sourcedId;givenName\nu1;An\n", encoding="utf-8")

    quiet = run(home, "ingest", str(folder), "--adapter", "oneroster", "--source", "a", expect=4)
    loud = run(home, "ingest", str(folder), "--adapter", "oneroster", "--source", "a", expect=4,
               env={"GATEWAY_LOGGING__CONSOLE_LEVEL": "WARNING"})

    logged = (home / "var" / "log" / "gateway.log").read_text(encoding="utf-8")
    assert quiet.stderr == ""
    assert logged.count("WARNING adapters.oneroster.package: oneroster file not read") == 2
    assert "WARNING adapters.oneroster.package: oneroster file not read" in loud.stderr


def test_runs_list_counts_file_errors(home: Path) -> None:
    tables = pkg.city(students=2)
    run(home, "ingest", str(pkg.write_package(home / "good", tables)), "--adapter", "oneroster",
        "--source", "good")
    folder = pkg.write_package(home / "pkg", tables)
    (folder / "users.csv").write_text("", encoding="utf-8")
    run(home, "ingest", str(folder), "--adapter", "oneroster", "--source", "broken", expect=4)

    vietnamese = run(home, "runs", "list").stdout.splitlines()
    english = run(home, "--lang", "en", "runs", "list").stdout.splitlines()
    listed = json.loads(run(home, "--json", "runs", "list").stdout)

    assert "hoàn tất, 1 lỗi tệp" in vietnamese[1]
    assert "lỗi tệp" not in vietnamese[2]
    assert "succeeded, 1 file error " in english[1]
    assert [(r["source"], r["file_errors"]) for r in listed] == [("broken", 1), ("good", 0)]


def test_unknown_run_is_an_error(home: Path) -> None:
    for args in (("quarantine", "list", "--run", "999"), ("runs", "rejections", "999"),
                 ("runs", "show", "999")):
        result = run(home, "--lang", "en", *args, expect=1)
        assert result.stdout == ""
        assert "No run 999." in result.stderr, args


def test_changes_name_operation_and_entity(home: Path) -> None:
    run(home, "ingest", str(pkg.write_package(home / "pkg", pkg.city(students=1))), "--adapter",
        "oneroster")

    vietnamese = run(home, "changes", "--limit", "100").stdout
    english = run(home, "--lang", "en", "changes", "--limit", "100").stdout

    assert re.search(r"^  \d+  Học sinh #\d+: thêm$", vietnamese, re.MULTILINE), vietnamese
    assert "insert" not in vietnamese
    assert "student" not in vietnamese
    assert re.search(r"^  \d+  Student #\d+: inserted$", english, re.MULTILINE), english


def test_users_not_utf8_exits_four(home: Path) -> None:
    folder = pkg.write_package(home / "pkg", pkg.city(students=2))
    text = (folder / "users.csv").read_text("utf-8")
    # Windows-1258 writes "ễ" as "ê" and a combining tilde.
    (folder / "users.csv").write_bytes(text.replace("ễ", "ê\u0303").encode("cp1258"))
    result = run(home, "--lang", "en", "ingest", str(folder), "--adapter", "oneroster", expect=4)
    assert ("File users.csv is not in UTF-8 but probably in Windows-1258, so it was not read."
            in result.stdout)
    assert "but file users.csv could not be read" in result.stdout


def test_wrong_adapter_named_once(home: Path) -> None:
    folder = pkg.write_package(home / "pkg", pkg.city(students=2))
    result = run(home, "--lang", "en", "ingest", str(folder), "--adapter", "school-export", expect=1)
    output = result.stdout + result.stderr
    assert output.count("Ingest it with --adapter oneroster.") == 1
    assert "No header row" not in output


def test_superseded_held_run_is_reported(home: Path) -> None:
    env = {"GATEWAY_GUARD__MIN_EXISTING": "1", "GATEWAY_GUARD__MAX_CHANGE_RATIO": "0.1"}
    tables = pkg.city(students=4)
    run(home, "ingest", str(pkg.write_package(home / "a", tables)), "--adapter", "oneroster",
        "--source", "s", env=env)
    fewer = dict(tables, users=tables["users"][:1], enrollments=tables["enrollments"][:1])
    held = run(home, "--lang", "en", "ingest", str(pkg.write_package(home / "b", fewer)), "--adapter",
               "oneroster", "--source", "s", env=env, expect=3).stdout
    assert "Student: 3 of 4 existing records would be updated or ended (75%), above the 10% limit" in held
    again = run(home, "--lang", "en", "ingest", str(home / "a"), "--adapter", "oneroster",
                "--source", "s", env=env).stdout
    assert "Run 2 of this source, held for approval, was superseded by run 3" in again


# --- Click's own texts, usage errors and times ---

HELP_TEXTS = {
    "vi": ["Cách dùng: gateway [TÙY_CHỌN] LỆNH [ĐỐI_SỐ]...", "Tùy chọn:", "Lệnh:",
           "Hiện hướng dẫn này rồi thoát."],
    "en": ["Usage: gateway [OPTIONS] COMMAND [ARGS]...", "Options:", "Commands:",
           "Show this message and exit."],
}


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_help_page_in_language(tmp_path: Path, lang: str) -> None:
    text = run(tmp_path, "--lang", lang, "--help").stdout
    for expected in HELP_TEXTS[lang]:
        assert expected in text
    if lang == "vi":
        assert "Usage:" not in text
        assert "Options:" not in text


@pytest.mark.parametrize(("lang", "default", "required"), [
    ("vi", "[mặc định: 20]", "[bắt buộc]"),
    ("en", "[default: 20]", "[required]"),
])
def test_option_marks_in_language(tmp_path: Path, lang: str, default: str, required: str) -> None:
    assert default in run(tmp_path, "--lang", lang, "runs", "list", "--help").stdout
    assert required in run(tmp_path, "--lang", lang, "ingest", "--help").stdout


USAGE_ERRORS = {
    "vi": ["Cách dùng: gateway runs list [TÙY_CHỌN]",
           "Chạy 'gateway runs list --help' để xem hướng dẫn.",
           "Lỗi: Không có tùy chọn '--bogus'."],
    "en": ["Usage: gateway runs list [OPTIONS]",
           "Try 'gateway runs list --help' for help.",
           "Error: No such option '--bogus'."],
}


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_unknown_option_in_language(tmp_path: Path, lang: str) -> None:
    result = run(tmp_path, "--lang", lang, "runs", "list", "--bogus", expect=2)
    assert result.stdout == ""
    assert result.stderr.splitlines() == [*USAGE_ERRORS[lang][:2], "", USAGE_ERRORS[lang][2]]


def test_usage_error_follows_language_setting(tmp_path: Path) -> None:
    result = run(tmp_path, "runs", "list", "--bogus", expect=2, env={"GATEWAY_LOCALE__LANG": "en"})
    assert "Error: No such option '--bogus'." in result.stderr


@pytest.mark.parametrize(("args", "command", "detail"), [
    pytest.param(["runs", "list", "--bogus"], "gateway runs list", "Không có tùy chọn '--bogus'.",
                 id="unknown-option"),
    pytest.param(["runs", "show"], "gateway runs show", "Thiếu đối số 'RUN_ID'.", id="missing-argument"),
    pytest.param(["ingest", "."], "gateway ingest", "Thiếu tùy chọn '--adapter'.", id="missing-option"),
    pytest.param(["runs", "show", "abc"], "gateway runs show",
                 "Giá trị không hợp lệ cho 'RUN_ID': 'abc' không phải là số hợp lệ (integer).",
                 id="bad-value"),
    pytest.param(["runs", "lst"], "gateway runs", "Không có lệnh 'lst'. Có phải ý bạn là 'list'?",
                 id="unknown-command"),
    pytest.param(["runs"], "gateway runs", "Thiếu lệnh.", id="missing-command"),
])
def test_usage_error_as_json(tmp_path: Path, args: list[str], command: str, detail: str) -> None:
    result = run(tmp_path, "--json", *args, expect=2)
    document = json.loads(result.stdout)
    assert result.stderr == ""
    assert document["error"] == "cli.usage_error"
    assert document["params"]["command"] == command
    assert document["params"]["detail"].startswith(detail)
    assert document["message"] == f"{document['params']['detail']} Xem hướng dẫn: {command} --help"


def test_usage_error_json_in_english(tmp_path: Path) -> None:
    document = json.loads(run(tmp_path, "runs", "list", "--bogus", "--json", "--lang", "en",
                              expect=2).stdout)
    assert document["message"] == ("No such option '--bogus'. "
                                   "For help, run: gateway runs list --help")


def test_usage_error_json_shape_as_gateway_error(tmp_path: Path) -> None:
    # The store is not created yet, so summary fails with a GatewayError.
    gateway_error = json.loads(run(tmp_path, "--json", "summary", expect=1).stdout)
    usage_error = json.loads(run(tmp_path, "--json", "summary", "--bogus", expect=2).stdout)
    assert set(usage_error) == set(gateway_error) == {"error", "message", "place", "params"}
    assert usage_error["place"] == {}


def test_runs_list_times_to_second(home: Path) -> None:
    folder = pkg.write_package(home / "pkg", pkg.city(students=1))
    run(home, "ingest", str(folder), "--adapter", "oneroster")
    lines = run(home, "--lang", "en", "runs", "list").stdout.splitlines()
    assert lines[0] == "1 newest run:"
    assert re.search(r"  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+07:00$", lines[1]), lines[1]
    listed = json.loads(run(home, "--json", "runs", "list").stdout)[0]
    iso = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00$"
    assert re.match(iso, listed["started_at"]), listed["started_at"]
    assert re.match(iso, listed["finished_at"]), listed["finished_at"]


def test_runs_list_header_plural(home: Path) -> None:
    folder = pkg.write_package(home / "pkg", pkg.city(students=1))
    run(home, "ingest", str(folder), "--adapter", "oneroster")
    run(home, "ingest", str(folder), "--adapter", "oneroster")
    assert run(home, "--lang", "en", "runs", "list").stdout.startswith("2 newest runs:\n")
    assert run(home, "--lang", "en", "runs", "list", "--limit", "1").stdout.startswith("1 newest run:\n")
    assert run(home, "runs", "list", "--limit", "1").stdout.startswith("1 lượt chạy gần nhất:\n")


def test_invalid_settings_use_their_language(tmp_path: Path) -> None:
    config = tmp_path / "local.toml"
    config.write_text('[locale]\nlang = "en"\n\n[runs]\nchunk_size = "abc"\n', encoding="utf-8")
    result = run(tmp_path, "runs", "list", expect=1, env={"GATEWAY_CONFIG": str(config)})
    assert "runs.chunk_size" in result.stderr
    assert "must be a whole number" in result.stderr


@pytest.mark.parametrize("args", [("--lang", "fr", "runs", "list"), ("runs", "list", "--lang"),
                                  ("runs", "list", "--lang=xx")])
def test_unknown_language_is_usage_error(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = run(tmp_path, *args, expect=2)
    assert "--lang" in result.stderr
    assert "'vi', 'en'" in result.stderr

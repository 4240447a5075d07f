"""``kill -9`` of a real ``gateway ingest`` at any phase leaves a consistent store.

Each case runs the ``gateway`` command in a subprocess on a package of about
3,000 rows. Chunks of 20 rows make staging and apply commit many times. The
test polls the ``run`` table and the change log, instead of sleeping blindly,
and sends SIGKILL when the run reaches a chosen point. After the kill the
store must be consistent. Finishing the work (a new ingest, or
``gateway runs resume`` for a kill during apply) must give the same store as a
clean ingest of the same package, and one more ingest must write nothing.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import peewee
import pytest

from gateway.ingest.runs import LIVE_STATES
from gateway.store.changelog import horizon
from gateway.store.database import open_database
from gateway.store.models import (
    Alias,
    ChangeEvent,
    Record,
    Run,
    SourceLock,
    StagedRecord,
    database_proxy,
)
from tests.support import oneroster as pkg
from tests.support.store import StoreHandle

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SOURCE = "city-crash"
STUDENTS = 1500
SCHOOLS = 3
CHUNK_SIZE = 20
POLL_SECONDS = 0.005
PHASE_TIMEOUT_SECONDS = 60
COMMAND_TIMEOUT_SECONDS = 120
# The virtual environment does not install the project, so call this checkout's CLI entry point.
GATEWAY = [sys.executable, "-c", "from gateway.cli.main import main; main()"]


# -- the gateway command ------------------------------------------------------------


def gateway_env(home: Path, url: str) -> dict[str, str]:
    environ = {name: value for name, value in os.environ.items() if not name.startswith("GATEWAY_")}
    environ.update({
        "GATEWAY_HOME": str(home),
        "GATEWAY_STORE__URL": url,
        "GATEWAY_RUNS__CHUNK_SIZE": str(CHUNK_SIZE),
        "GATEWAY_RUNS__STAGE_CHUNK_SIZE": str(CHUNK_SIZE),
        "GATEWAY_LOGGING__LEVEL": "WARNING",
        # A killed process cannot remove its temporary files (the adapter's join index, when
        # the package has one), so keep them inside the case's folder.
        "TMPDIR": str(home),
    })
    return environ


def run_gateway(home: Path, url: str, *args: str) -> dict[str, Any]:
    """Run ``gateway --json ARGS`` to completion; return its JSON output."""
    done = subprocess.run(
        [*GATEWAY, "--json", *args], cwd=ROOT, env=gateway_env(home, url), capture_output=True,
        text=True, timeout=COMMAND_TIMEOUT_SECONDS, check=False,
    )
    assert done.returncode == 0, f"gateway {' '.join(args)} exited {done.returncode}:\n" \
                                 f"{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout)


def ingest_args(package: Path) -> list[str]:
    return ["ingest", str(package), "--adapter", "oneroster", "--source", SOURCE]


def start_gateway(home: Path, url: str, *args: str) -> subprocess.Popen[bytes]:
    """Start ``gateway --json ARGS`` in the background, to be killed."""
    return subprocess.Popen(
        [*GATEWAY, "--json", *args], cwd=ROOT, env=gateway_env(home, url),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


# -- kill points ----------------------------------------------------------------------


def newest_run() -> Run | None:
    return Run.select().where(Run.source == SOURCE).order_by(Run.id.desc()).first()


def staged_rows(run: Run) -> int:
    return StagedRecord.select().where(StagedRecord.run == run.id).count()


def decided_rows(run: Run) -> int:
    return StagedRecord.select().where(
        (StagedRecord.run == run.id) & StagedRecord.decision.is_null(False)
    ).count()


def events() -> int:
    return ChangeEvent.select().count()


def committed_progress(run: Run) -> int:
    """Count what a run has committed: staged rows, then decisions, then change events.

    Each term grows only in its own phase, so the sum grows through the whole
    run, up to about three times the record count.
    """
    return staged_rows(run) + decided_rows(run) + events()


@dataclass(frozen=True)
class KillPoint:
    """Where to kill: the run state the kill must land in, and what must be committed by then.

    A poll finds a commit just after it happens, so without ``delay`` every kill
    would land at the start of the next chunk. A delay of a few milliseconds,
    about the time of one chunk of 20 rows, moves the kill inside the work
    between two commits.
    """

    phase: str
    reached: Callable[[Run], bool]
    delay: float = 0.0


TOTAL_RECORDS = SCHOOLS * 2 + 1 + STUDENTS * 2  # schools, classes, the year, students, enrollments

KILL_POINTS = {
    "staging": KillPoint("staging", lambda run: staged_rows(run) >= 600, delay=0.003),
    # Compare decides the new keys of each entity in one commit and is over within tens of
    # milliseconds for this package, so kill as soon as the first decisions are committed.
    "comparing": KillPoint("comparing", lambda run: decided_rows(run) >= 1),
    "applying-first-chunk": KillPoint("applying", lambda run: events() >= 1, delay=0.004),
    "applying-late": KillPoint("applying", lambda run: events() >= TOTAL_RECORDS - 600,
                               delay=0.011),
}


def kill_when(process: subprocess.Popen[bytes], reached: Callable[[Run], bool], delay: float,
              may_finish: bool = False) -> Run:
    """Poll the store until ``reached`` holds for the newest run, wait ``delay`` s, SIGKILL.

    Returns the run as the store left it. Fails when the process exits first,
    unless ``may_finish``.
    """
    deadline = time.monotonic() + PHASE_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        run = newest_run()
        if run is not None and reached(run):
            time.sleep(delay)
            process.send_signal(signal.SIGKILL)
            process.communicate(timeout=30)
            return Run.get_by_id(run.id)
        if process.poll() is not None:
            stderr = process.communicate(timeout=30)[1].decode(errors="replace")
            assert may_finish, f"gateway exited with {process.returncode} before the kill point:\n{stderr}"
            assert run is not None, f"gateway exited without starting a run:\n{stderr}"
            return Run.get_by_id(run.id)
        time.sleep(POLL_SECONDS)
    process.kill()
    process.communicate(timeout=30)
    pytest.fail(f"kill point not reached in {PHASE_TIMEOUT_SECONDS} s")


def kill_at(store: StoreHandle, package: Path, point: KillPoint) -> Run:
    """Start an ingest, kill it at ``point``, and return its run as the store left it."""
    process = start_gateway(store.home, store.url, *ingest_args(package))
    killed = kill_when(process, lambda run: run.state == point.phase and point.reached(run),
                       point.delay)
    assert killed.state == point.phase, "the process moved on between the poll and the kill"
    return killed


# -- what the store must look like -------------------------------------------------------


@dataclass(frozen=True)
class StoreState:
    """What a finished ingest must leave, independent of run ids, record ids and times."""

    records: frozenset[tuple[str, str, str, str]]  # entity, local_id, content_hash, state
    active: dict[str, int]
    events: int
    horizon: int


def store_state() -> StoreState:
    rows = Record.select(Record.entity, Record.local_id, Record.content_hash, Record.state).tuples()
    records = frozenset(rows)
    active = Counter(entity for entity, _, _, state in records if state == "active")
    return StoreState(records, dict(active), events(), horizon())


def assert_none(found: list[Any], problem: str) -> None:
    assert not found, f"{len(found)} {problem}, first: {found[:5]}"


def assert_sequence_dense() -> None:
    """Check that the change log contains exactly the numbers 1..horizon."""
    seq = ChangeEvent.seq
    count, lowest, highest = ChangeEvent.select(
        peewee.fn.COUNT(seq), peewee.fn.MIN(seq), peewee.fn.MAX(seq)
    ).scalar(as_tuple=True)
    top = horizon()
    assert count == top, f"{count} events but horizon {top}"
    if top:
        assert (lowest, highest) == (1, top)


def assert_events_match_records() -> None:
    """Check one insert per record, first and last events, and no orphans either way."""
    by_record: defaultdict[int, list[tuple[int, str]]] = defaultdict(list)
    for seq, record_id, op in ChangeEvent.select(ChangeEvent.seq, ChangeEvent.record_id,
                                                 ChangeEvent.op).tuples():
        by_record[record_id].append((seq, op))
    records = {r.id: r for r in Record.select(Record.id, Record.first_seq, Record.last_seq)}

    assert_none(sorted(set(records) - set(by_record)), "records without events")
    assert_none(sorted(set(by_record) - set(records)), "events of unknown records")
    inserts = [rid for rid, evs in by_record.items() if [op for _, op in evs].count("insert") != 1]
    assert_none(inserts, "records without exactly one insert event")
    first_not_insert = [rid for rid, evs in by_record.items() if min(evs)[1] != "insert"]
    assert_none(first_not_insert, "records whose first event is not their insert")
    first_seq = [rid for rid, r in records.items() if r.first_seq != min(by_record[rid])[0]]
    assert_none(first_seq, "records whose first_seq is not their insert event")
    last_seq = [rid for rid, r in records.items() if r.last_seq != max(by_record[rid])[0]]
    assert_none(last_seq, "records whose last_seq is not their newest event")


def assert_one_source_alias() -> None:
    """Check that each record has one alias in its source namespace: its own local id."""
    aliases: defaultdict[tuple[int, str], list[str]] = defaultdict(list)
    query = Alias.select(Alias.record, Alias.namespace, Alias.value).where(
        Alias.namespace.startswith("src:")
    )
    for record_id, namespace, value in query.tuples():
        aliases[(record_id, namespace)].append(value)
    wrong = [
        (r.id, r.local_id, aliases.get((r.id, f"src:{r.source}")))
        for r in Record.select(Record.id, Record.source, Record.local_id)
        if aliases.get((r.id, f"src:{r.source}")) != [r.local_id]
    ]
    assert_none(wrong, "records without exactly one alias in their source namespace")


def assert_consistent() -> None:
    assert_sequence_dense()
    assert_events_match_records()
    assert_one_source_alias()


def assert_finished_like(reference: StoreState) -> None:
    """Check the store against a clean ingest, and that nothing of a run is left behind."""
    assert_consistent()
    state = store_state()
    assert state.active == reference.active
    assert state.events == reference.events
    assert state.horizon == reference.horizon
    assert state.records == reference.records
    assert StagedRecord.select().count() == 0
    assert SourceLock.select().count() == 0


def assert_reingest_writes_nothing(store: StoreHandle, package: Path) -> None:
    before = horizon()
    report = run_gateway(store.home, store.url, *ingest_args(package))
    assert report["state"] == "succeeded"
    assert horizon() == before
    for entity, counts in report["counts"]["decisions"].items():
        assert set(counts) == {"unchanged"}, entity


# -- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("crash") / "package"
    return pkg.write_package(folder, pkg.city(students=STUDENTS, schools=SCHOOLS))


@pytest.fixture(scope="module")
def reference(package: Path, tmp_path_factory: pytest.TempPathFactory) -> StoreState:
    """The store that one clean, uninterrupted ingest of ``package`` leaves."""
    home = tmp_path_factory.mktemp("reference")
    url = f"sqlite:///{home / 'gateway.db'}"
    run_gateway(home, url, "init", "--no-dev-keys")
    report = run_gateway(home, url, *ingest_args(package))
    assert report["state"] == "succeeded"
    db = open_database(url)
    try:
        state = store_state()
    finally:
        db.close()
        database_proxy.initialize(None)
    assert state.horizon == TOTAL_RECORDS
    return state


# -- tests -----------------------------------------------------------------------------


@pytest.mark.parametrize("point", list(KILL_POINTS), ids=list(KILL_POINTS))
def test_kill_then_reingest_recovers(store: StoreHandle, package: Path, reference: StoreState,
                                     point: str) -> None:
    killed = kill_at(store, package, KILL_POINTS[point])
    assert_consistent()

    report = run_gateway(store.home, store.url, *ingest_args(package))

    assert report["state"] == "succeeded"
    assert report["run_id"] != killed.id
    assert Run.get_by_id(killed.id).state == "interrupted"
    assert_finished_like(reference)
    assert_reingest_writes_nothing(store, package)


def test_kill_at_random_progress_then_reingest(store: StoreHandle, package: Path,
                                               reference: StoreState) -> None:
    seed = int(os.environ.get("CRASH_TEST_SEED") or random.randrange(1_000_000))
    print(f"CRASH_TEST_SEED={seed}")  # shown by pytest when the test fails, to repeat the case
    generator = random.Random(seed)
    target = int(generator.uniform(0.02, 0.98) * 3 * TOTAL_RECORDS)
    delay = generator.uniform(0.0, 0.03)
    process = start_gateway(store.home, store.url, *ingest_args(package))
    killed = kill_when(process, lambda run: committed_progress(run) >= target, delay,
                       may_finish=True)
    assert_consistent()

    report = run_gateway(store.home, store.url, *ingest_args(package))

    assert report["state"] == "succeeded"
    expected = "interrupted" if killed.state in LIVE_STATES else killed.state
    assert Run.get_by_id(killed.id).state == expected
    assert_finished_like(reference)
    assert_reingest_writes_nothing(store, package)


def test_kill_during_apply_then_resume(store: StoreHandle, tmp_path: Path,
                                       reference: StoreState) -> None:
    package = pkg.write_package(tmp_path / "package", pkg.city(students=STUDENTS, schools=SCHOOLS))
    third = KillPoint("applying", lambda run: events() >= TOTAL_RECORDS // 3, delay=0.007)
    killed = kill_at(store, package, third)
    assert_consistent()
    # Resume must not read the input again: take it away.
    moved = package.rename(tmp_path / "moved")

    # A resume killed in its turn must leave the run resumable.
    resuming = start_gateway(store.home, store.url, "runs", "resume", str(killed.id))
    two_thirds = lambda run: events() >= 2 * TOTAL_RECORDS // 3  # noqa: E731
    kill_when(resuming, lambda run: run.state == "applying" and two_thirds(run), delay=0.013)
    assert Run.get_by_id(killed.id).state == "applying"
    assert_consistent()

    report = run_gateway(store.home, store.url, "runs", "resume", str(killed.id))

    assert report["state"] == "succeeded"
    assert report["run_id"] == killed.id
    assert Run.select().count() == 1
    assert_finished_like(reference)
    assert_reingest_writes_nothing(store, moved)


def gateway_processes(home: Path) -> list[int]:
    """Return the ids of live processes started with this case's GATEWAY_HOME (readers included)."""
    marker = f"GATEWAY_HOME={home}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in environ and state != "Z":
            found.append(int(entry.name))
    return found


def interrupt_when(process: subprocess.Popen[bytes], reached: Callable[[Run], bool],
                   what: str) -> tuple[Run, str]:
    """Send SIGINT (Ctrl-C) once the newest run has ``reached``; return it and standard error."""
    deadline = time.monotonic() + PHASE_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        run = newest_run()
        if run is not None and reached(run):
            process.send_signal(signal.SIGINT)
            _, stderr = process.communicate(timeout=COMMAND_TIMEOUT_SECONDS)
            return run, stderr.decode()
        time.sleep(POLL_SECONDS)
    process.kill()
    pytest.fail(f"{what} not reached in {PHASE_TIMEOUT_SECONDS} s")


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc to find leftover processes")
def test_ctrl_c_staging_fails_run(
        store: StoreHandle, package: Path, reference: StoreState) -> None:
    process = start_gateway(store.home, store.url, *ingest_args(package))
    run, stderr = interrupt_when(
        process, lambda run: run.state == "staging" and staged_rows(run) > 0, "staging")

    assert process.returncode == 130, stderr
    assert "Ctrl-C" in stderr
    stopped = Run.get_by_id(run.id)
    assert stopped.state == "failed"
    assert json.loads(stopped.error)["error"] == "error.interrupted"
    assert SourceLock.select().where(SourceLock.run_id == run.id).count() == 0
    deadline = time.monotonic() + 10
    while gateway_processes(store.home) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gateway_processes(store.home) == []
    assert_consistent()

    report = run_gateway(store.home, store.url, *ingest_args(package))

    assert report["state"] == "succeeded"
    assert_finished_like(reference)


def test_ctrl_c_applying_stays_resumable(store: StoreHandle, package: Path,
                                         reference: StoreState) -> None:
    process = start_gateway(store.home, store.url, *ingest_args(package))
    run, stderr = interrupt_when(
        process, lambda run: run.state == "applying" and events() > 0, "apply")

    assert process.returncode == 130, stderr
    assert "runs resume" in stderr
    assert Run.get_by_id(run.id).state == "applying"
    assert_consistent()

    report = run_gateway(store.home, store.url, "runs", "resume", str(run.id))

    assert report["state"] == "succeeded"
    assert_finished_like(reference)

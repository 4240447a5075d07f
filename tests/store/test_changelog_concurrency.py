"""Sequence numbers under concurrent writers: a reader bound by the horizon misses no change.

Each writer thread runs its own connection (peewee keeps one connection per
thread on the shared ``Database``), reserves numbers inside its write
transaction and sleeps before inserting, so that late commits are common.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import peewee
import pytest

from gateway.clock import utcnow
from gateway.store.changelog import horizon, read_changes, reserve_sequences
from gateway.store.database import write_transaction
from gateway.store.models import ChangeEvent
from tests.support.store import StoreHandle

WRITERS = 4
TRANSACTIONS = 40
# SQLite's default busy handler sleeps in growing steps of up to 100 ms, so a
# waiting writer often loses its turn. The same work took from 1 to 9 s in
# repeated runs on a 2-core machine, so SQLite runs half of it.
SQLITE_TRANSACTIONS = TRANSACTIONS // 2
MAX_EVENTS_PER_TRANSACTION = 5
PAGE_SIZE = 7
# How long a SQLite writer thread waits for the write lock before it fails.
WRITER_BUSY_SECONDS = 60
# Long enough for a blocked writer to show that it waits, short enough to keep the test fast.
BLOCKED_SECONDS = 0.5


def fake_events(first: int, count: int) -> list[dict[str, Any]]:
    """Return change-log rows numbered ``first``..``first + count - 1``, one record each."""
    now = utcnow()
    return [
        {"seq": seq, "record_id": seq, "entity": "student", "op": "insert", "schema_version": 1,
         "data": "{}", "content_hash": "0" * 64, "source": "concurrency-test",
         "mapping_version": "test", "run_id": None, "committed_at": now}
        for seq in range(first, first + count)
    ]


def committed_max_seq() -> int:
    return ChangeEvent.select(peewee.fn.MAX(ChangeEvent.seq)).scalar() or 0


class Writer(threading.Thread):
    """Runs write transactions that commit late: reserve, sleep, insert, commit."""

    def __init__(self, db: peewee.Database, seed: int, transactions: int):
        super().__init__(name=f"writer-{seed}")
        self.db = db
        self.transactions = transactions
        self.random = random.Random(seed)
        self.written = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for _ in range(self.transactions):
                count = self.random.randint(1, MAX_EVENTS_PER_TRANSACTION)
                with write_transaction(self.db):
                    first = reserve_sequences(count)
                    time.sleep(self.random.uniform(0.001, 0.005))
                    ChangeEvent.insert_many(fake_events(first, count)).execute()
                self.written += count
        except BaseException as exc:  # reported by the test thread
            self.error = exc
        finally:
            self.db.close()


class HorizonReader(threading.Thread):
    """Reads the horizon, checks that nothing below it is missing, and pulls the feed up to it."""

    def __init__(self, db: peewee.Database, writers_done: threading.Event):
        super().__init__(name="reader")
        self.db = db
        self.writers_done = writers_done
        self.after = 0
        self.collected: list[int] = []
        self.horizons: list[int] = []
        self.violations: list[str] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.writers_done.is_set():
                self.pull(self.checked_horizon())
            self.pull(self.checked_horizon())
        except BaseException as exc:  # reported by the test thread
            self.error = exc
        finally:
            self.db.close()

    def checked_horizon(self) -> int:
        bound = horizon()
        below = ChangeEvent.select().where(ChangeEvent.seq <= bound).count()
        if below != bound:
            self.violations.append(f"horizon {bound} but {below} events at or below it")
        self.horizons.append(bound)
        return bound

    def pull(self, bound: int) -> None:
        while True:
            page = read_changes(after=self.after, limit=PAGE_SIZE, bound=bound)
            seqs = [event.seq for event in page.events]
            if seqs != sorted(seqs) or (seqs and seqs[0] <= self.after):
                self.violations.append(f"page after {self.after} out of order: {seqs}")
            if seqs and seqs[-1] > bound:
                self.violations.append(f"page bound {bound} returned {seqs[-1]}")
            self.collected.extend(seqs)
            self.after = page.next_after
            if page.complete:
                return


def test_horizon_reader_gets_every_change_once(store: StoreHandle) -> None:
    if store.engine == "sqlite":
        # Under CPU load a writer starved by SQLite's backing-off busy handler waited past
        # the 10 s default and got "database is locked". Every writer thread opens its own
        # connection, so the pragma is made permanent: peewee applies it to new connections.
        store.db.pragma("busy_timeout", WRITER_BUSY_SECONDS * 1000, permanent=True)
    writers_done = threading.Event()
    reader = HorizonReader(store.db, writers_done)
    transactions = SQLITE_TRANSACTIONS if store.engine == "sqlite" else TRANSACTIONS
    writers = [Writer(store.db, seed, transactions) for seed in range(WRITERS)]

    reader.start()
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=60)
    writers_done.set()
    reader.join(timeout=60)

    assert not any(w.is_alive() for w in writers), "a writer did not finish in 60 s"
    assert not reader.is_alive(), "the reader did not finish in 60 s"
    assert [w.error for w in writers] == [None] * WRITERS
    assert reader.error is None
    assert reader.violations == []
    total = sum(w.written for w in writers)
    assert horizon() == total
    assert committed_max_seq() == total
    assert reader.collected == list(range(1, total + 1))
    # The reader must have seen the feed while it grew, or the checks above prove little.
    assert len({h for h in reader.horizons if 0 < h < total}) >= 5


def test_second_writer_waits_for_first_commit(store: StoreHandle) -> None:
    """Check that B waits: on PostgreSQL at the counter's row lock, on SQLite at the write lock."""
    db = store.db
    a_reserved = threading.Event()
    a_release = threading.Event()
    firsts: dict[str, int] = {}
    errors: list[BaseException] = []

    def writer(name: str, count: int, hold: bool) -> None:
        try:
            with write_transaction(db):
                first = reserve_sequences(count)
                ChangeEvent.insert_many(fake_events(first, count)).execute()
                firsts[name] = first
                if hold:
                    a_reserved.set()
                    a_release.wait(timeout=30)
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)
        finally:
            db.close()

    a = threading.Thread(target=writer, args=("a", 3, True))
    b = threading.Thread(target=writer, args=("b", 2, False))
    try:
        a.start()
        assert a_reserved.wait(timeout=10), "writer A did not reserve in 10 s"
        b.start()
        b.join(timeout=BLOCKED_SECONDS)

        assert b.is_alive(), "writer B reserved while writer A's transaction was open"
        assert "b" not in firsts
        assert horizon() == 0
        assert committed_max_seq() == 0
    finally:
        a_release.set()
        a.join(timeout=30)
        b.join(timeout=30)

    assert errors == []
    assert firsts == {"a": 1, "b": 4}
    assert horizon() == 5
    assert committed_max_seq() == 5


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)
def test_max_seq_reader_skips_late_commit(store: StoreHandle) -> None:
    """Negative control: numbers taken outside the counter lock let MAX(seq) pass a gap.

    Writer B numbers its event without ``reserve_sequences`` and commits while
    writer A still has sequence 1 reserved. A reader that trusts MAX(seq) reads up to
    2 and moves past 1 for good. The horizon stays at 0 until A commits.
    """
    db = store.db
    a_reserved = threading.Event()
    a_release = threading.Event()
    errors: list[BaseException] = []

    def writer_a() -> None:
        try:
            with write_transaction(db):
                first = reserve_sequences(1)
                ChangeEvent.insert_many(fake_events(first, 1)).execute()
                a_reserved.set()
                a_release.wait(timeout=30)
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)
        finally:
            db.close()

    def writer_b_without_counter() -> None:
        try:
            with write_transaction(db):
                ChangeEvent.insert_many(fake_events(2, 1)).execute()
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)
        finally:
            db.close()

    a = threading.Thread(target=writer_a)
    try:
        a.start()
        assert a_reserved.wait(timeout=10), "writer A did not reserve in 10 s"
        b = threading.Thread(target=writer_b_without_counter)
        b.start()
        b.join(timeout=10)
        assert not b.is_alive(), "writer B blocked although it took no counter lock"

        max_bound = committed_max_seq()
        below_max = ChangeEvent.select().where(ChangeEvent.seq <= max_bound)
        seen_by_max_reader = [e.seq for e in below_max]
        assert max_bound == 2
        assert seen_by_max_reader == [2]
        assert horizon() == 0
        assert read_changes(after=0).events == []
    finally:
        a_release.set()
        a.join(timeout=30)

    assert errors == []
    # The MAX reader resumes after 2, so sequence 1, committed late, never reaches it.
    assert [e.seq for e in ChangeEvent.select().where(ChangeEvent.seq > max_bound)] == []
    assert horizon() == 1
    assert [e.seq for e in read_changes(after=0).events] == [1]

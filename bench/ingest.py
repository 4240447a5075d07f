"""Ingest benchmark: the synthetic city through the whole pipeline on SQLite.

Usage (from the project root, after `make setup`):

    .venv/bin/python bench/ingest.py --size medium
    .venv/bin/python bench/ingest.py --size full --write docs/benchmarks.md

Each measured step runs in its own child process. Its peak memory is the highest
sum of the resident set sizes of its process tree (the gateway and its read-ahead
process), sampled every 20 ms, or the largest single process's ``ru_maxrss`` if
that is higher. Steps, on the same
OneRoster package written by ``gateway demo-data``:

1. the gateway's first ingest into an empty store (``gateway ingest``);
2. a re-ingest of the same package with one user row changed, which reads,
   hashes and compares every row (a row whose hash a stored record carries is
   not mapped again);
3. a bare load of the same CSV rows with ``csv`` and ``sqlite3.executemany``,
   with no mapping, validation or change log;
4. ``sqlite-utils insert --csv`` of the same files, when sqlite-utils is installed;
5. the store's own writes alone: the record, change-event and alias rows that the
   first load left in its store, written again into a new store with
   ``sqlite3.executemany`` in one transaction, with no reading, mapping,
   validation or staging. It is a floor for any ingest that keeps the store's
   tables and indexes;
6. the first ingest of a city three times the size, to show whether peak memory
   grows with the input.

Rates are CSV data rows read per second (every file of the package, header rows
excluded), so the three loaders are compared on the same work.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.demo import city, oneroster  # noqa: E402

BARE_LOAD = """
import csv, glob, os, sqlite3, sys
connection = sqlite3.connect(sys.argv[2])
connection.execute("PRAGMA journal_mode=wal")
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.csv"))):
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        table = os.path.basename(path)[:-4]
        columns = ", ".join('"' + name + '"' for name in header)
        connection.execute(f'CREATE TABLE "{table}" ({columns})')
        marks = ", ".join("?" * len(header))
        connection.executemany(f'INSERT INTO "{table}" VALUES ({marks})', reader)
connection.commit()
"""

# The store's final writes of a first load, replayed: argv[1] is the first load's store,
# argv[2] a new store with the same tables. Only the inserts and the commit are timed.
STORE_WRITES = """
import sqlite3, sys, time
tables = ("record", "change_event", "alias")
source = sqlite3.connect(sys.argv[1])
rows = {table: source.execute(f'SELECT * FROM "{table}"').fetchall() for table in tables}
source.close()
target = sqlite3.connect(sys.argv[2], isolation_level=None)
target.execute("PRAGMA journal_mode=wal")
target.execute("PRAGMA synchronous=normal")
started = time.perf_counter()
target.execute("BEGIN")
for table in tables:
    if rows[table]:
        marks = ", ".join("?" * len(rows[table][0]))
        target.executemany(f'INSERT INTO "{table}" VALUES ({marks})', rows[table])
target.execute("COMMIT")
print("SECONDS=%.6f" % (time.perf_counter() - started))
"""


@dataclass
class Step:
    name: str
    seconds: float
    peak_mb: float | None  # None where the figure would not mean anything
    rows: int

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


# A wrapper process that runs the measured command and samples the resident set
# size of the command's whole process tree (the gateway and its read-ahead
# process) every 20 ms. The sum counts pages that a forked child still shares
# with its parent twice, so it overstates rather than understates.
WRAPPER = """
import resource, subprocess, sys, time

def tree_kb(root):
    total, pending = 0, [root]
    while pending:
        pid = pending.pop()
        try:
            with open(f"/proc/{pid}/status") as handle:
                total += next(int(line.split()[1]) for line in handle if line.startswith("VmRSS:"))
            with open(f"/proc/{pid}/task/{pid}/children") as handle:
                pending.extend(int(child) for child in handle.read().split())
        except (OSError, ValueError, StopIteration):
            pass
    return total

child = subprocess.Popen(sys.argv[1:])
peak = 0
while child.poll() is None:
    peak = max(peak, tree_kb(child.pid))
    time.sleep(0.02)
largest = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print("PEAK_KB=%d" % max(peak, largest), file=sys.stderr)
sys.exit(child.returncode)
"""


def run_measured(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run ``command``; return wall seconds, its peak RSS in MB, and its standard output."""
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", WRAPPER, *command], env=env, cwd=ROOT,
                            capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr}")
    peak_kb = int(result.stderr.rsplit("PEAK_KB=", 1)[1].split()[0])
    return seconds, peak_kb / 1024, result.stdout


def data_rows(package: Path) -> int:
    total = 0
    for path in sorted(package.glob("*.csv")):
        if path.name == "manifest.csv":
            continue
        with path.open(newline="", encoding="utf-8") as handle:
            total += sum(1 for _ in csv.reader(handle)) - 1
    return total


def gateway_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env["GATEWAY_HOME"] = str(home)
    env["GATEWAY_STORE__URL"] = f"sqlite:///{home / 'bench.db'}"
    # The guard would hold a re-ingest of a different city; the benchmark measures speed only.
    env["GATEWAY_GUARD__MIN_EXISTING"] = "100000000"
    return env


def gateway(*args: str) -> list[str]:
    return [sys.executable, "-m", "gateway.cli.main", "--json", *args]


def ingest_step(name: str, home: Path, package: Path, rows: int) -> tuple[Step, dict]:
    env = gateway_env(home)
    seconds, peak, stdout = run_measured(
        gateway("ingest", str(package), "--adapter", "oneroster", "--source", "bench"), env)
    report = json.loads(stdout)
    return Step(name, seconds, peak, rows), report


def fresh_home(workdir: Path, name: str) -> Path:
    home = workdir / name
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    subprocess.run(gateway("init", "--no-dev-keys"), env=gateway_env(home), cwd=ROOT, check=True,
                   capture_output=True)
    return home


def change_one_user(source: Path, target: Path) -> None:
    """Copy the package and change the given name of its first student row."""
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target)
    users = target / "users.csv"
    with users.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    given = rows[0].index("givenName")
    rows[1][given] = rows[1][given] + "x"
    with users.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\r\n").writerows(rows)


def tripled(size: str) -> city.CitySize:
    base = city.SIZES[size]
    return city.CitySize(f"{size}-x3", {level: 3 * n for level, n in base.schools.items()},
                         base.shapes)


def benchmark(size: str, workdir: Path, triple: bool = True) -> tuple[list[Step], dict]:
    workdir.mkdir(parents=True, exist_ok=True)
    package = workdir / f"city-{size}"
    oneroster.write_oneroster(package, size=size)
    rows = data_rows(package)
    steps = []

    home = fresh_home(workdir, "store")
    first, report = ingest_step("gateway ingest, first load", home, package, rows)
    steps.append(first)
    floor_home = fresh_home(workdir, "store-writes")
    _, _, stdout = run_measured([sys.executable, "-c", STORE_WRITES, str(home / "bench.db"),
                                 str(floor_home / "bench.db")], dict(os.environ))
    seconds = float(stdout.rsplit("SECONDS=", 1)[1].split()[0])
    # It keeps every row in memory before it writes, so its peak does not measure streaming.
    steps.append(Step(STORE_WRITES_STEP, seconds, None, rows))
    changed = workdir / f"city-{size}-changed"
    change_one_user(package, changed)
    again, second_report = ingest_step("gateway ingest, one row changed", home, changed, rows)
    steps.append(again)

    bare_db = workdir / "bare.db"
    bare_db.unlink(missing_ok=True)
    seconds, peak, _ = run_measured([sys.executable, "-c", BARE_LOAD, str(package), str(bare_db)],
                                    dict(os.environ))
    steps.append(Step("csv + sqlite3.executemany", seconds, peak, rows))

    utils = shutil.which("sqlite-utils") or str(Path(sys.executable).parent / "sqlite-utils")
    if Path(utils).exists():
        utils_db = workdir / "utils.db"
        utils_db.unlink(missing_ok=True)
        started = time.perf_counter()
        peak = 0.0
        for path in sorted(package.glob("*.csv")):
            _, file_peak, _ = run_measured([utils, "insert", str(utils_db), path.stem, str(path),
                                            "--csv"], dict(os.environ))
            peak = max(peak, file_peak)
        steps.append(Step("sqlite-utils insert --csv", time.perf_counter() - started, peak, rows))

    if triple:
        big = workdir / f"city-{size}-x3"
        oneroster.write_oneroster(big, size=tripled(size))
        big_home = fresh_home(workdir, "store-x3")
        big_step, _ = ingest_step("gateway ingest, first load, 3x input", big_home, big,
                                  data_rows(big))
        steps.append(big_step)
    facts = {"changes_first": report["changes"], "changes_second": second_report["changes"]}
    return steps, facts


STORE_WRITES_STEP = "store writes alone (first load's rows replayed)"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
        cpu = model
    except (OSError, StopIteration):
        pass
    memory = ""
    try:
        kib = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                       if line.startswith("MemTotal")))
        memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores{memory}, Python {platform.python_version()}, " \
           f"SQLite {__import__('sqlite3').sqlite_version}"


def render(size: str, steps: list[Step], facts: dict, command: str) -> str:
    by_name = {s.name: s for s in steps}
    first = by_name["gateway ingest, first load"]
    again = by_name["gateway ingest, one row changed"]
    bare = by_name["csv + sqlite3.executemany"]
    big = by_name.get("gateway ingest, first load, 3x input")
    floor = by_name[STORE_WRITES_STEP]
    lines = [
        f"## Ingest, `{size}` city ({first.rows:,} CSV data rows)",
        "",
        f"Command: `{command}`  ",
        f"Machine: {machine()}  ",
        f"Date: {time.strftime('%Y-%m-%d')}",
        "",
        "| step | rows | seconds | rows/s | peak RSS (MB) |",
        "|---|---:|---:|---:|---:|",
    ]
    for step in steps:
        peak = "–" if step.peak_mb is None else f"{step.peak_mb:.0f}"
        lines.append(f"| {step.name} | {step.rows:,} | {step.seconds:.1f} | {step.rate:,.0f} | "
                     f"{peak} |")
    lines += [
        "",
        f"- Records written by the first load: {facts['changes_first']:,}; by the re-ingest: "
        f"{facts['changes_second']:,}.",
        f"- End to end against the bare load: {first.rate / bare.rate:.2f} of its rate "
        "(target: at least 0.33).",
        f"- The store's own writes alone, with no reading, mapping, validation or staging: "
        f"{floor.seconds:.1f} s, {floor.rate / bare.rate:.2f} of the bare rate. A third of the "
        f"bare rate allows {3 * bare.seconds:.1f} s for the whole run.",
        f"- Re-ingest against first ingest: {first.seconds / again.seconds:.1f} times faster "
        "(target: at least 4).",
    ]
    if big is not None:
        lines.append(f"- Peak memory, 1x to 3x input: {first.peak_mb:.0f} MB to {big.peak_mb:.0f} MB "
                     "(target: under 300 MB and flat).")
    else:
        lines.append(f"- Peak memory: {first.peak_mb:.0f} MB (target: under 300 MB); the 3x step "
                     "was skipped (--skip-triple).")
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="medium", choices=sorted(city.SIZES))
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/gateway-bench"))
    parser.add_argument("--write", type=Path, help="Markdown file to append the results to.")
    parser.add_argument("--skip-triple", action="store_true",
                        help="Leave out the 3x-input step (it takes three times the first load).")
    args = parser.parse_args()
    steps, facts = benchmark(args.size, args.workdir, triple=not args.skip_triple)
    command = "python bench/ingest.py " + " ".join(sys.argv[1:])
    text = render(args.size, steps, facts, command)
    print(text)
    if args.write:
        with args.write.open("a", encoding="utf-8") as handle:
            handle.write("\n" + text)


if __name__ == "__main__":
    main()

"""The adapter contract.

An adapter reads one product's export (a file, a folder, an archive) and yields
*streams*: one per logical table, each with its original header texts and its
rows as lists of cleaned text cells, with the place every row came from. An
adapter does not deal with canonical entities: mappings under ``mappings/`` turn
rows into records.

Rules every adapter keeps, checked by the contract suite in ``tests/adapters``:

- every cell is ``str`` (identifiers are text, never numbers), cleaned by
  ``gateway.text.clean``;
- columns named in ``never_keep`` (by ``match_key`` of the header) are dropped
  when read, before anything else sees them, quarantine included;
- a row that cannot be read is yielded as a ``SourceRow`` with ``error`` set, so
  the good rows around it still go through;
- a file or table that cannot be read at all becomes a ``Notice`` on the
  package; a package that cannot be read at all raises ``InputError``;
- streams come in dependency order (organisations before classes before
  enrollments), and memory does not grow with the number of rows.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from gateway.errors import GatewayError, Place, RowError
from gateway.text import match_key

Mode = Literal["bulk", "delta"]


@dataclass(frozen=True)
class Limits:
    """Limits on what an adapter accepts, from the ``limits`` settings section."""

    max_archive_bytes: int = 2 * 1024**3
    max_archive_members: int = 200
    max_uncompressed_bytes: int = 20 * 1024**3
    max_compression_ratio: float = 200.0
    max_cell_chars: int = 100_000

    @classmethod
    def from_settings(cls, section: Any) -> Limits:
        return cls(**{k: section[k] for k in cls.__dataclass_fields__ if k in section})


@dataclass(frozen=True)
class ReadHints:
    """The column names the active mappings of this adapter read, by ``match_key``.

    Adapters of self-describing formats (OneRoster) ignore it. A generic table
    adapter uses it to find the header row under titles and class labels, and to
    recognise repeated header rows. ``streams`` names the streams the mappings read.
    """

    columns: frozenset[str] = frozenset()
    required: frozenset[str] = frozenset()
    streams: frozenset[str] = frozenset()
    # (key, name): each column key with a name as a mapping writes it, for messages to people.
    labels: tuple[tuple[str, str], ...] = ()
    # Read the school named in the title of every table of the input before the first stream,
    # and list them on each stream (``INPUT_TITLE_SCHOOLS``). A table adapter reads each
    # table's header rows twice for it, so it is set only where the list is needed.
    title_schools: bool = False


# ``Stream.properties`` keys of an adapter whose lists may name their school only in a title
# row above the header ("TRƯỜNG TH AN BÌNH"). ``TITLE_SCHOOL`` is the school named above this
# table's header, absent when none is. ``INPUT_TITLE_SCHOOLS`` is present when
# ``ReadHints.title_schools`` is set: a JSON list of ``[table, school]`` pairs, one per table of
# the whole input whose title names a school, ``table`` as ``table_label`` writes it.
TITLE_SCHOOL = "title_school"
INPUT_TITLE_SCHOOLS = "input_title_schools"


@dataclass(frozen=True)
class Scope:
    """The extent a bulk stream is a complete snapshot of, beyond its source and entity.

    ``None`` means "all": ``periods=None`` covers every school year. A record
    whose school or period lies outside a declared set is never ended by its
    absence from the stream.
    """

    schools: frozenset[str] | None = None
    periods: frozenset[str] | None = None
    # Only the schools that the rows of the run name: a school's export absent from a
    # folder of per-school exports keeps its records.
    named_schools: bool = False


@dataclass(slots=True)
class SourceRow:
    """One row as read: its 1-based line (or sheet row) and its cells, or the error.

    ``origins`` names, by header, the place of a cell that came from another file
    (a OneRoster birth date joined from ``demographics.csv``), so that a rejection
    of its value points where the value is written. ``uncalculated`` gives, by
    header, the reference ("C5") of a cell that holds a spreadsheet formula stored
    without its value, which reads as empty, so that a rejection for a missing
    value names the formula.
    """

    line: int
    cells: list[str] | None = None
    error: RowError | None = None
    origins: dict[str, Place] | None = None
    uncalculated: dict[str, str] | None = None


@dataclass
class Stream:
    """One logical table of a package.

    ``name`` is the table's canonical name for this adapter (``users``);
    ``file`` is what messages show (the path inside the package).
    ``key_column`` names the header holding the row's local id, so that a
    rejected row still counts as present in a bulk snapshot. ``properties``
    carries facts about the whole stream that mapping steps may need, such as
    ``date_system`` ("1900" or "1904") of a workbook or the ``encoding`` read.
    """

    name: str
    file: str
    headers: list[str]
    rows: Iterator[SourceRow]
    mode: Mode = "bulk"
    sheet: str | None = None
    scope: Scope = field(default_factory=Scope)
    key_column: str | None = None
    properties: dict[str, str] = field(default_factory=dict)


@dataclass
class Notice:
    """A file-level finding: ``warning`` (the file was skipped or read with care) or ``error``.

    ``stream`` names the stream that an error notice stopped from being read, so that the
    run can tell why rows that refer to its records find none.
    """

    level: Literal["warning", "error"]
    error: GatewayError
    stream: str | None = None


class Package(ABC):
    """An opened input: its streams in dependency order, and its notices."""

    notices: list[Notice]
    description: dict[str, Any]

    @abstractmethod
    def streams(self) -> Iterator[Stream]:
        """Yield the streams in dependency order; each is read fully before the next."""


class Adapter(ABC):
    """One product's reader. Subclasses set ``key`` and ``never_keep`` and implement ``open``."""

    key: ClassVar[str]
    # match_key() of the headers that are dropped at read: passwords and the like.
    never_keep: ClassVar[frozenset[str]] = frozenset()
    # Values the sample input plants in never-kept columns; the contract suite
    # checks that none of them comes out of the adapter.
    sample_secrets: ClassVar[frozenset[str]] = frozenset()
    # The columns of the school's code and name that ``gateway ingest --school`` and
    # ``--school-name`` give rows, for a product whose lists are one school's each.
    school_columns: ClassVar[tuple[str, str] | None] = None

    @classmethod
    def write_sample(cls, directory: Path) -> Path:
        """Write a small input of this product under ``directory`` and return its path.

        The contract suite in ``tests/adapters/test_contract.py`` reads it; every
        adapter must provide one.
        """
        raise NotImplementedError(f"adapter {cls.__name__} has no sample input")

    @abstractmethod
    def open(self, path: Path, limits: Limits,
             hints: ReadHints | None = None) -> AbstractContextManager[Package]:
        """Open ``path`` (file, folder or archive) for reading.

        Raises ``InputError`` when the input as a whole cannot be read.
        """

    def kept_columns(self, headers: Sequence[str]) -> list[int]:
        """Return the indexes of the headers that are kept (not in ``never_keep``, not empty)."""
        return [
            i for i, header in enumerate(headers)
            if match_key(header) and match_key(header) not in self.never_keep
        ]

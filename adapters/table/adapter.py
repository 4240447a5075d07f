"""The generic table adapter (CSV, XLSX, HTML saved as ``.xls``), driven only by its mappings.

One adapter class serves several product keys (``school-export`` and the
product keys the registry adds). Every stream is named ``table``: one per CSV
file, per worksheet and per HTML table with a header. See
``adapters.table.package`` for the input and ``docs/table-adapter.md`` for
the rules.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

from adapters.base import Adapter, Limits, ReadHints
from adapters.table.package import TablePackage, open_source
from adapters.table.sample import SAMPLE_PASSWORD, write_sample
from gateway.text import match_key


class TableAdapter(Adapter):
    """Reads school-product exports as tables; password columns are dropped at read."""

    key = "school-export"
    never_keep = frozenset({match_key("mật khẩu"), match_key("password"), match_key("mat khau")})
    sample_secrets: ClassVar[frozenset[str]] = frozenset({SAMPLE_PASSWORD})
    # Products name the school only in a title row above the header (vnEdu, SMAS).
    school_columns: ClassVar[tuple[str, str] | None] = ("Mã trường", "Tên trường")

    @contextmanager
    def open(self, path: Path, limits: Limits,
             hints: ReadHints | None = None) -> Iterator[TablePackage]:
        """Open the file, folder or ``.zip`` at ``path``; raises ``InputError`` when none can be read.

        ``hints`` give the column names the mappings read; they find the
        header row. Without them the header is the first row with two or
        more non-empty cells.
        """
        source = open_source(Path(path), limits)
        try:
            package = TablePackage(source, limits, hints or ReadHints(), self.kept_columns)
            try:
                yield package
            finally:
                package.close()
        finally:
            source.close()

    def kept_columns(self, headers: Sequence[str]) -> list[int]:
        """Return the indexes of the named headers that name no never-kept column.

        A header is dropped when a never-kept name is among its words, so
        "Mật khẩu phụ huynh" goes as well as "Mật khẩu".
        """
        return [
            index for index, header in enumerate(headers)
            if (key := match_key(header)) and not self._is_secret(key)
        ]

    def _is_secret(self, key: str) -> bool:
        padded = f" {key} "
        return any(f" {secret} " in padded for secret in self.never_keep)

    @classmethod
    def write_sample(cls, directory: Path) -> Path:
        """Write a small sample export under ``directory`` and return its path."""
        return write_sample(directory)

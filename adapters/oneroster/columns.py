"""Finding columns by name, and adding the virtual columns a stream derives from other files."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.text import match_key


def column_index(headers: Sequence[str], name: str) -> int | None:
    """Return the index of the header whose ``match_key`` equals that of ``name``, or ``None``."""
    key = match_key(name)
    for index, header in enumerate(headers):
        if match_key(header) == key:
            return index
    return None


def cell(cells: Sequence[str], index: int | None) -> str:
    """Return ``cells[index]``, or an empty string when the column is absent."""
    return cells[index] if index is not None else ""


def split_list(value: str) -> list[str]:
    """Split a OneRoster multi-value cell (``"a,b, c"``) into its non-empty items."""
    return [item.strip() for item in value.split(",") if item.strip()]


class VirtualColumns:
    """Columns appended to a stream's headers, filled from other files.

    When the file already has a column of the same name (by ``match_key``), no
    header is added: the derived value fills that column where its cell is
    empty, so a value written in the file always wins.
    """

    def __init__(self, headers: Sequence[str], names: Sequence[str]):
        self.headers = list(headers)
        self._targets: list[int] = []
        self.targets: dict[str, int] = {}  # each derived name and the column it fills
        for name in names:
            index = column_index(self.headers, name)
            if index is None:
                index = len(self.headers)
                self.headers.append(name)
            self._targets.append(index)
            self.targets[name] = index

    def fill(self, cells: list[str], values: Sequence[str]) -> list[str]:
        """Extend ``cells`` to the new width and fill in ``values``, in the order of ``names``."""
        cells.extend([""] * (len(self.headers) - len(cells)))
        for index, value in zip(self._targets, values, strict=True):
            if not cells[index]:
                cells[index] = value
        return cells

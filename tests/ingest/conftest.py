import pytest

from gateway.mapping.compiler import CompiledMapping
from tests.support.store import postgres_url, store  # noqa: F401 (fixtures)


@pytest.fixture
def mapped_rows(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the entity of every row that a mapping maps."""
    seen: list[str] = []
    original = CompiledMapping.map

    def counting(self: CompiledMapping, cells: list[str], place: object) -> object:
        seen.append(self.spec.entity)
        return original(self, cells, place)

    monkeypatch.setattr(CompiledMapping, "map", counting)
    return seen

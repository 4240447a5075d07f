"""A transaction left open by an interrupt is discarded, so that later writes commit."""

from __future__ import annotations

from gateway.store.database import discard_open_transaction
from gateway.store.models import StoreMeta
from tests.support.store import StoreHandle


def test_discard_open_transaction_lets_writes_commit(store: StoreHandle) -> None:
    # As a Ctrl-C between BEGIN and the body of a ``with db.atomic()`` block leaves it.
    store.db.atomic().__enter__()
    StoreMeta.insert(key="lost", value="1").execute()

    discard_open_transaction(store.db)
    with store.db.atomic():
        StoreMeta.insert(key="kept", value="1").execute()
    store.db.close()
    store.db.connect()

    keys = {row.key for row in StoreMeta.select()}
    assert "lost" not in keys
    assert "kept" in keys


def test_discard_open_transaction_without_one(store: StoreHandle) -> None:
    discard_open_transaction(store.db)
    StoreMeta.insert(key="plain", value="1").execute()
    assert StoreMeta.get(StoreMeta.key == "plain").value == "1"

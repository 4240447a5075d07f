"""Commands that set up and read the store: init, migrate, summary, changes."""

from __future__ import annotations

import json

import click

from gateway.cli.context import AppContext
from gateway.cli.render import entity_title, summary_lines
from gateway.i18n import lookup, t
from gateway.mapping.registry import import_shipped
from gateway.store.changelog import read_changes
from gateway.store.migrations import migrate


@click.command("init")
@click.option("--no-dev-keys", is_flag=True, help="Do not create development keys in certs/dev/.")
@click.pass_obj
def init_command(app: AppContext, no_dev_keys: bool) -> None:
    """Create or upgrade the store, import the shipped mappings, create development keys."""
    db = app.database(migrated=False)
    before, after = migrate(db)
    mappings = import_shipped()
    # Imported here: cryptography adds about 25 ms to every other command's start.
    from gateway.crypto import ensure_dev_keys

    keys = None if no_dev_keys else ensure_dev_keys()
    document = {"store_version": {"before": before, "after": after}, "mappings": mappings,
                "dev_keys": keys, "store": _safe_url(app.settings.store_url)}
    lines = [
        t("init.store", url=document["store"], before=before, after=after),
        t("init.mappings", new=mappings["new"], known=mappings["known"]),
    ]
    if keys:
        lines.append(t("init.dev_keys", path=keys["certificate"]))
    app.emit(document, lines)


def _safe_url(url: str) -> str:
    from gateway.store.database import _redact

    return _redact(url)


@click.command("migrate")
@click.pass_obj
def migrate_command(app: AppContext) -> None:
    """Bring the store's tables up to this version of the gateway."""
    before, after = migrate(app.database(migrated=False))
    app.emit({"before": before, "after": after}, [t("migrate.done", before=before, after=after)])


@click.command("summary")
@click.option("--source", help="Only records of this source.")
@click.pass_obj
def summary_command(app: AppContext, source: str | None) -> None:
    """Print active records per entity and per school."""
    app.database()
    document, lines = summary_lines(source)
    app.emit(document, lines)


@click.command("changes")
@click.option("--after", type=int, default=0, show_default=True, help="Sequence number already read.")
@click.option("--limit", type=int, default=100, show_default=True, help="Events per page.")
@click.option("--bound", type=int, help="Upper sequence bound of this pull (default: the horizon).")
@click.pass_obj
def changes_command(app: AppContext, after: int, limit: int, bound: int | None) -> None:
    """Read the change feed: the latest state of each record changed after a sequence number."""
    app.database()
    page = read_changes(after=after, limit=limit, bound=bound)
    events = [
        {"seq": e.seq, "record_id": e.record_id, "entity": e.entity, "op": e.op,
         "schema_version": e.schema_version, "source": e.source, "data": json.loads(e.data)}
        for e in page.events
    ]
    document = {"bound": page.bound, "next_after": page.next_after, "complete": page.complete,
                "events": events}
    lines = [t("changes.header", count=len(events), after=after, bound=page.bound)]
    lines += ["  " + t("changes.event", seq=e["seq"], op=lookup(f"decision.{e['op']}") or e["op"],
                       entity=entity_title(e["entity"]), record_id=e["record_id"]) for e in events]
    lines.append(t("changes.next", next_after=page.next_after))
    app.emit(document, lines)

"""Retention: prune quarantine rows and leftover staging past their configured age."""

from __future__ import annotations

from datetime import timedelta

from gateway.clock import utcnow
from gateway.ingest.runs import discard_staged
from gateway.settings import Settings
from gateway.store.models import Quarantine, Run


def prune(settings: Settings) -> dict[str, int]:
    """Delete quarantine rows older than ``quarantine_days`` and staged rows of old finished runs."""
    section = settings.section("retention")
    now = utcnow()
    quarantine_cutoff = now - timedelta(days=section["quarantine_days"])
    staging_cutoff = now - timedelta(days=section["staging_days"])
    quarantine = Quarantine.delete().where(Quarantine.created_at < quarantine_cutoff).execute()
    old_runs = Run.select(Run.id).where(
        Run.state.in_(("failed", "interrupted", "superseded", "succeeded"))
        & (Run.heartbeat_at < staging_cutoff)
    )
    staged = discard_staged(old_runs)
    return {"quarantine": quarantine, "staged": staged}

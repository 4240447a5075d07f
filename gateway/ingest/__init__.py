"""Ingest runs: stage, compare, check the guard, apply.

- ``runs``: run state, heartbeats and the per-source lock.
- ``stage``: reads an adapter package through the mappings into staging and quarantine.
- ``compare``: decides what each staged record means for the store, and checks the
  mass-change guard.
- ``references``: rejects rows whose required references name no record of the source.
- ``apply``: writes the decisions in committed chunks with their change-log events.
- ``service``: ties them into the jobs the CLI calls.
"""

from tests.support.store import postgres_url, store  # noqa: F401 (fixtures)

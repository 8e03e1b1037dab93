"""Error classes the command line names without importing what raises them (pydantic, pandas): `--help` and the
live market-day guard stay light."""

from __future__ import annotations


class ConfigError(ValueError):
    """The config is unusable; the message is one line naming the file, the key and what to do."""


# Expected failures by (module, class): a module not imported yet cannot have raised one.
EXPECTED_ERRORS: tuple[tuple[str, str], ...] = (
    ("arena.errors", "ConfigError"),
    ("agent_tools.market_data", "MarketDataError"),
    ("agent_tools.ledger", "LedgerError"),
    ("agent_tools.market_calendar", "CalendarError"),
    ("agent_tools.news", "NewsError"),
    ("agent_tools.errors", "ToolInputError"),
    ("arena.models.base", "ModelError"),
    ("reports", "ReportError"),
    ("agent_tools.brokers.base", "BrokerError"),
    ("agent_tools.parquet_store", "StoreError"),
)


def is_expected(exc: BaseException) -> bool:
    """Whether `exc` is one of the failures the CLI reports in one line (looked up among loaded modules only)."""
    import sys

    for module, name in EXPECTED_ERRORS:
        loaded = sys.modules.get(module)
        kind = getattr(loaded, name, None) if loaded is not None else None
        if isinstance(kind, type) and isinstance(exc, kind):
            return True
    return False

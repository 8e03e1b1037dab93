"""Per-model live settings and what they connect to: Alpaca keys from the environment, the market-data view and
the broker. A missing key is a one-line error naming the variable; keys are never printed."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import click
from alpaca.data.historical.stock import StockHistoricalDataClient

from agent_tools.alpaca_http import Backoff, configure_client
from agent_tools.brokers.alpaca import AlpacaBroker, trading_client
from agent_tools.brokers.order_journal import OrderJournal
from agent_tools.live_view import LiveView
from agent_tools.market_calendar import MARKET_TZ, MarketCalendar
from arena.config import ArenaConfig, ConfigError, LiveSettings, ModelSettings


@dataclass(frozen=True)
class ModelPlan:
    """One model's live settings with its Alpaca keys read from the environment (never printed)."""

    model: ModelSettings
    settings: LiveSettings
    key: str
    secret: str

    @property
    def signature(self) -> str:
        return self.model.signature


def plan_for(config: ArenaConfig, model: ModelSettings) -> ModelPlan:
    """Resolve a model's live settings and keys; a missing key is a one-line error naming the variable."""
    if "out_dir" in model.live:
        raise ConfigError(f"models[{model.signature}].live.out_dir: set the output folder in the top-level live section")
    settings = config.live_for(model)
    key = os.environ.get(settings.api_key_env, "")
    secret = os.environ.get(settings.secret_key_env, "")
    missing = [name for name, value in ((settings.api_key_env, key), (settings.secret_key_env, secret)) if not value]
    if missing:
        raise ConfigError(
            f"model {model.signature!r} needs Alpaca API keys for live sessions: set the environment variable(s) "
            f"{' and '.join(missing)} (key id and secret of an Alpaca paper account), or name other variables in "
            "live.api_key_env / live.secret_key_env"
        )
    return ModelPlan(model, settings, key, secret)


def check_separate_accounts(plans: list[ModelPlan]) -> None:
    """Two models on one Alpaca account would reconcile each other's trades away: refuse it."""
    seen: dict[tuple[str, str], str] = {}
    for plan in plans:
        if plan.settings.broker != "alpaca":
            continue
        account = (plan.settings.trading_url or "", plan.key)
        if account in seen:
            raise ConfigError(
                f"models {seen[account]!r} and {plan.signature!r} would trade the same Alpaca account (key in "
                f"{plan.settings.api_key_env}); give each its own paper account with models[].live.api_key_env "
                "and secret_key_env, or use the 'paper' broker"
            )
        seen[account] = plan.signature


def data_client(plan: ModelPlan) -> StockHistoricalDataClient:
    client = StockHistoricalDataClient(plan.key, plan.secret, url_override=plan.settings.data_url)
    configure_client(client, plan.settings.http_timeout_seconds)
    return client


def retry_policy(settings: LiveSettings) -> Backoff:
    return Backoff(attempts=settings.retry_attempts, base=settings.retry_backoff_seconds)


def alpaca_broker(plan: ModelPlan, model_dir: Path, warn: bool = True) -> AlpacaBroker:
    """The model's Alpaca account; its order journal lives in `<model_dir>/orders/journal.jsonl`."""
    s = plan.settings
    if s.allow_live_account and warn:
        click.echo(f"WARNING: {plan.signature}: live.allow_live_account is true: orders go to a REAL-MONEY Alpaca account",
                   err=True)
    client = trading_client(plan.key, plan.secret, paper=not s.allow_live_account, url=s.trading_url,
                            http_timeout=s.http_timeout_seconds)
    return AlpacaBroker(client, order_timeout=s.order_timeout_seconds, poll_interval=s.poll_interval_seconds,
                        key_env=s.api_key_env, retry=retry_policy(s), journal=OrderJournal.for_model(model_dir))


def live_view(config: ArenaConfig, plan: ModelPlan, calendar: MarketCalendar, pinned: datetime | None) -> LiveView:
    today = (pinned or datetime.now(MARKET_TZ)).astimezone(MARKET_TZ).date()
    return LiveView(data_client(plan), config.membership.visible(today), plan.settings.data_feed, calendar, pinned=pinned,
                    key_env=plan.settings.api_key_env, retry=retry_policy(plan.settings))


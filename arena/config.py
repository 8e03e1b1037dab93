"""Run configuration: pydantic models validated on load, with one-line errors that name the key and the fix.

Relative paths in a config are resolved against the project folder (where main.py is), so a config works from any
working directory. Limits are set globally under `limits` and overridden per model.
"""

from __future__ import annotations

import json
import os
from datetime import date, time
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)

from agent_tools.limits import Limits
from agent_tools.universe import Member, Universe

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_DIR / "configs" / "default_config.json"
MARKET_OPEN, MARKET_CLOSE = time(9, 30), time(16, 0)  # regular NYSE hours, New York time
SIGNATURE_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


from arena.errors import ConfigError as ConfigError  # noqa: E402  (apart, so the CLI names it without pydantic)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PriceMoveRule(Strict):
    """A symbol's price moved more than `threshold` (a fraction) from the day's open or from the last session."""

    type: Literal["price_move"]
    threshold: float = Field(gt=0, le=1)
    symbols: Literal["holdings"] | list[str] = "holdings"
    reference: Literal["open", "last_session"] = "open"


class DrawdownRule(Strict):
    """The account's equity fell `threshold` (a fraction) below its peak of the day."""

    type: Literal["drawdown"]
    threshold: float = Field(gt=0, le=1)


class NewsRule(Strict):
    """A news item about one of `tickers` whose title or summary has any of `keywords` was published."""

    type: Literal["news"]
    keywords: list[str] = Field(min_length=1)
    tickers: Literal["holdings"] | list[str] = "holdings"


EventRule = Annotated[PriceMoveRule | DrawdownRule | NewsRule, Field(discriminator="type")]


class ExitRules(Strict):
    """Plain exit rules checked without the model: fractions of the average cost (stop_loss, take_profit) or of the
    peak price since entry (trailing_stop); null switches one off."""

    stop_loss: float | None = Field(None, gt=0, lt=1)
    take_profit: float | None = Field(None, gt=0, le=100)
    trailing_stop: float | None = Field(None, gt=0, lt=1)


class RunSettings(Strict):
    start: date = Field(description="first trading day of the replay")
    end: date = Field(description="last trading day of the replay")
    out_dir: str = "runs/default"
    initial_cash: float = Field(10000.0, gt=0)
    decision_time: time = Field(time(10, 0), description="New York wall-clock time of each session, in market hours "
                                "(the one-time shorthand of decision_times)")
    decision_times: list[time] | None = Field(None, min_length=1, max_length=24, description="several New York times "
                                              "a day, e.g. [\"10:00\", \"15:00\"]: one session per model per time")
    events: list[EventRule] = Field(default_factory=list, description="event triggers checked between scheduled times")
    max_sessions_per_day: int = Field(5, ge=1, le=100, description="sessions per model per day, scheduled and "
                                      "event together")
    min_interval_minutes: float = Field(60, ge=0, le=390, description="least time between two sessions of a model")
    parallel: int = Field(6, ge=1, le=64, description="models run at once")
    on_session_failure: Literal["continue", "stop"] = "continue"
    max_consecutive_failures: int = Field(3, ge=0, description="a model's stream stops after this many failed "
                                          "sessions in a row (0: never)")
    seed: int | None = Field(None, ge=0, description="seed sent to providers that accept one; repeat k of "
                             "--repeats sends seed + k - 1 (k when unset)")
    max_cost_usd: float | None = Field(None, ge=0, description="spending cap of the whole run (every model and "
                                       "repeat, reruns included); a stream stops before a session it cannot afford")

    @model_validator(mode="after")
    def _order(self) -> RunSettings:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        if (self.decision_times is not None and "decision_time" in self.model_fields_set
                and self.decision_time not in self.decision_times):
            raise ValueError(f"decision_time {self.decision_time:%H:%M} is not among decision_times; set either "
                             "decision_time (one time) or decision_times (several)")
        key = "decision_times" if self.decision_times is not None else "decision_time"
        for moment in self.times:
            if not MARKET_OPEN <= moment < MARKET_CLOSE:
                raise ValueError(f"{key} {moment:%H:%M} is outside market hours (09:30 to 16:00 New York time): "
                                 "every order would be refused; choose a time such as \"10:00\"")
        times = self.times
        if len(set(times)) != len(times):
            raise ValueError(f"decision_times: {', '.join(f'{t:%H:%M}' for t in times)} lists a time twice")
        if len(times) > self.max_sessions_per_day:
            raise ValueError(f"decision_times has {len(times)} times but max_sessions_per_day is "
                             f"{self.max_sessions_per_day}; raise the cap or drop times")
        gaps = [(a, b) for a, b in zip(times, times[1:], strict=False)
                if _minutes_between(a, b) < self.min_interval_minutes]
        if gaps:
            a, b = gaps[0]
            raise ValueError(f"decision_times {a:%H:%M} and {b:%H:%M} are closer than min_interval_minutes "
                             f"({self.min_interval_minutes:g}); space them out or lower the interval")
        return self

    @property
    def times(self) -> list[time]:
        """The scheduled decision times of a day, in order (`decision_times`, else the one `decision_time`)."""
        return sorted(self.decision_times) if self.decision_times is not None else [self.decision_time]


def _minutes_between(a: time, b: time) -> float:
    return (b.hour * 60 + b.minute + b.second / 60) - (a.hour * 60 + a.minute + a.second / 60)


class DataSettings(Strict):
    daily_prices: str = Field("data/prices/daily_prices.csv", description="a CSV file or a fetched daily dataset")
    hourly_prices: str | None = Field("data/prices/hourly_prices.csv", description="hourly bars: a CSV file or a "
                                      "fetched dataset")
    intraday_prices: str | None = Field(None, description="a fetched hour or minute dataset; replaces hourly_prices")


class NewsSettings(Strict):
    source: Literal["local", "alphavantage", "none"] = "local"
    path: str = "data/news/news_sample.jsonl"
    api_key_env: str = "ALPHAVANTAGE_API_KEY"
    base_url: str = "https://www.alphavantage.co/query"
    min_age_minutes: float = Field(0.0, ge=0, le=7 * 24 * 60, description="safety lag: an item is shown only once "
                                   "it is this old (for sources whose pages change after publication)")


class ExecutionSettings(Strict):
    slippage_bps: float = Field(5.0, ge=0, le=500)
    fee_model: Literal["none", "per_share", "bps"] = "per_share"
    per_share: float = Field(0.005, ge=0)
    fee_minimum: float = Field(0.35, ge=0)
    fee_bps: float = Field(1.0, ge=0)


class SessionBounds(Strict):
    max_steps: int = Field(30, ge=1, le=500, description="model calls per session")
    timeout_seconds: float = Field(300, gt=0, description="wall-clock limit per session")
    max_tokens: int = Field(200_000, ge=1000, description="prompt + completion tokens per session")
    history_days: int = Field(5, ge=1, le=20, description="days of closes in the prompt's market summary")


# -- what a model's `params` may hold, by kind or baseline strategy (a typo or a bad value is an error on load) -------
Schedule = Literal["daily", "weekly", "monthly", "never"]


class BuyAndHoldParams(Strict):
    symbol: str = "QQQ"
    min_trade_value: float = Field(1.0, ge=0)


class EqualWeightParams(Strict):
    rebalance: Schedule = "monthly"
    exclude: list[str] = ["QQQ"]
    min_trade_value: float = Field(1.0, ge=0)


class MomentumParams(Strict):
    lookback_days: int = Field(20, ge=2, le=59)
    top_n: int = Field(5, ge=1, le=50)
    rebalance: Schedule = "weekly"
    min_trade_value: float = Field(1.0, ge=0)


class RandomParams(Strict):
    seed: int = Field(0, ge=0)
    holdings: int = Field(5, ge=1, le=100)
    turnover: float = Field(0.10, ge=0, le=2)
    exposure: float = Field(0.99, gt=0, le=1)
    min_trade_value: float = Field(1.0, ge=0)


class ScriptedCall(Strict):
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class ScriptedParams(Strict):
    plan: list[list[ScriptedCall]] | None = None
    latency: float = Field(0.0, ge=0)
    tokens_per_step: int = Field(0, ge=0)


class OpenAIParams(Strict):
    backoff_base: float = Field(0.5, ge=0, le=60, description="first retry delay, seconds (doubles per retry)")


# A strategy without an entry here (a new baseline) takes its params unchecked; add its schema when adding it.
PARAMS: dict[str, type[Strict]] = {
    "openai": OpenAIParams, "scripted": ScriptedParams,
    "buy_and_hold": BuyAndHoldParams, "equal_weight": EqualWeightParams, "momentum": MomentumParams,
    "random": RandomParams,
}


class TokenPrice(Strict):
    prompt_per_million: float = Field(0.0, ge=0)
    completion_per_million: float = Field(0.0, ge=0)
    cached_prompt_per_million: float | None = Field(None, ge=0)


class ModelSettings(Strict):
    signature: str = Field(description="folder name under the output dir; unique per model")
    enabled: bool = True
    kind: Literal["openai", "baseline", "scripted"] = "openai"
    # OpenAI-compatible back ends
    model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    timeout: float = Field(60.0, gt=0)
    max_retries: int = Field(3, ge=0, le=10)
    temperature: float | None = Field(None, ge=0, le=2)
    parallel_tool_calls: bool = True
    extra_body: dict[str, Any] = Field(default_factory=dict)
    price: TokenPrice = TokenPrice()
    send_seed: bool = Field(True, description="send `seed` (false for a provider that rejects the parameter)")
    max_cost_usd: float | None = Field(None, ge=0, description="spending cap of this model (all its repeats, "
                                       "reruns included)")
    # built-in baselines and scripted models
    strategy: Literal["buy_and_hold", "equal_weight", "momentum", "random"] | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    # per-model overrides
    limits: dict[str, Any] = Field(default_factory=dict)
    session: dict[str, Any] = Field(default_factory=dict)
    exits: dict[str, Any] = Field(default_factory=dict, description="overrides of the exits section")
    every_trigger: bool | None = Field(None, description="baselines act once a day (the first scheduled time) "
                                       "unless true; models act at every trigger unless false")
    live: dict[str, Any] = Field(default_factory=dict, description="overrides of the live section, e.g. own Alpaca keys")
    initial_cash: float | None = Field(None, gt=0)
    knowledge_cutoff: date | None = Field(None, description="last day the model's training data covers (reports split there)")

    @field_validator("signature")
    @classmethod
    def _signature(cls, value: str) -> str:
        if not value or not set(value) <= SIGNATURE_CHARS:
            raise ValueError(f"signature {value!r} may use only letters, digits, '-', '_' and '.'")
        return value

    @model_validator(mode="after")
    def _kind_fields(self) -> ModelSettings:
        if self.kind == "openai":
            missing = [k for k in ("model", "base_url", "api_key_env") if not getattr(self, k)]
            if missing:
                raise ValueError(f"an 'openai' model needs {', '.join(missing)}")
        if self.kind == "baseline" and self.strategy is None:
            raise ValueError("a 'baseline' model needs 'strategy': buy_and_hold, equal_weight, momentum or random")
        schema = PARAMS.get(self.strategy if self.kind == "baseline" else self.kind)  # type: ignore[arg-type]
        if schema is not None:
            try:
                schema.model_validate(self.params)
            except ValidationError as exc:
                raise ValueError(f"params: {_first_error(exc)}") from None
        return self

    @property
    def is_baseline(self) -> bool:
        return self.kind == "baseline"


class LiveSettings(Strict):
    broker: Literal["paper", "alpaca"] = "paper"
    data_url: str | None = Field(None, description="Alpaca market-data base URL override")
    trading_url: str | None = Field(None, description="Alpaca trading base URL override")
    api_key_env: str = "APCA_API_KEY_ID"
    secret_key_env: str = "APCA_API_SECRET_KEY"
    data_feed: Literal["iex", "sip"] = "iex"
    allow_live_account: bool = Field(False, description="send orders to a real-money account (paper=False)")
    order_timeout_seconds: float = Field(30.0, gt=0)
    poll_interval_seconds: float = Field(0.5, gt=0)
    http_timeout_seconds: float = Field(10.0, gt=0, description="per HTTP request to Alpaca (requests has none by default)")
    retry_attempts: int = Field(4, ge=1, le=10, description="tries per Alpaca request on 429, 5xx, timeouts")
    retry_backoff_seconds: float = Field(0.5, gt=0, le=60, description="first wait between tries; doubles each time")
    out_dir: str = Field("runs/live", description="live ledgers and logs, apart from replays (--out overrides)")
    watch_interval_seconds: float = Field(300, ge=5, le=3600, description="live --daemon: how often event "
                                          "triggers are polled while the market is open")


class ReportSettings(Strict):
    periods_per_year: int = Field(252, ge=1)
    risk_free_rate: float = Field(0.0, ge=-0.1, le=0.5, description="annual, for Sharpe and Sortino")
    bootstrap_reps: int = Field(1000, ge=50, le=100_000, description="stationary-bootstrap resamples per statistic")
    seed: int = Field(2025, ge=0, description="seeds every resampling and the random traders: same runs, same report")
    random_traders: int = Field(100, ge=0, le=10_000, description="random traders each model is placed among (0: off)")
    knowledge_cutoffs: dict[str, date] = Field(
        default_factory=dict, description="signature -> training cutoff, for runs not in models[] (AI-Trader's)")


class UniverseEntry(Strict):
    """A symbol with membership dates (both inclusive, both optional): outside them it is neither shown nor tradable."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    symbol: str
    start: date | None = Field(None, alias="from")
    end: date | None = Field(None, alias="to")

    @model_validator(mode="after")
    def _order(self) -> UniverseEntry:
        if self.start and self.end and self.end < self.start:
            raise ValueError(f"{self.symbol}: 'to' {self.end} is before 'from' {self.start}")
        return self


class ArenaConfig(Strict):
    run: RunSettings
    data: DataSettings = DataSettings()
    universe: Annotated[list[str], Field(min_length=1, description="symbols, or {symbol, from, to} with membership dates")]
    _membership: dict[str, UniverseEntry] = PrivateAttr(default_factory=dict)
    news: NewsSettings = NewsSettings()
    execution: ExecutionSettings = ExecutionSettings()
    limits: Limits = Limits()
    session: SessionBounds = SessionBounds()
    exits: ExitRules = ExitRules()
    models: list[ModelSettings]
    live: LiveSettings = LiveSettings()
    report: ReportSettings = ReportSettings()

    @model_validator(mode="wrap")
    @classmethod
    def _dated_universe(cls, data: Any, handler: Any) -> ArenaConfig:
        """Entries with membership dates become plain symbols in `universe`; their dates are kept apart."""
        dated: dict[str, UniverseEntry] = {}
        if isinstance(data, dict) and isinstance(data.get("universe"), list):
            symbols: list[Any] = []
            for i, raw in enumerate(data["universe"]):
                if isinstance(raw, dict):
                    try:
                        entry = UniverseEntry.model_validate(raw)
                    except ValidationError as exc:
                        raise ValueError(f"universe[{i}]: {_first_error(exc)}") from None
                    clean = entry.symbol.strip().upper()
                    dated[clean] = entry.model_copy(update={"symbol": clean})
                    symbols.append(clean)
                else:
                    symbols.append(raw)
            data = {**data, "universe": symbols}
        config = handler(data)
        config._membership.update(dated)
        return config

    @field_serializer("universe")
    def _dump_universe(self, value: list[str]) -> list[Any]:
        return [self._membership[s].model_dump(mode="json", by_alias=True) if s in self._membership else s
                for s in value]

    @property
    def membership(self) -> Universe:
        """The universe through time (which symbols are members on a given day)."""
        return Universe(tuple(Member(s, *(self._membership[s].start, self._membership[s].end))
                              if s in self._membership else Member(s) for s in self.universe))

    @field_validator("universe")
    @classmethod
    def _universe(cls, value: list[str]) -> list[str]:
        clean = [s.strip().upper() for s in value]
        dupes = sorted({s for s in clean if clean.count(s) > 1})
        if dupes:
            raise ValueError(f"duplicate symbol(s) {', '.join(dupes)}")
        return clean

    @model_validator(mode="after")
    def _unique_signatures(self) -> ArenaConfig:
        seen = [m.signature for m in self.models]
        dupes = sorted({s for s in seen if seen.count(s) > 1})
        if dupes:
            raise ValueError(f"duplicate model signature(s) {', '.join(dupes)}")
        return self

    @model_validator(mode="after")
    def _per_model_overrides(self) -> ArenaConfig:
        """A typo or bad value in a model's `limits`, `session` or `live` is an error on load, not mid-run."""
        for model in self.models:
            self.limits_for(model)
            self.bounds_for(model)
            self.exits_for(model)
            self.live_for(model)
        return self

    # -- derived -------------------------------------------------------------------------------------------------
    def path(self, value: str) -> Path:
        p = Path(value).expanduser()
        return p if p.is_absolute() else PROJECT_DIR / p

    def limits_for(self, model: ModelSettings) -> Limits:
        try:
            return Limits(**{**self.limits.model_dump(), **model.limits})
        except ValidationError as exc:
            raise ConfigError(f"models[{model.signature}].limits: {_first_error(exc)}") from None

    def bounds_for(self, model: ModelSettings) -> SessionBounds:
        try:
            return SessionBounds(**{**self.session.model_dump(), **model.session})
        except ValidationError as exc:
            raise ConfigError(f"models[{model.signature}].session: {_first_error(exc)}") from None

    def exits_for(self, model: ModelSettings) -> ExitRules:
        try:
            return ExitRules(**{**self.exits.model_dump(), **model.exits})
        except ValidationError as exc:
            raise ConfigError(f"models[{model.signature}].exits: {_first_error(exc)}") from None

    def acts_every_trigger(self, model: ModelSettings) -> bool:
        """Baselines act at most once a day (the day's first scheduled time) unless configured otherwise."""
        return model.every_trigger if model.every_trigger is not None else not model.is_baseline

    def live_for(self, model: ModelSettings) -> LiveSettings:
        try:
            return LiveSettings(**{**self.live.model_dump(), **model.live})
        except ValidationError as exc:
            raise ConfigError(f"models[{model.signature}].live: {_first_error(exc)}") from None

    def initial_cash_for(self, model: ModelSettings) -> float:
        return model.initial_cash or self.run.initial_cash

    def enabled_models(self, only: list[str] | None = None) -> list[ModelSettings]:
        if only:
            known = {m.signature: m for m in self.models}
            unknown = [s for s in only if s not in known]
            if unknown:
                raise ConfigError(f"--models: unknown signature(s) {', '.join(unknown)}; known: {', '.join(known)}")
            return [known[s] for s in only]
        return [m for m in self.models if m.enabled]


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        return f"unknown key '{where}' (check its spelling against configs/default_config.json)"
    if err["type"] == "missing":
        return f"missing key '{where}'"
    msg = err["msg"].removeprefix("Value error, ")
    value = err.get("input")
    loc = err["loc"]
    if len(loc) == 2 and loc[0] == "models" and isinstance(value, dict) and value.get("signature"):
        where = f"models[{value['signature']}]"  # a whole model's check: name it by its signature
    shown = f" (got {value!r})" if value is not None and not isinstance(value, dict | list) else ""
    return f"{where}: {msg}{shown}" if where else msg


def load_config(path: Path | str | None = None, overrides: dict[str, Any] | None = None) -> ArenaConfig:
    """Read and validate a config file; `overrides` patch the `run` section (from CLI options)."""
    path = Path(path) if path else DEFAULT_CONFIG
    if not path.exists():
        raise ConfigError(f"config file {path} not found; pass --config PATH (see configs/default_config.json)")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} line {exc.lineno}: not valid JSON ({exc.msg})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the config must be a JSON object")
    if overrides:
        raw = {**raw, "run": {**raw.get("run", {}), **{k: v for k, v in overrides.items() if v is not None}}}
    try:
        return ArenaConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_first_error(exc)}") from None


def secret_env_names(config: ArenaConfig) -> list[str]:
    """Every environment variable the config names as holding a secret (their values are redacted everywhere)."""
    names = [m.api_key_env for m in config.models if m.api_key_env]
    names += [config.live.api_key_env, config.live.secret_key_env, config.news.api_key_env]
    names += [str(v) for m in config.models for k, v in m.live.items() if k in ("api_key_env", "secret_key_env") and v]
    return names


def check_api_keys(config: ArenaConfig, models: list[ModelSettings]) -> None:
    """An enabled model whose API key variable is unset is an error before anything runs (the key is never shown)."""
    for model in models:
        if model.kind == "openai" and model.api_key_env and not os.environ.get(model.api_key_env):
            raise ConfigError(
                f"model {model.signature!r} needs an API key: set the environment variable {model.api_key_env} "
                "or disable the model (\"enabled\": false)"
            )

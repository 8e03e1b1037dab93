"""The blind diagnostic (`run --blind`): the same market with every identity taken away, to see how much of a model's
result comes from remembering names rather than reading prices.

- tickers become stable aliases (`A001`...) in a seeded random order, kept for the run in `<out>/blind.json`;
- every price is rebased so that each symbol closed at 100 on the session before the window's first day (returns are
  unchanged; share counts scale with the price, so a blind ledger holds alias shares at rebased prices);
- news keeps its text but loses names: tickers and company names become the alias, links are dropped, tickers
  outside the universe are removed.

It wraps what the tools stand on, the market data (`blind_market_data`) and the news source (`BlindNews`), so the
point-in-time view, the tools, the risk rules and the end-of-run leaderboard run unchanged on the blind market;
only `run --blind` in main.py knows.
The report translates a blind ledger back into real shares and prices (`to_named_record`, in arena/blind_map.py
with the saved map) and shows the named-versus-blind gap when both runs exist. A diagnostic, not the default:
anonymizing also loses real signal.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

from agent_tools.market_data import MarketData, SymbolBars
from agent_tools.news import NewsItem, NewsSource
from agent_tools.universe import Universe
from arena.blind_map import BLIND_FILE, BlindMap
from arena.config import PROJECT_DIR, ArenaConfig, ConfigError
from arena.desk_factory import Market

NAMES_FILE = PROJECT_DIR / "data" / "reference" / "company_names.json"
PRICE_KEYS = ("open", "high", "low", "close")


def make_map(data: MarketData, universe: list[str], base_day: date, seed: int) -> BlindMap:
    order = list(universe)
    random.Random(seed).shuffle(order)
    aliases = {real: f"A{i:03d}" for i, real in enumerate(order, start=1)}
    scale = {}
    for real in universe:
        bars = data.daily[real]
        i = bars.index_of_day(base_day)
        if i is None:
            raise ConfigError(f"--blind: {real} has no close on {base_day} to rebase its prices to 100; start the "
                              "run on a day whose previous session has prices for every symbol")
        scale[real] = 100.0 / bars.close[i]
    return BlindMap(aliases, scale, base_day, seed)


def load_or_create(out_dir: Path, data: MarketData, universe: list[str], base_day: date, seed: int) -> BlindMap:
    """The run's map: the saved one on a rerun (so aliases and prices stay stable), else a new one, saved."""
    path = Path(out_dir) / BLIND_FILE
    if path.exists():
        blind = BlindMap.from_json(json.loads(path.read_text(encoding="utf-8")))
        if set(blind.aliases) != set(universe):
            raise ConfigError(f"{path} was made for another universe; use another --out for this blind run")
        return blind
    blind = make_map(data, universe, base_day, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(blind.to_json(), indent=2) + "\n", encoding="utf-8")
    return blind


def _rebased(series: SymbolBars, alias: str, scale: float) -> SymbolBars:
    bars = [replace(b, symbol=alias, open=round(b.open * scale, 4), high=round(b.high * scale, 4),
                    low=round(b.low * scale, 4), close=round(b.close * scale, 4), volume=round(b.volume / scale))
            for b in series.bars]
    return SymbolBars.from_bars(bars, alias)


def blind_market_data(data: MarketData, blind: BlindMap) -> MarketData:
    """The market in aliases and rebased prices: daily and hourly bars alike (volumes scale the other way, so the
    traded value of a bar is unchanged). The point-in-time view, the tools and the risk rules run on it unchanged."""
    daily = {blind.aliases[s]: _rebased(b, blind.aliases[s], blind.scale[s]) for s, b in data.daily.items()
             if s in blind.aliases}
    hourly = {blind.aliases[s]: _rebased(b, blind.aliases[s], blind.scale[s]) for s, b in data.hourly.items()
              if s in blind.aliases}
    members = Universe(tuple(replace(m, symbol=blind.aliases[m.symbol]) for m in data.members.members
                             if m.symbol in blind.aliases)) if data.members else None
    return MarketData(blind.universe, daily, hourly, data.daily_path, data.hourly_path, members)


def _names() -> dict[str, list[str]]:
    try:
        return json.loads(NAMES_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


class BlindNews:
    """News with names and tickers replaced by the run's aliases; a ticker filter is given as an alias."""

    def __init__(self, source: NewsSource, blind: BlindMap):
        self.source = source
        self.blind = blind
        self.name = source.name
        patterns = []
        for real, names in _names().items():
            if real in blind.aliases:
                for name in sorted(names, key=len, reverse=True):
                    patterns.append((re.compile(rf"(?<![A-Za-z]){re.escape(name)}(?:'s|’s)?(?![A-Za-z])",
                                                re.IGNORECASE), blind.aliases[real]))
        self.names = patterns

    def strip(self, text: str) -> str:
        for pattern, alias in self.names:
            text = pattern.sub(alias, text)
        return self.blind.hide(text)

    def search(self, instant: datetime, query: str = "", ticker: str | None = None, limit: int = 5) -> list[NewsItem]:
        real_ticker = self.blind.real(ticker) if ticker else None
        terms = [self.blind.reals.get(t.upper(), t) for t in re.split(r"\s+", query or "") if t]
        items = self.source.search(instant, " ".join(terms), real_ticker, limit)
        return [replace(i, title=self.strip(i.title), summary=self.strip(i.summary), url="",
                        tickers=tuple(self.blind.aliases[t] for t in i.tickers if t in self.blind.aliases))
                for i in items]


def blind_config(config: ArenaConfig, blind: BlindMap) -> ArenaConfig:
    """The config the blind run's tools and baselines see: the universe in aliases, baseline symbols mapped."""
    models = []
    for model in config.models:
        if model.kind == "baseline":
            params = dict(model.params)
            if model.strategy == "buy_and_hold":
                params["symbol"] = blind.aliases.get(str(params.get("symbol", "QQQ")).upper(), params.get("symbol"))
            if model.strategy in ("equal_weight", "momentum"):
                params["exclude"] = [blind.aliases[s] for s in params.get("exclude", ["QQQ"]) if s in blind.aliases]
            model = model.model_copy(update={"params": params})
        models.append(model)
    blinded = config.model_copy(update={"universe": list(blind.universe), "models": models})
    blinded._membership = {blind.aliases[s]: entry.model_copy(update={"symbol": blind.aliases[s]})  # dates follow
                           for s, entry in config._membership.items() if s in blind.aliases}
    return blinded


def blind_run(config: ArenaConfig, market: Market, out_dir: Path, first: date) -> tuple[ArenaConfig, Market, Path]:
    """What `run --blind` runs on: the blind config and market, writing into `<out>/blind`."""
    previous = market.calendar.previous_session(first)
    if previous is None:
        raise ConfigError(f"--blind: no session before {first} to rebase prices on")
    folder = Path(out_dir) / "blind"
    blind = load_or_create(folder, market.data, list(config.universe), previous.day, seed=0)
    blind_market = Market(blind_market_data(market.data, blind), market.calendar, BlindNews(market.news, blind))
    return blind_config(config, blind), blind_market, folder

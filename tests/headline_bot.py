"""A bot that reads only headlines: the probe for leaked outcomes in a news corpus.

Each session it reads the day's headlines (items known within the last 24 hours), counts bullish and bearish words,
and holds QQQ unless the headlines are bearish, when it goes to cash. Headlines carry no edge unless they report the
future: with a leaking corpus it sells before a sell-off it has already read about. `python -m tests.headline_bot`
replays October 2025 with it against QQQ buy-and-hold on the bundled corpus and on the corpus as it leaked.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

from agent_tools.market_calendar import MARKET_TZ
from arena.models.base import FINISH_SIGNAL, ModelTurn, ToolCall

BEARISH = re.compile(r"\b(drops?|dropp(ed|ing)|falls?|fell|declines?|declin(ed|ing)|lower|sell-?off|plunges?|slides?|"
                     r"slumps?|tumbles?|tumbled|sinks?|sank|losses|worries|fears)\b", re.I)
BULLISH = re.compile(r"\b(records?|rises?|rose|rall(y|ies)|higher|gains?|surges?|soars?|jumps?|climbs?|highs?)\b", re.I)


def known_at(item: dict) -> datetime:
    """When an item became known, from what the tool shows (a date alone: the end of that day)."""
    stamp = item.get("updated_at") or item["published_at"]
    if len(stamp) == 10:
        return datetime.fromisoformat(stamp).replace(tzinfo=MARKET_TZ) + timedelta(days=1)
    return datetime.fromisoformat(stamp)


class HeadlineBot:
    is_baseline = True

    def __init__(self, label: str = "headline-bot", symbol: str = "QQQ"):
        self.label, self.symbol = label, symbol

    async def complete(self, messages: list[dict], tools: list[dict]) -> ModelTurn:
        step = sum(1 for m in messages if m["role"] == "assistant")
        if step == 0:
            return ModelTurn(None, [ToolCall("h0", "get_portfolio", "{}"), ToolCall("h1", "search_news", '{"limit": 20}'),
                                    ToolCall("h2", "get_price", json.dumps({"symbols": [self.symbol]}))])
        if step > 1:
            return ModelTurn(f"done. {FINISH_SIGNAL}")
        results = {m["tool_call_id"]: json.loads(m["content"]) for m in messages if m["role"] == "tool"}
        portfolio, news, price = results["h0"], results["h1"], results["h2"]["prices"][self.symbol]["price"]
        now = datetime.fromisoformat(portfolio["time"])
        titles = [i["title"] for i in news["items"] if now - known_at(i) <= timedelta(hours=24)]
        mood = sum(len(BULLISH.findall(t)) - len(BEARISH.findall(t)) for t in titles)
        held = portfolio["holdings"].get(self.symbol, {}).get("quantity", 0)
        if mood < 0 and held:
            order = ("sell", held)
        elif mood >= 0 and not held:
            order = ("buy", int(portfolio["cash"] * 0.99 // price))
        else:
            return ModelTurn(f"mood {mood}: no change. {FINISH_SIGNAL}")
        side, amount = order
        return ModelTurn(f"mood {mood}", [ToolCall(f"t_{side}", side, json.dumps(
            {"symbol": self.symbol, "amount": amount, "reason": f"headline mood {mood}"}))])

    async def aclose(self) -> None:
        return None


def leaky_copy(corpus: str, path) -> None:
    """The corpus as it leaked: rewritten pages back at their first stamp (without the `updated_at` of their text)."""
    lines = [json.loads(line) for line in corpus.splitlines() if line.strip()]
    path.write_text("".join(json.dumps({k: v for k, v in item.items() if k != "updated_at"}) + "\n" for item in lines),
                    encoding="utf-8")


def replay_returns(corpus_path, out_dir, with_buy_and_hold: bool = True) -> dict[str, float]:
    """Cumulative return at the 2025-10-30 close of the headline bot (and QQQ buy-and-hold) over October 2025."""
    import asyncio

    from arena.config import DEFAULT_CONFIG, ArenaConfig
    from arena.desk_factory import load_market
    from arena.run_loop import run_replay

    raw = json.loads(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    raw["news"] = {"source": "local", "path": str(corpus_path)}
    raw["models"] = [{"signature": "headline-bot", "kind": "scripted", "limits": {"max_position_weight": 1.0}}] + [
        m for m in raw["models"] if with_buy_and_hold and m["signature"] == "baseline-buy-and-hold-qqq"]
    config = ArenaConfig.model_validate(raw)
    market = load_market(config)
    asyncio.run(run_replay(config, market, config.enabled_models(), out_dir, config.run.start, config.run.end,
                           parallel=2, backends={"headline-bot": HeadlineBot()}))
    out = {}
    for model in config.enabled_models():
        last = json.loads((out_dir / model.signature / "position" / "position.jsonl").read_text().splitlines()[-1])
        value = last["positions"]["CASH"] + sum(
            q * market.data.daily[s].bars[market.data.daily[s].index_of_day(config.run.end)].close
            for s, q in last["positions"].items() if s != "CASH" and q)
        out[model.signature] = value / config.run.initial_cash - 1
    return out


if __name__ == "__main__":
    import tempfile
    from pathlib import Path

    from arena.config import PROJECT_DIR

    bundled = PROJECT_DIR / "data" / "news" / "news_sample.jsonl"
    with tempfile.TemporaryDirectory() as tmp:
        leaky = Path(tmp) / "leaky.jsonl"
        leaky_copy(bundled.read_text(encoding="utf-8"), leaky)
        for name, path in (("bundled (fixed)", bundled), ("as it leaked", leaky)):
            returns = replay_returns(path, Path(tmp) / name.split()[0])
            print(f"{name}: " + ", ".join(f"{k} {v:+.2%}" for k, v in returns.items()))

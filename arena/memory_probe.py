"""The memory probe: does the model remember prices? Ask it, with no tools and no context, for the closing price of
sampled symbols on sampled days, and compare its answers with the data.

A model that recalls a period answers its closes to within a percent; past its training data it refuses or misses.
The probe groups answers by month (answered, refused, median absolute error, share within 1%) and estimates where
recall stops: the month boundary that best separates accurate months from inaccurate ones. It costs real tokens, so
it prints an estimate first and refuses to start (or stops) at `--max-cost-usd`.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import openai

from agent_tools.market_data import MarketData
from arena.config import ArenaConfig, ConfigError, ModelSettings
from arena.models.base import ModelError

QUESTION = ("What was the official closing price of {symbol} stock on {day:%A, %B %d, %Y} (NASDAQ, US dollars, "
            "not adjusted for later splits)? Answer with the number only, for example 123.45. If you do not know, "
            "answer UNKNOWN.")
MAX_ANSWER_TOKENS = 16
PROMPT_OVERHEAD_TOKENS = 12  # role markers and the chat template, on top of the question text
NUMBER = re.compile(r"(?<![\w.])\$?\s*(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)")
REFUSAL = re.compile(r"unknown|don't know|do not know|cannot|can't|not able|no data|unable", re.IGNORECASE)
WITHIN = 0.01  # an answer within 1% of the close counts as remembered


class ProbeError(ValueError):
    """The probe cannot run (not an LLM model, no data in range, over the cost cap); one line with the fix."""


@dataclass(frozen=True)
class Question:
    symbol: str
    day: date
    close: float

    @property
    def text(self) -> str:
        return QUESTION.format(symbol=self.symbol, day=self.day)


@dataclass
class Answer:
    symbol: str
    day: str
    close: float
    reply: str
    value: float | None
    refused: bool
    error: float | None  # |value / close - 1|
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass
class MonthRow:
    month: str
    asked: int
    answered: int
    refused: int
    median_error: float | None
    within: float | None  # share of answered questions within 1%; refusals count as misses


@dataclass
class ProbeResult:
    signature: str
    model: str
    answers: list[Answer] = field(default_factory=list)
    months: list[MonthRow] = field(default_factory=list)
    recall_until: str | None = None  # last month the model still recalls (YYYY-MM), None when it recalls none
    cost: float = 0.0
    stopped: str | None = None


def sample_questions(data: MarketData, symbols: list[str], start: date, end: date, samples: int,
                     seed: int) -> list[Question]:
    """`samples` (symbol, day) pairs spread evenly over the months of the range, in a seeded random order."""
    days = [d for d in data.trading_days() if start <= d <= end]
    if not days:
        raise ProbeError(f"no trading day with prices between {start} and {end}; pick dates within "
                         f"{data.first_day}..{data.last_day}")
    rng = random.Random(seed)
    by_month: dict[str, list[date]] = {}
    for day in days:
        by_month.setdefault(f"{day:%Y-%m}", []).append(day)
    months = sorted(by_month)
    questions: list[Question] = []
    for i in range(samples):
        month_days = by_month[months[i % len(months)]]
        day = rng.choice(month_days)
        symbol = rng.choice(symbols)
        bars = data.daily[symbol]
        index = bars.index_of_day(day)
        if index is None:
            continue
        questions.append(Question(symbol, day, bars.close[index]))
    rng.shuffle(questions)
    return questions


def estimate_cost(questions: list[Question], model: ModelSettings) -> float:
    """Prompt tokens ~ characters / 4 plus the template; the answer at most MAX_ANSWER_TOKENS."""
    prompt = sum(len(q.text) / 4 + PROMPT_OVERHEAD_TOKENS for q in questions)
    completion = MAX_ANSWER_TOKENS * len(questions)
    return (prompt * model.price.prompt_per_million + completion * model.price.completion_per_million) / 1e6


def parse_reply(reply: str) -> tuple[float | None, bool]:
    """(the price given, whether the model declined); a reply without a number is a refusal."""
    match = NUMBER.search(reply or "")
    if match is None:
        return None, True
    value = float(match.group(1).replace(",", ""))
    return (value, False) if value > 0 else (None, True)


def summarize(answers: list[Answer]) -> list[MonthRow]:
    rows = []
    for month in sorted({a.day[:7] for a in answers}):
        group = [a for a in answers if a.day[:7] == month]
        errors = sorted(a.error for a in group if a.error is not None)
        median = errors[len(errors) // 2] if errors else None
        close = sum(1 for e in errors if e <= WITHIN)
        rows.append(MonthRow(month, len(group), len(errors), sum(a.refused for a in group), median,
                             close / len(group) if group else None))
    return rows


def recall_boundary(rows: list[MonthRow]) -> str | None:
    """The last month before the split that best separates accurate months from later inaccurate ones.

    For each split k, the score is mean(share within 1% of months < k) - mean(share of months >= k); the best split
    must also leave the earlier months mostly accurate (mean share >= 0.5), else the model recalls no month here.
    """
    shares = [r.within or 0.0 for r in rows]
    if not shares:
        return None
    if min(shares) >= 0.5:
        return rows[-1].month  # it recalls every month probed
    best, best_score = None, -math.inf
    for k in range(1, len(shares)):
        before, after = shares[:k], shares[k:]
        score = sum(before) / len(before) - sum(after) / len(after)
        if sum(before) / len(before) >= 0.5 and score > best_score:
            best, best_score = k, score
    return rows[best - 1].month if best is not None else None


def ask(client: openai.OpenAI, model: ModelSettings, question: Question) -> tuple[str, int, int]:
    try:
        response = client.chat.completions.create(
            model=model.model or "", messages=[{"role": "user", "content": question.text}],
            max_tokens=MAX_ANSWER_TOKENS, temperature=0, **({"extra_body": model.extra_body} if model.extra_body else {}),
        )
    except openai.APIError as exc:
        raise ModelError(f"model {model.signature!r}: the probe's request failed ({type(exc).__name__}: "
                         f"{getattr(exc, 'message', '')[:160]})") from None
    reply = (response.choices[0].message.content or "").strip() if response.choices else ""
    usage = response.usage
    return reply, (usage.prompt_tokens if usage else 0), (usage.completion_tokens if usage else 0)


def run_probe(config: ArenaConfig, model: ModelSettings, data: MarketData, questions: list[Question],
              max_cost_usd: float, say: Callable[[str], None], api_key: str) -> ProbeResult:
    """Ask every question, stopping before the spend could pass the cap; then summarize by month."""
    if model.kind != "openai":
        raise ProbeError(f"model {model.signature!r} is a {model.kind} model; the memory probe asks an LLM "
                         "(kind 'openai')")
    estimate = estimate_cost(questions, model)
    say(f"probe-memory: {len(questions)} questions to {model.signature} ({model.model}); estimated cost "
        f"${estimate:.4f} (cap ${max_cost_usd:.2f})")
    if estimate > max_cost_usd:
        raise ProbeError(f"the estimated cost ${estimate:.4f} is above --max-cost-usd {max_cost_usd:g}; raise the cap "
                         "or ask fewer --samples")
    client = openai.OpenAI(base_url=model.base_url, api_key=api_key, timeout=model.timeout,
                           max_retries=model.max_retries)
    result = ProbeResult(model.signature, model.model or "")
    per_question = estimate / len(questions) if questions else 0.0
    try:
        for question in questions:
            if result.cost + per_question > max_cost_usd:
                result.stopped = f"stopped after {len(result.answers)} questions: the next could pass the cap"
                break
            reply, prompt, completion = ask(client, model, question)
            value, refused = parse_reply(reply)
            refused = refused or bool(REFUSAL.search(reply) and value is None)
            error = abs(value / question.close - 1.0) if value is not None else None
            result.answers.append(Answer(question.symbol, question.day.isoformat(), question.close, reply[:80],
                                         value, refused, error, prompt, completion))
            result.cost += (prompt * model.price.prompt_per_million
                            + completion * model.price.completion_per_million) / 1e6
    finally:
        client.close()
    result.months = summarize(result.answers)
    result.recall_until = recall_boundary(result.months)
    return result


def table_lines(result: ProbeResult) -> list[str]:
    lines = [f"{'month':<8} {'asked':>5} {'answered':>8} {'refused':>7} {'median error':>12} {'within 1%':>9}"]
    for row in result.months:
        median = f"{row.median_error:.1%}" if row.median_error is not None else "—"
        within = f"{row.within:.0%}" if row.within is not None else "—"
        lines.append(f"{row.month:<8} {row.asked:>5} {row.answered:>8} {row.refused:>7} {median:>12} {within:>9}")
    if result.recall_until is None:
        lines.append("estimated recall: none of the months probed (no month with most answers within 1%)")
    elif result.months and result.recall_until == result.months[-1].month:
        lines.append(f"estimated recall: every month probed, through {result.recall_until} (probe later dates)")
    else:
        lines.append(f"estimated recall stops after {result.recall_until}: treat days up to then as remembered "
                     f"(models[].knowledge_cutoff)")
    lines.append(f"spent ${result.cost:.4f}" + (f"; {result.stopped}" if result.stopped else ""))
    return lines


def recall_chart(result: ProbeResult) -> bytes:
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    from reports.charts import _png

    figure = Figure(figsize=(8, 3.2))
    figure.subplots_adjust(left=0.09, right=0.98, bottom=0.16, top=0.86)
    ax = figure.add_subplot()
    months = [r.month for r in result.months]
    ax.bar(months, [r.within or 0.0 for r in result.months], color="#1f77b4", label="answers within 1%")
    refused = [r.refused / r.asked if r.asked else 0.0 for r in result.months]
    ax.plot(months, refused, color="#b3261e", marker="o", label="refused")
    if result.recall_until in months:
        ax.axvline(months.index(result.recall_until) + 0.5, color="#111111", linestyle="--", label="recall stops")
    ax.set_ylim(0, 1)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_title(f"{result.signature}: does it remember closing prices?", loc="left", fontsize=11, fontweight="bold")
    ax.legend(fontsize=8, frameon=False, loc="upper right")
    return _png(figure)


def write_outputs(result: ProbeResult, folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    data_path = folder / f"{result.signature}.json"
    data_path.write_text(json.dumps(asdict(result), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    chart_path = folder / f"{result.signature}.png"
    chart_path.write_bytes(recall_chart(result))
    return data_path, chart_path


def model_for(config: ArenaConfig, signature: str) -> ModelSettings:
    known = {m.signature: m for m in config.models}
    if signature not in known:
        raise ConfigError(f"--model: unknown signature {signature!r}; known: {', '.join(known)}")
    return known[signature]

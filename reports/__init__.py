"""Reports: leaderboard, risk-adjusted metrics, benchmarks, charts and a self-contained HTML file from run folders.

One module per job: `runs` finds and loads run folders (ours and AI-Trader's), `equity` marks ledgers to market,
`metrics` computes the statistics, `benchmarks` builds QQQ and equal-weight curves from prices alone, `logs` finds
the reasons models gave, `notes` collects warnings said once, `build` assembles one comparison window, and `text`, `charts`, `html` render it; `cli` is
the entry point used by `tradearena report`.
"""


class ReportError(ValueError):
    """The report cannot be built (missing run folder, no overlap, bad window); the message is one line with a fix."""

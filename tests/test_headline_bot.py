"""The bundled corpus no longer lets a bot that reads only headlines beat QQQ buy-and-hold on leaked outcomes."""

from __future__ import annotations

import logging

from tests.conftest import PROJECT_DIR
from tests.headline_bot import leaky_copy, replay_returns

BUNDLED = PROJECT_DIR / "data" / "news" / "news_sample.jsonl"


def test_a_headline_bot_beats_buy_and_hold_only_on_the_corpus_as_it_leaked(tmp_path, caplog):
    leaky = tmp_path / "leaky.jsonl"
    leaky_copy(BUNDLED.read_text(encoding="utf-8"), leaky)

    with caplog.at_level(logging.ERROR):
        fixed = replay_returns(BUNDLED, tmp_path / "fixed")
        leaked = replay_returns(leaky, tmp_path / "leaked", with_buy_and_hold=False)

    hold = fixed["baseline-buy-and-hold-qqq"]
    assert leaked["headline-bot"] > hold + 0.02  # the premise: live pages read before the session they report
    assert fixed["headline-bot"] < hold

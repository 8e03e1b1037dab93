"""A big price file is parsed once and then read from the cache, but only while the cache holds that very file: a
changed file or a damaged cache copy is parsed again, and a file with a problem is never cached."""

from __future__ import annotations

import pytest

from agent_tools import price_cache
from agent_tools.market_data import DAILY_COLUMNS, DAILY_FORMAT, MarketDataError, load_market_data
from tests.test_price_csv import HEADER, as_columns, careful, write

ROWS = [f"2025-10-{d:02d},{s},{d}.25,{d + 1}.5,{d}.125,{d}.375,{d * 100}" for d in range(1, 29) for s in ("AAA", "BBB")]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TRADEARENA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(price_cache, "MIN_BYTES", 0)  # cache even these small files


def read(path) -> dict:
    return as_columns(price_cache.read_prices(path, DAILY_COLUMNS, DAILY_FORMAT, daily=True))


def test_a_second_read_comes_from_the_cache_with_exactly_the_parsed_columns(tmp_path, cache, monkeypatch):
    path = write(tmp_path, [HEADER, *ROWS])
    first = read(path)
    monkeypatch.setattr(price_cache, "read_price_columns", lambda *a, **k: pytest.fail("parsed again"))

    assert read(path) == first == careful(path)


def test_a_changed_file_is_parsed_again_not_read_from_the_stale_copy(tmp_path, cache):
    path = write(tmp_path, [HEADER, *ROWS])
    before = read(path)
    write(tmp_path, [HEADER, *ROWS[:-1], ROWS[-1].replace("28.375", "28.5")])

    after = read(path)

    assert after == careful(path) and after != before


def test_a_damaged_cache_copy_is_ignored_and_replaced(tmp_path, cache):
    path = write(tmp_path, [HEADER, *ROWS])
    read(path)
    copy = price_cache.cache_path(path)
    damaged = bytearray(copy.read_bytes())
    damaged[-3] ^= 0x40
    copy.write_bytes(bytes(damaged))

    assert read(path) == careful(path)
    assert copy.read_bytes() != bytes(damaged)


def test_a_file_with_a_bad_row_is_never_cached_and_still_names_the_row(tmp_path, cache):
    path = write(tmp_path, [HEADER, *ROWS, "2025-10-29,AAA,10,9,9.5,10,1"])

    with pytest.raises(MarketDataError, match="line 58: 'high' below open, low or close"):
        load_market_data(path, None, ("AAA", "BBB"))
    assert not price_cache.cache_path(path).exists()

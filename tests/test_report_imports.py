"""What the `report` command's process imports: pyarrow only when a price path is a fetched Parquet dataset
(reports/cli.py `without_pyarrow`), with the same output either way."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from arena.config import load_config
from reports.cli import run_report, without_pyarrow
from tests.conftest import PROJECT_DIR, PYTHON, subprocess_env
from tests.report_support import real_run


def _fresh(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-c", textwrap.dedent(code), *args], cwd=PROJECT_DIR, capture_output=True,
                          text=True, timeout=120, env=subprocess_env())


def test_a_report_on_csv_prices_keeps_pyarrow_out_and_writes_what_a_process_with_pyarrow_writes(write_config,
                                                                                                 tmp_path):
    config = write_config(report={"bootstrap_reps": 100, "random_traders": 20})
    fresh, here = tmp_path / "fresh.json", tmp_path / "here.json"
    done = _fresh("""
    import sys
    from main import cli

    cli(["report", "--config", sys.argv[1], "--out", sys.argv[2], "--format", "json", "--output", sys.argv[3]])
    assert "pandas" in sys.modules and sys.modules["pyarrow"] is None
    assert not [m for m in sys.modules if m.startswith("pyarrow.")]
    """, str(config), str(real_run()), str(fresh))
    assert done.returncode == 0, done.stderr
    import pandas  # noqa: F401  (in this process pandas brings pyarrow in, as it does wherever it is installed)

    assert sys.modules.get("pyarrow") is not None
    run_report(load_config(config), real_run(), [], None, None, "json", here)
    assert json.loads(fresh.read_text()) and fresh.read_bytes() == here.read_bytes()


def test_a_report_on_a_parquet_dataset_keeps_pyarrow(write_config, tmp_path):
    dataset = tmp_path / "daily"
    dataset.mkdir()
    (dataset / "_coverage.json").write_text("{}", encoding="utf-8")  # what makes a folder a fetched dataset
    config = write_config(data={"daily_prices": str(dataset)})
    done = _fresh("""
    import sys
    from pathlib import Path
    from arena.config import load_config
    from reports.cli import without_pyarrow

    assert not without_pyarrow(load_config(Path(sys.argv[1])))
    assert "pyarrow" not in sys.modules
    """, str(config))
    assert done.returncode == 0, done.stderr


def test_pyarrow_is_left_alone_once_pandas_is_imported(write_config):
    import pandas  # noqa: F401  (as in this test process, or any caller that has used pandas already)

    before = sys.modules.get("pyarrow")
    assert not without_pyarrow(load_config(Path(write_config())))
    assert sys.modules.get("pyarrow") is before

"""The repeats layout of `run --repeats N`: `<out>/repeat-<k>/<signature>/...`, k = 1..N.

One place names it: the run loop writes it, the spending caps, the manifest, `--fresh`, replays and the report read it.
"""

from __future__ import annotations

import re
from pathlib import Path

REPEAT = re.compile(r"repeat-(\d+)")


def repeat_dir(out_dir: Path, k: int) -> Path:
    return Path(out_dir) / f"repeat-{k}"


def repeat_number(folder: Path) -> int | None:
    """k of a `repeat-<k>` folder; None for any other folder."""
    found = REPEAT.fullmatch(Path(folder).name)
    return int(found.group(1)) if found else None


def repeat_dirs(out_dir: Path) -> list[Path]:
    """The repeat folders of a run folder, by k (none when it is not a folder)."""
    if not Path(out_dir).is_dir():
        return []
    found = [d for d in Path(out_dir).iterdir() if d.is_dir() and repeat_number(d) is not None]
    return sorted(found, key=lambda d: repeat_number(d) or 0)

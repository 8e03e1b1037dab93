"""Commands we print for the user to run next, spelled so they work when pasted into a fresh shell.

A fresh shell has no virtualenv active, so a bare `python` or `tradearena` may not be ours there. We print the
`tradearena` console script of the interpreter that is running (`.venv/bin/tradearena` when the user sits
in the project folder, its full path otherwise), or that interpreter with `main.py` when the script is missing.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


def _shown(path: Path) -> str:
    """A path relative to the working folder when it lies inside it (`.venv/bin/tradearena`), else absolute."""
    try:
        relative = path.relative_to(Path.cwd())
    except ValueError:
        return str(path)
    return str(relative) if os.sep in str(relative) else f"./{relative}"  # a bare name would be looked up on PATH


def program() -> str:
    """How to call TradeArena from a fresh shell."""
    bin_dir = Path(sys.executable).parent
    script = bin_dir / "tradearena"
    if script.exists():
        return shlex.quote(_shown(script.absolute()))
    return f"{shlex.quote(_shown(Path(sys.executable).absolute()))} {shlex.quote(_shown(PROJECT_DIR / 'main.py'))}"


def cli_command(*args: str | Path) -> str:
    """`program()` followed by the arguments, each quoted for a POSIX shell."""
    return " ".join([program(), *(shlex.quote(str(a)) for a in args)])

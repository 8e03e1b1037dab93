"""`python tests/import_probe.py LOG ARGS...`: run main.py's command line with ARGS, recording which thread first
imported each module (an audit hook); at exit the record is written to LOG as JSON, {thread name: [module, ...]}.

It tells what a command's main thread imports apart from its worker threads (`serve-tools` loads its market data in
a thread named `desk-builder`), which `-X importtime` cannot.
"""

from __future__ import annotations

import atexit
import json
import sys
import threading
from pathlib import Path

LOG = Path(sys.argv[1])
imported: dict[str, list[str]] = {}


def record(event: str, args: tuple) -> None:
    if event == "import":
        imported.setdefault(threading.current_thread().name, []).append(args[0])


def write() -> None:
    LOG.write_text(json.dumps(imported), encoding="utf-8")


sys.addaudithook(record)
atexit.register(write)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.argv = ["main.py", *sys.argv[2:]]

from main import cli  # noqa: E402  (after the hook, so main's own imports are recorded)

cli()

"""Work the report does in a second process while the first does something else: reading the ledgers while the
prices load, then the statistics' pieces, which both processes claim (`Claims`). The second process is forked, so it
starts with everything already imported and loaded and hands back one pickled result.

The work runs inline instead (the same call, at the same point, with the same result) where a second process cannot
help or is not safe: one core, no core to spare (load average), not Linux, other threads running (a fork copies
their locks but not the threads), or `TRADEARENA_REPORT_INLINE=1` in the environment (`=0`: a second process
whatever the load).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

from reports import ReportError

T = TypeVar("T")
INLINE_ENV = "TRADEARENA_REPORT_INLINE"


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _busy() -> bool:
    """No core to spare: the load average says the others are taken (two processes on one core are slower than one,
    by the cost of handing results over; measured on the 10-year report at load 2: 9.7 s forked, 8.1-8.8 s inline)."""
    try:
        return os.getloadavg()[0] > _cores() - 0.5
    except OSError:
        return False


def can_fork() -> bool:
    """Linux only: macOS lists `fork` but system libraries there are not safe to use in a forked child."""
    setting = os.environ.get(INLINE_ENV, "")
    return (setting in ("", "0") and _cores() > 1 and threading.active_count() == 1
            and sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()
            and (setting == "0" or not _busy()))


class Pending(Generic[T]):
    """A result being computed beside the caller; `result()` waits for it (or raises what the work raised)."""

    def __init__(self, fn: Callable[..., T], args: tuple[Any, ...]):
        self._value: tuple[bool, Any] | None = None
        self._child = None
        if not can_fork():
            self._value = _outcome(fn, args)
            return
        context = multiprocessing.get_context("fork")
        self._receive, send = context.Pipe(duplex=False)
        self._child = context.Process(target=_work, args=(send, fn, args), daemon=True, name="report-beside")
        self._child.start()
        send.close()

    @property
    def forked(self) -> bool:
        """Whether the work runs in a second process (else it ran inline, when this was made)."""
        return self._child is not None

    def result(self) -> T:
        if self._value is None:
            assert self._child is not None
            try:
                with gc_paused():  # unpickling ten years of ledger digests: only new objects, no garbage
                    self._value = self._receive.recv()
            except EOFError:
                self._child.join()  # its exit code, for the message
                self._value = (False, ReportError(f"the report's second process died (exit code "
                                                  f"{self._child.exitcode}); rerun with {INLINE_ENV}=1"))
            except BaseException:  # Ctrl-C while waiting: the second process ignores it and would block on sending its
                self._child.terminate()  # result (it holds the pipe's other end too), so the join below never returned
                raise
            finally:
                self._receive.close()
                self._child.join()
        ok, value = self._value
        if ok:
            return value
        raise value


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while building many objects that all stay alive (a ledger's digest, a result
    being unpickled): the collector would walk them again and again for nothing (measured: 5-8% of reading the
    10-year ledgers, a third of unpickling them). Reference counting still frees everything else."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def beside(fn: Callable[..., T], *args: Any) -> Pending[T]:
    """Start `fn(*args)` in a forked process when that can help, else run it now."""
    return Pending(fn, args)


def _outcome(fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[bool, Any]:
    try:
        return True, fn(*args)
    except Exception as exc:  # handed to the caller, raised where it asks for the result
        return False, exc


def _work(send, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    # Ctrl-C reaches the whole process group: the caller says it in one line and its exit stops this process (a
    # daemon), which would otherwise print a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    outcome = _outcome(fn, args)
    try:
        send.send(outcome)
    except Exception as exc:  # a result or an error that does not pickle
        send.send((False, RuntimeError(f"{type(exc).__name__}: {exc}")))
    finally:
        send.close()


class Claims:
    """Items 0..count-1 shared out between this process and one beside it: one takes from the front, the other from
    the back, each as it becomes free, so neither waits while the other has several left."""

    def __init__(self, count: int):
        self._ends = multiprocessing.get_context().Array("i", [0, count])  # [next from the front, one past the back]

    def take(self, from_back: bool = False) -> int | None:
        with self._ends.get_lock():
            front, back = self._ends[0], self._ends[1]
            if front >= back:
                return None
            if from_back:
                self._ends[1] = back - 1
                return back - 1
            self._ends[0] = front + 1
            return front

    def front(self) -> int:
        """The next item from the front: every item before it has been taken."""
        with self._ends.get_lock():
            return self._ends[0]

    def run(self, pieces: Sequence[Callable[[], T]], from_back: bool = False) -> dict[int, T]:
        """Take items and run `pieces[item]()` for each until none is left: {item: its result}."""
        done: dict[int, T] = {}
        while (item := self.take(from_back)) is not None:
            done[item] = pieces[item]()
        return done

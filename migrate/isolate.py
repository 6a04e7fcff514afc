"""Run one function over many inputs in worker processes that may crash or hang.

libcst's native parser overflows its stack on a deeply nested file and takes
the whole process down with SIGSEGV; a pathological file can also make it run
for minutes. :func:`run_isolated` therefore never parses in the calling
process: forked workers take batches of input *indexes* (they inherit the
inputs themselves, so nothing but results is pickled), send one result per
input as soon as it is done, and when a worker dies or stays silent longer than
the per-input timeout, the input it was working on is the first of its batch
without a result. That input becomes a :class:`Failed`, the rest of the batch
goes back in the queue, a fresh worker takes over, and every other input still
gets its result. Workers dump no core (RLIMIT_CORE 0).
"""

from __future__ import annotations

import contextlib
import faulthandler
import multiprocessing
import os
import resource
import signal
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_TIMEOUT = 120.0  # seconds for one input; a 10 MiB BUILD file parses in ~20 s
MAX_BATCH = 64
_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


@contextlib.contextmanager
def _stop_signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM stay pending (blocked) inside: a worker forked here
    starts with them blocked, so it never runs a handler of the parent's, and the
    parent's clean-up of its workers is never cut short. They are acted on as
    soon as the block ends."""
    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - not POSIX
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


@dataclass(frozen=True)
class Failed:
    """An input whose function call did not return: why, as a sentence."""

    reason: str


@dataclass
class _Worker(Generic[T]):
    process: BaseProcess
    conn: Connection
    batch: deque[int] = field(default_factory=deque)
    deadline: float = 0.0


def _describe(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "too deeply nested to parse (RecursionError)"
    if isinstance(exc, MemoryError):
        return "out of memory while parsing (MemoryError)"
    return f"internal error, file left as it was: {type(exc).__name__}: {exc}"


def _serve(fn: Callable[[Any], Any], items: Sequence[Any], conn: Connection,
           parent_end: Connection | None = None) -> None:
    """A worker: ``None`` ends it; a list of indexes is a batch to run in order.

    A forked worker inherits the parent's end of its own pipe and closes it
    first: otherwise it would never see end-of-file if the parent died without
    stopping it, and would live on holding the parent's stdout and stderr.
    """
    if parent_end is not None:
        parent_end.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what Ctrl-C does
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if hasattr(signal, "pthread_sigmask"):  # blocked by the parent around the fork
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    faulthandler.disable()  # a crash is reported by the parent, in one line
    # A crash must leave no core file in the user's tree (the worker's working
    # directory), whatever `ulimit -c` says; the hard limit too, for good.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    while True:
        try:
            batch = conn.recv()
        except EOFError:
            return
        if batch is None:
            return
        for index in batch:
            try:
                value: Any = fn(items[index])
                ok = True
            except Exception as exc:  # noqa: BLE001 - reported per input, never fatal
                value, ok = _describe(exc), False
            try:
                conn.send((index, ok, value))
            except Exception as exc:  # noqa: BLE001 - e.g. a result that does not pickle
                conn.send((index, False, _describe(exc)))


def _signal_name(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with status {code}"


def run_isolated(
    fn: Callable[[T], R],
    items: Sequence[T],
    workers: int,
    timeout: float = DEFAULT_TIMEOUT,
    on_result: Callable[[], None] | None = None,
) -> list[R | Failed]:
    """``[fn(item) for item in items]``, each call in a worker process.

    Args:
        fn: a module-level function (workers are forked, or spawned where
            fork does not exist).
        items: the inputs; results come back in the same order.
        workers: processes to use at most (at least one is always used).
        timeout: seconds one input may take before its worker is killed.
        on_result: called once per finished input (progress bars).

    Returns:
        One entry per input: its result, or :class:`Failed` with the reason
        (an exception, a crash of the worker with its signal, a timeout).
    """
    results: list[R | Failed | None] = [None] * len(items)
    if not items:
        return []
    methods = multiprocessing.get_all_start_methods()
    forking = "fork" in methods
    context = multiprocessing.get_context("fork" if forking else "spawn")
    workers = max(1, min(workers, len(items)))
    size = max(1, min(MAX_BATCH, len(items) // (workers * 8)))
    queue: deque[int] = deque(range(len(items)))
    active: list[_Worker[T]] = []
    left = len(items)

    def start() -> _Worker[T]:
        parent, child = context.Pipe()
        inherited = parent if forking else None  # a spawned worker gets only ``child``
        process = context.Process(target=_serve, args=(fn, items, child, inherited),
                                  daemon=True)
        with _stop_signals_held():
            process.start()
        child.close()
        return _Worker(process, parent)

    def finish(worker: _Worker[T], index: int, value: R | Failed) -> None:
        nonlocal left
        if worker.batch and worker.batch[0] == index:
            worker.batch.popleft()
        results[index] = value
        left -= 1
        worker.deadline = time.monotonic() + timeout
        if on_result is not None:
            on_result()

    def drain(worker: _Worker[T]) -> bool:
        """Read every result the worker has sent; False once its pipe is closed."""
        try:
            while worker.conn.poll():
                index, ok, value = worker.conn.recv()
                finish(worker, index, value if ok else Failed(value))
        except (EOFError, OSError):
            return False
        return True

    def retire(worker: _Worker[T], reason: str) -> None:
        if worker.batch:
            culprit = worker.batch.popleft()
            finish(worker, culprit, Failed(reason))
            queue.extendleft(reversed(worker.batch))
            worker.batch.clear()
        _stop(worker)
        active.remove(worker)

    try:
        while left:
            while queue and len(active) < workers:
                active.append(start())
            for worker in active:
                if not worker.batch and queue:
                    batch = [queue.popleft() for _ in range(min(size, len(queue)))]
                    worker.batch.extend(batch)
                    worker.deadline = time.monotonic() + timeout
                    worker.conn.send(batch)
            busy = [w for w in active if w.batch]
            if not busy:
                continue
            wait_for = max(0.0, min(w.deadline for w in busy) - time.monotonic())
            ready = set(wait([x for w in busy for x in (w.conn, w.process.sentinel)], wait_for))
            for worker in busy:
                if worker.conn in ready and not drain(worker):
                    ready.add(worker.process.sentinel)
                if worker.process.sentinel in ready:
                    drain(worker)
                    worker.process.join()
                    how = _signal_name(worker.process.exitcode)
                    retire(worker, f"the parser process crashed ({how}); file left as it was")
                elif worker.batch and time.monotonic() > worker.deadline:
                    drain(worker)
                    if worker.batch:
                        retire(worker, f"parsing took longer than {timeout:g} s; "
                               "file left as it was")
            for worker in [w for w in active if not w.batch and not queue]:
                _stop(worker, gently=True)
                active.remove(worker)
    finally:
        with _stop_signals_held():
            for worker in active:
                _stop(worker)
    return [r if r is not None else Failed("no result") for r in results]


def _stop(worker: _Worker[Any], gently: bool = False) -> None:
    if gently:
        with contextlib.suppress(OSError):
            worker.conn.send(None)
        worker.process.join(timeout=5)
    if worker.process.is_alive():
        worker.process.kill()
        worker.process.join()
    worker.conn.close()


def cpu_count() -> int:
    """Cores this process may run on (the affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _apply(packed: tuple[Callable[..., R], tuple[Any, ...]]) -> R:
    fn, args = packed
    return fn(*args)


def call_isolated(fn: Callable[..., R], *args: Any, timeout: float = DEFAULT_TIMEOUT
                  ) -> R | Failed:
    """``fn(*args)`` in one worker process (see :func:`run_isolated`)."""
    return run_isolated(_apply, [(fn, args)], 1, timeout)[0]

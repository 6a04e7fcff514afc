"""The migrator as a process's command (``python -m migrate``, ``pycross-image
migrate``): what SIGINT and SIGTERM do before and after the run itself.

While the modules load (libcst takes a moment), nothing is read or written
yet, so a signal ends the process at once with 128 + its number. Not by
``sys.exit``: a SystemExit raised inside an import can surface as another
error, with a traceback (Python wraps what a class body's ``__set_name__``
raises in a RuntimeError), and the status would be 1. During the run,
``migrate.cli.main`` acts on them between files (``write.stop_on_signals``).
After it, every file is written or left, and the process is about to exit: a
signal then is ignored, instead of meeting Python's restored default action
and ending the process as if the run had been cut short.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _stop_early(signum: int, frame: object) -> None:
    os._exit(128 + signum)


def run_command(argv: Sequence[str] | None = None) -> int:
    """Runs ``migrate.cli.main(argv)`` as the process's command; returns its exit
    status. For a process that exits right after (it leaves the signals ignored)."""
    for signum in _SIGNALS:
        signal.signal(signum, _stop_early)
    from migrate.cli import main

    code = main(argv)
    for signum in _SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    return code

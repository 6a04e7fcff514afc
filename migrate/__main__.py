"""``python -m migrate``: same as ``pycross-image migrate``."""

import signal
import sys


def _stop_early(signum: int, frame: object) -> None:
    # Ctrl-C or SIGTERM while the modules load: nothing is read or written yet
    sys.exit(128 + signum)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, _stop_early)
    signal.signal(signal.SIGTERM, _stop_early)
    from migrate.cli import main

    code = main()
    # Every file is written (or left) by now. A signal while the interpreter
    # shuts down would otherwise meet Python's restored default action and end
    # the process by SIGINT, as if the run had been cut short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.exit(code)

"""``python -m migrate``: same as ``pycross-image migrate``."""

import sys

from migrate.command import run_command

if __name__ == "__main__":
    sys.exit(run_command())

"""``python -m imagediff A B``: same as ``pycross-image diff A B``."""

import sys

from imagediff.cli import main

if __name__ == "__main__":
    sys.exit(main())

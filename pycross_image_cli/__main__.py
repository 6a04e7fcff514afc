"""``python -m pycross_image_cli``: the ``pycross-image`` command."""

import sys

from pycross_image_cli import main

if __name__ == "__main__":
    sys.exit(main())

"""Entry point of the layering core: ``python -m pycross_layers`` and the Bazel tool."""

import sys

from pycross_layers.cli import main

if __name__ == "__main__":
    sys.exit(main())

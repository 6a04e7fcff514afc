"""The app of the loop benchmark: the line below is the one the benchmark edits."""

import torch

GREETING = "edit 0"


def main() -> None:
    print(GREETING, torch.__version__)


if __name__ == "__main__":
    main()

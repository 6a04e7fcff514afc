"""The one error the tool reports to users (exit 2): bad input, named."""

from __future__ import annotations


class BadInput(Exception):
    """An image that cannot be read: ``where`` names the file, ``what`` the problem."""

    def __init__(self, where: str, what: str) -> None:
        what = " ".join(what.split())  # always one line
        super().__init__(f"{where}: {what}")
        self.where = where
        self.what = what

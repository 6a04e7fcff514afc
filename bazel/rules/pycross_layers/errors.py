"""The single error type of the layering core."""


class LayerError(Exception):
    """Bad input or an unwritable output: reported as one clear line, exit code 2."""

    exit_code = 2

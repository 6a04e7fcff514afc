"""Standard library stand-in."""

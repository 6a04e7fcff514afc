"""Helpers shared by the Bazel and image tests."""

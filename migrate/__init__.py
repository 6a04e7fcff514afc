"""Rewrite Bazel BUILD and .bzl files from rules_docker to rules_oci.

The pipeline has four stages, each in its own module:

* :mod:`migrate.find` selects files and targets (buildozer-style labels, paths);
* :mod:`migrate.plan` decides, as plain dataclass records, what each call becomes;
* :mod:`migrate.render` applies a plan to the libcst tree, formatted as buildifier would;
* :mod:`migrate.write` re-parses the result and replaces the file atomically.

:mod:`migrate.engine` runs them for one file, :mod:`migrate.cli` for a repository.
"""

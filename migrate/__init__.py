"""Rewrite Bazel BUILD, .bzl and WORKSPACE files from rules_docker to rules_oci.

A codemod in the style of LibCST's ``codemod`` package and Fixit, in stages:

* :mod:`migrate.find` selects files and targets (buildozer-style labels, paths);
* :mod:`migrate.read` parses a file and returns its records (:mod:`migrate.model`:
  plain dataclasses, statements referred to by index);
* :mod:`migrate.kinds` has one planner per rules_docker kind, each an attribute
  table (keep / rename / map / drop / refuse / custom) with before/after
  examples; :mod:`migrate.plan` runs them over a file and plans its loads;
* :mod:`migrate.render` applies the plans to the syntax tree (the only stage
  that edits one), formatted as buildifier would;
* :mod:`migrate.write` replaces files atomically.

:mod:`migrate.engine` runs one file through the stages (the same for BUILD,
.bzl and WORKSPACE files), :mod:`migrate.api` a whole request (the library
entry point), :mod:`migrate.cli` parses the flags.
"""

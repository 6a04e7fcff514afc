"""pycross_layers: the layering core of pycross_image.

Turns the runfiles of a Bazel executable into deterministic image layers
(one tar per layer group). Standard library only at run time, so it runs as a
hermetic Bazel action on any Python 3.9+ toolchain.

Modules, in the order data flows through them:

* ``contract``  -- constants shared with the Starlark rules, read from ``contract.bzl``.
* ``errors``    -- the one exception type; its message names the offending entry.
* ``entries``   -- the Entry record and the collector that rejects conflicts.
* ``links``     -- the link rule: which absolute symlinks are read through, which kept.
* ``manifest``  -- reads the manifest the ``py_image_layers`` rule writes.
* ``rundir``    -- reads a runfiles directory on disk.
* ``classify``  -- which layer group an entry belongs to.
* ``tarball``   -- the deterministic tar writer (all determinism rules live here).
* ``compress``  -- chooses the output stream: ``threaded_writer`` (none),
  ``gzip_stream`` (block-parallel gzip) or ``zstd_stream``.
* ``layers``    -- groups entries, writes one tar per group and ``layers.json``
  (all or nothing: staged next to the output and swapped in whole).
* ``launcher``  -- the image launcher of a binary (a rules_python script
  bootstrap becomes a Python program: no bash needed in the image).
* ``cli``       -- ``layers``, ``show`` and the Bazel actions (``layer``,
  ``launcher``); the ``pycross-image`` command (``pycross_image_cli``) adds
  ``migrate``.
"""

__version__ = "0.1.0"

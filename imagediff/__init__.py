"""``pycross-image diff`` / ``python -m imagediff``: compare two container images.

Images are docker-archive tarballs or OCI image layouts (``DIR`` or ``DIR:TAG``).
The merged filesystems (layers applied in order, whiteouts honoured) and the
image configs are compared. Modules, by job:

* :mod:`imagediff.load`    -- open an image: its config and its layer streams
* :mod:`imagediff.merge`   -- apply layers to a per-path metadata table
* :mod:`imagediff.compare` -- the differences between two images
* :mod:`imagediff.render`  -- a table or JSON
* :mod:`imagediff.cli`     -- arguments and exit codes
"""

"""Prints what the image holds at the shapes' paths, as JSON."""

import json
import os
import sys

runfiles = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
venv = os.path.join(runfiles, "image_ws", "shapes", "_shapes.venv")
site = os.path.join(venv, "lib", "python3.11", "site-packages")
python3 = os.path.join(venv, "bin", "python3")
sys.path.insert(0, site)
import blinker  # noqa: E402  (from the venv's site-packages)

print(json.dumps({
    "python3_link": os.readlink(python3),
    "python3_runs": os.access(python3, os.X_OK),
    "blinker": os.path.relpath(blinker.__file__, runfiles),
    "blinker_is_link": os.path.islink(blinker.__file__),
}))

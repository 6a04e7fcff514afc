# Test stand-in for rules_python's stage-2 bootstrap
# (python/private/stage2_bootstrap_template.py, rules_python 1.0.0 to 2.3.2),
# written as `_<name>_stage2_bootstrap.py` beside the launcher: it finds the
# runfiles root and runs the main file as __main__. Like rules_python 1.x it
# does not add the venv's site-packages itself: they come from running under
# the venv's bin/python3 (pyvenv.cfg, bazel.pth).
import os
import runpy
import sys

MAIN_PATH = "%main%"


def runfiles_root():
    given = os.environ.get("RUNFILES_DIR")
    if given and os.path.exists(os.path.join(given, MAIN_PATH)):
        return given
    me = os.path.abspath(sys.argv[0])
    if ".runfiles/" not in me:
        raise AssertionError("Cannot find .runfiles directory for %s" % sys.argv[0])
    return me[:me.rindex(".runfiles/")] + ".runfiles"


root = runfiles_root()
os.environ["RUNFILES_DIR"] = root
main = os.path.join(root, MAIN_PATH)
sys.argv = [main] + sys.argv[1:]
runpy.run_path(main, run_name="__main__")
sys.exit(0)

"""The README demo: build example/oci's image, run it in bwrap, show its answer and layers.

    bash .ci/setup && .venv/bin/python tests/demo.py

Offline: rules_oci is the test double (tests/doubles), the base image and the
pip repositories are built once from Debian packages and pip (tests/images),
cached under .cache/.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.images import bazel_env, build, runner  # noqa: E402

EXAMPLE = build.REPO / "example" / "oci"
GROUPS = ["interpreter", "packages", "werkzeug", "app"]


def main() -> int:
    missing = runner.have_tools()
    if missing:
        print(f"missing {', '.join(missing)}: run `bash .ci/setup` first", file=sys.stderr)
        return 1
    print("[demo] preparing offline fixtures (base image, Flask repositories)...", flush=True)
    fixtures = build.build_all()
    bazel = bazel_env.Bazel(EXAMPLE, build.CACHE / "bazel-demo", fixtures)
    print("[demo] bazel build //:image //:image.tarball  (example/oci)", flush=True)
    bazel.run("build", "//:image", "//:image.tarball")
    layout = bazel.output("//:image")
    cfg = runner.config(layout)
    print(f"[demo] entrypoint {cfg['config']['Entrypoint']}, workdir {cfg['config']['WorkingDir']},"
          f" {cfg['os']}/{cfg['architecture']}")

    print("[demo] running the image in bwrap, GET / ...", flush=True)
    answer = runner.run_http(layout, env={"HOST": "127.0.0.1"})
    if answer.status:
        print(f"[demo] HTTP {answer.status}: {answer.body}")
    else:
        print("[demo] the app did not answer; its output:\n" + answer.log)

    print()
    print(f"{'layer':<12} {'size':>11}  digest")
    total = 0
    for name, digest, size in runner.layer_table(layout, GROUPS):
        total += size
        print(f"{name:<12} {runner.human(size):>11}  {digest[:19]}")
    print(f"{'total':<12} {runner.human(total):>11}")
    bazel.shutdown()
    return 0 if answer.status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())

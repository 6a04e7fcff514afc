"""The README demo: build example/oci's image and its two-architecture image index,
run each image in bwrap (arm64 through qemu-aarch64), show answers and layers.

    bash .ci/setup && .venv/bin/python tests/demo.py

Offline: rules_oci is the test double (tests/doubles), the base images (amd64
and arm64) and the pip repositories are built once from Debian packages and pip
(tests/images), cached under .cache/. qemu-aarch64 is registered in binfmt_misc
for the arm64 run and removed afterwards (tests/support/binfmt.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.images import bazel_env, build, runner  # noqa: E402
from tests.support import binfmt  # noqa: E402

EXAMPLE = build.REPO / "example" / "oci"
GROUPS = ["interpreter", "packages", "werkzeug", "app"]


def print_layers(layout: Path) -> None:
    print(f"{'layer':<12} {'size':>11}  digest")
    total = 0
    for name, digest, size in runner.layer_table(layout, GROUPS):
        total += size
        print(f"{name:<12} {runner.human(size):>11}  {digest[:19]}")
    print(f"{'total':<12} {runner.human(total):>11}")


def answer_line(layout: Path) -> tuple[bool, str]:
    answer = runner.run_http(layout, env={"HOST": "127.0.0.1"}, timeout=120)
    if answer.status:
        return answer.status == 200, f"HTTP {answer.status}: {answer.body}"
    return False, "the app did not answer; its output:\n" + answer.log


def platform_name(cfg: dict) -> str:
    return "/".join(p for p in (cfg["os"], cfg["architecture"], cfg.get("variant")) if p)


def run_index(bazel: bazel_env.Bazel) -> bool:
    """Shows :image_index, then runs each of its images and shows its layers."""
    index = bazel.output("//:image_index")
    (top,) = json.loads((index / "index.json").read_text())["manifests"]
    blob = index / "blobs" / "sha256" / top["digest"].split(":", 1)[1]
    manifests = json.loads(blob.read_text())["manifests"]
    print(f"\n[demo] //:image_index  {top['digest']}")
    for m in manifests:
        print(f"[demo]   {platform_name(m['platform']):<15} {m['digest']}")
    try:
        registration = binfmt.register()
    except (binfmt.BinfmtUnavailable, binfmt.BinfmtSetupError) as exc:
        print(f"[demo] arm64 cannot run here: {exc}")
        registration = None
    ok = registration is not None
    try:
        for arch in ("amd64", "arm64"):
            layout = bazel.output(f"//:image_index.{arch}")
            cfg = runner.config(layout)
            if arch == "arm64" and registration is None:
                print(f"\n[demo] //:image_index.{arch} ({platform_name(cfg)}): not run")
            else:
                print(f"\n[demo] running //:image_index.{arch} ({platform_name(cfg)}) in bwrap"
                      + (" through qemu-aarch64" if arch == "arm64" else "") + ", GET / ...",
                      flush=True)
                answered, line = answer_line(layout)
                ok = ok and answered
                print(f"[demo] {platform_name(cfg)}: {line}")
            print_layers(layout)
    finally:
        if registration is not None:
            binfmt.unregister(registration)
    return ok


def main() -> int:
    missing = runner.have_tools()
    if missing:
        print(f"missing {', '.join(missing)}: run `bash .ci/setup` first", file=sys.stderr)
        return 1
    print("[demo] preparing offline fixtures (base images, interpreters, Flask repositories)...",
          flush=True)
    fixtures = build.build_all()
    bazel = bazel_env.Bazel(EXAMPLE, build.CACHE / "bazel-demo", fixtures)
    try:
        print("[demo] bazel build //:image //:image.tarball //:image_index  (example/oci)",
              flush=True)
        bazel.run("build", "//:image", "//:image.tarball", "//:image_index")
        layout = bazel.output("//:image")
        cfg = runner.config(layout)
        print(f"[demo] entrypoint {cfg['config']['Entrypoint']},"
              f" workdir {cfg['config']['WorkingDir']}, {cfg['os']}/{cfg['architecture']}")

        print("[demo] running the image in bwrap, GET / ...", flush=True)
        ok, line = answer_line(layout)
        print(f"[demo] {line}")
        print()
        print_layers(layout)
        ok = run_index(bazel) and ok
    finally:
        bazel.shutdown()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

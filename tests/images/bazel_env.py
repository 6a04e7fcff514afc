"""Running Bazel on the image test workspace and the examples, offline.

Computes the --override_repository flags that point rules_oci and
io_bazel_rules_docker at the test doubles, pycross_image at this checkout,
and the pip / interpreter repositories at the fixtures of build.py; and
registers a C++ toolchain for arm64 that compiles nothing (bazel4_cc_stub/),
which Bazel 4's native py_binary needs to build for linux_arm64.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.bazel import Bazel as _Bazel

from . import build

REPO = build.REPO
DOUBLES = REPO / "tests" / "doubles"
CC_STUB = Path(__file__).resolve().parent / "bazel4_cc_stub"


def _overrides(fixtures: dict) -> dict[str, str]:
    return {
        "rules_oci": str(DOUBLES / "rules_oci"),
        "io_bazel_rules_docker": str(DOUBLES / "io_bazel_rules_docker"),
        "rules_python": str(DOUBLES / "rules_python"),
        "bazel4_cc_stub": str(CC_STUB),
        **fixtures["repos"],
    }


class Bazel(_Bazel):
    """The shared runner with the doubles, fixture repositories and images wired in."""

    def __init__(self, workspace: Path, output_base: Path, fixtures: dict):
        super().__init__(
            Path(workspace), Path(output_base),
            extra_flags=[f"--repo_env=PYCROSS_TEST_IMAGES={fixtures['images']}",
                         "--extra_toolchains=@bazel4_cc_stub//:stub_cc_arm64",
                         "--jobs=2", "--color=no", "--curses=no", "--noshow_progress"],
            overrides=_overrides(fixtures),
        )
        self.fixtures = fixtures

    def bin_dir(self) -> Path:
        return Path(self.run("info", "bazel-bin").stdout.strip())

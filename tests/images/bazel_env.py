"""Running Bazel on the image test workspace and the examples, offline.

Computes the --override_repository flags that point rules_oci and
io_bazel_rules_docker at the test doubles, pycross_image at this checkout,
and the pip / interpreter repositories at the fixtures of build.py.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.bazel import Bazel as _Bazel

from . import build

REPO = build.REPO
DOUBLES = REPO / "tests" / "doubles"


def _overrides(fixtures: dict) -> dict[str, str]:
    return {
        "rules_oci": str(DOUBLES / "rules_oci"),
        "io_bazel_rules_docker": str(DOUBLES / "io_bazel_rules_docker"),
        "rules_python": str(DOUBLES / "rules_python"),
        **fixtures["repos"],
    }


class Bazel(_Bazel):
    """The shared runner with the doubles, fixture repositories and images wired in."""

    def __init__(self, workspace: Path, output_base: Path, fixtures: dict):
        super().__init__(
            Path(workspace), Path(output_base),
            extra_flags=[f"--repo_env=PYCROSS_TEST_IMAGES={fixtures['images']}",
                         "--jobs=2", "--color=no", "--curses=no", "--noshow_progress"],
            overrides=_overrides(fixtures),
        )
        self.fixtures = fixtures

    def bin_dir(self) -> Path:
        return Path(self.run("info", "bazel-bin").stdout.strip())

"""`migrate --verify` on copies of example/docker, built with the real Bazel under the
test doubles: the py3_image migration gives the same image, and a migration that
loses a `data` file is caught, named, and undone."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

import migrate.cli
from tests.images import bazel_env, build
from tests.support.bazel import OFFLINE_RC, REPO, RULES_PYTHON_DOUBLE, require_setup

pytestmark = pytest.mark.bazel

MIGRATE = ["--workspace", "--default-base-image", "localhost:5000/distroless/python3-debian12"]
RUNFILES = "/app/hello_image.binary.runfiles/example_docker"


@pytest.fixture(scope="module")
def fixtures():
    require_setup()
    return build.build_all()


def _copy(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    shutil.copytree(REPO / "example" / "docker", ws, ignore=shutil.ignore_patterns("bazel-*"))
    return ws


def _verify(ws: Path, tmp_path: Path, fixtures: dict, monkeypatch, capsys) -> tuple[int, str]:
    startup = [f"--output_base={tmp_path / 'output_base'}", "--nohome_rc",
               f"--bazelrc={OFFLINE_RC}", "--max_idle_secs=60"]
    repos = {"pycross_image": str(REPO), "rules_python": str(RULES_PYTHON_DOUBLE),
             **bazel_env._overrides(fixtures)}
    flags = [f"--override_repository={n}={p}" for n, p in sorted(repos.items())]
    flags += [f"--repo_env=PYCROSS_TEST_IMAGES={fixtures['images']}", "--jobs=2"]
    monkeypatch.chdir(ws)
    try:
        code = migrate.cli.main([".", "--verify", *MIGRATE,
                                 *[f"--bazel-startup-flag={f}" for f in startup], "--", *flags])
    finally:
        subprocess.run(["bazel", *startup, "shutdown"], cwd=ws, capture_output=True)
    out = capsys.readouterr().out
    return code, out


def test_verify_hello_image_is_the_same(tmp_path, fixtures, monkeypatch, capsys):
    ws = _copy(tmp_path)
    code, out = _verify(ws, tmp_path, fixtures, monkeypatch, capsys)
    assert code == 0, out
    assert out.splitlines() == ["//:hello_image: same",
                                "migrated files kept: BUILD.bazel, WORKSPACE"]
    assert "oci_py_image(" in (ws / "BUILD.bazel").read_text()


def test_verify_names_a_lost_data_file_and_restores(tmp_path, fixtures, monkeypatch, capsys):
    ws = _copy(tmp_path)
    build_file = ws / "BUILD.bazel"
    text = build_file.read_text()
    build_file.write_text(text.replace('    main = "hello.py",\n',
                                       '    data = ["greeting.txt"],\n    main = "hello.py",\n', 1))
    (ws / "greeting.txt").write_text("hello\n")
    before = {p: (ws / p).read_bytes() for p in ("BUILD.bazel", "WORKSPACE")}
    real_run = migrate.cli.run

    def losing_run(args, stdout, stderr):  # a migration that drops the binary's data
        code = real_run(args, stdout, stderr)
        if not args.check:
            migrated = build_file.read_text()
            assert '    data = ["greeting.txt"],\n' in migrated
            build_file.write_text(migrated.replace('    data = ["greeting.txt"],\n', "", 1))
        return code

    monkeypatch.setattr(migrate.cli, "run", losing_run)
    code, out = _verify(ws, tmp_path, fixtures, monkeypatch, capsys)
    assert code == 1, out
    lines = out.splitlines()
    assert lines[0] == "//:hello_image: different"
    rows = [line.split() for line in lines
            if line.strip()[:1] in ("+", "-", "~") and set(line.split()[1]) != {"-"}]
    assert rows == [["-", f"{RUNFILES}/greeting.txt", "type", "file", "-"]], out
    assert lines[-1] == "differences found: original files restored: BUILD.bazel, WORKSPACE"
    assert {p: (ws / p).read_bytes() for p in before} == before

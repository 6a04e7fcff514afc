"""Modes, exit codes, the JSON report, progress, and selecting what to migrate."""

from __future__ import annotations

import io
import json
import os

import pytest

from migrate import cli

LOAD = 'load("@io_bazel_rules_docker//python3:image.bzl", "py3_image")\n'


def image(name: str) -> str:
    return f'py3_image(\n    name = "{name}",\n    srcs = ["{name}.py"],\n)\n'


def build(*names: str) -> str:
    return LOAD + "".join("\n" + image(n) for n in names)


@pytest.fixture
def repo(ws):
    ws.write("a/BUILD", build("one", "two"), dedent=False)
    ws.write("a/sub/BUILD.bazel", build("three"), dedent=False)
    ws.write("b/BUILD", build("four"), dedent=False)
    ws.write("c/BUILD", 'py_library(\n    name = "lib",\n)\n', dedent=False)
    return ws


def test_modes_and_exit_codes(repo, run):
    before = repo.read("a/BUILD")
    diff = run(str(repo.root), "--diff")
    assert diff.code == 0
    assert diff.out.startswith("--- a/a/BUILD\n+++ b/a/BUILD\n")
    assert "+py_image(" in diff.out
    assert "targets migrated" in diff.err  # the summary is on stderr when stdout is a diff
    assert repo.read("a/BUILD") == before

    check = run(str(repo.root), "--check")
    assert check.code == 1
    assert repo.read("a/BUILD") == before

    write = run(str(repo.root))
    assert write.code == 0
    assert "4 targets migrated, 3 files changed" in write.out
    assert repo.read("a/BUILD") != before

    assert run(str(repo.root)).code == 3
    assert run(str(repo.root), "--check").code == 3
    again = run(str(repo.root), "--diff")
    assert again.code == 3 and again.out == ""


def test_json_report(repo, run):
    repo.write("b/BUILD", LOAD + "\n" + image("four") +
               '\npy3_image(\n    name = "bad",\n    **KW\n)\n', dedent=False)
    result = run(str(repo.root), "--json", "--check")
    assert result.code == 2
    report = json.loads(result.out)
    assert report["mode"] == "check"
    assert report["exit_code"] == 2
    assert report["files_scanned"] == 4
    assert sorted(report["files_changed"]) == ["a/BUILD", "a/sub/BUILD.bazel", "b/BUILD"]
    names = sorted(t["name"] for t in report["migrated"])
    assert names == ["four", "one", "three", "two"]
    one = next(t for t in report["migrated"] if t["name"] == "one")
    assert one["path"] == "a/BUILD" and one["line"] == 3
    assert [c["rule"] for c in one["calls"]] == ["py_binary", "py_image"]
    assert {"attr": "srcs", "to": "py_binary.srcs", "note": ""} in one["moves"]
    assert report["left"] == [{
        "path": "b/BUILD", "line": 8, "kind": "py3_image", "name": "bad",
        "reason": "**KW is spread into the call: its attributes are unknown",
        "skipped": False, "references": [], "blocked_by": None,
    }]


@pytest.mark.parametrize(
    ("selector", "changed"),
    [
        ("//...", ["a/BUILD", "a/sub/BUILD.bazel", "b/BUILD"]),
        ("//a/...", ["a/BUILD", "a/sub/BUILD.bazel"]),
        ("//a:all", ["a/BUILD"]),
        ("//a", ["a/BUILD"]),
        ("//a:two", ["a/BUILD"]),
        ("a/sub", ["a/sub/BUILD.bazel"]),
        ("b/BUILD", ["b/BUILD"]),
    ],
)
def test_selectors(repo, run, selector, changed):
    result = run(selector, "--json", "--check", cwd=repo.root)
    assert result.code == 1, result
    assert sorted(json.loads(result.out)["files_changed"]) == changed


def test_single_target_label_leaves_the_other_target(repo, run):
    assert run("//a:two", cwd=repo.root).code == 0
    text = repo.read("a/BUILD")
    assert 'name = "two.binary"' in text
    assert image("one") in text
    assert LOAD in text  # still used by :one


def test_labels_from_a_subdirectory(repo, run):
    assert run("//b:four", "--check", cwd=repo.root / "a" / "sub").code == 1


def test_bazelignore_bazel_links_and_nested_workspaces(repo, run, tmp_path):
    repo.write(".bazelignore", "# generated\nb\n")
    out = tmp_path / "output_base"
    out.mkdir()
    (out / "BUILD").write_text(build("in_output_base"))
    os.symlink(out, repo.root / "bazel-ws")
    repo.write("nested/WORKSPACE", "")
    repo.write("nested/BUILD", build("other_repo"), dedent=False)
    result = run(str(repo.root), "--json", "--check")
    assert sorted(json.loads(result.out)["files_changed"]) == ["a/BUILD", "a/sub/BUILD.bazel"]
    # a nested workspace is migrated when it is named
    result = run(str(repo.root / "nested"), "--json", "--check")
    assert json.loads(result.out)["files_changed"] == ["BUILD"]


def test_progress_bar_only_on_a_terminal_and_long_runs(repo, monkeypatch):
    for i in range(cli.PROGRESS_THRESHOLD):
        repo.write(f"many/p{i}/BUILD", build(f"m{i}"), dedent=False)

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.chdir(repo.root)
    args = cli.build_parser().parse_args(["//many/...", "--check", "--jobs", "1"])
    err = Tty()
    out = io.StringIO()
    assert cli.run(args, out, err) == 1
    assert "migrate:   0%" in err.getvalue() and "file/s" in err.getvalue()
    plain_err = io.StringIO()
    assert cli.run(args, io.StringIO(), plain_err) == 1
    assert "%" not in plain_err.getvalue()
    small = cli.build_parser().parse_args(["//a/...", "--check", "--jobs", "1"])
    small_err = Tty()
    assert cli.run(small, io.StringIO(), small_err) == 1
    assert small_err.getvalue() == ""


def test_process_pool_gives_the_same_result(repo, run):
    for i in range(2 * cli.FILES_PER_WORKER + 2):  # enough for two workers
        repo.write(f"many/p{i}/BUILD", build(f"m{i}"), dedent=False)
    serial = run(str(repo.root), "--diff", "--jobs", "1")
    pooled = run(str(repo.root), "--diff", "--jobs", "2")
    assert serial.code == pooled.code == 0
    assert serial.out == pooled.out


def test_python_dash_m(repo, python_m):
    proc = python_m("//a:one", "--check", cwd=repo.root)
    assert proc.returncode == 1, proc.stderr
    assert "1 targets migrated" in proc.stdout
    proc = python_m("--help", cwd=repo.root)
    assert proc.returncode == 0
    assert "--check" in proc.stdout and "Exit codes" in proc.stdout

"""Stand-ins for the runfiles shapes rules_python 1.x/2.x makes (test only).

* `_<name>.venv/bin/python3`: a declared symlink to `/usr/bin/python3`, as
  rules_python's py_executable.bzl writes for an `interpreter_path` runtime
  (a path in the image, never to follow on the build host).
* `venvs_site_packages = yes`: `root_symlinks` under
  `<workspace>/<pkg>/_<name>.venv/lib/python3.11/site-packages/` pointing at
  files of a pip repository (rules_python python/private/venv_runfiles.bzl).

`script_bootstrap_binary`: an executable laid out as rules_python's
`--bootstrap_impl=script` py_binary (python/private/py_executable.bzl, the
same in 1.0.0 and 2.3.2 but where noted):

* the executable `<name>`: the stage-1 bash launcher
  (python/private/stage1_bootstrap_template.sh; its first line is
  `#!/usr/bin/env bash` from 1.6.0 and in 2.x, `#!/bin/bash` before);
* `_<name>_stage2_bootstrap.py` beside it (python/private/stage2_bootstrap_template.py);
* the venv `_<name>.venv/`: `bin/python3`, a declared symlink to the runtime's
  interpreter (relative for a hermetic runtime, its `interpreter_path` else),
  an empty `pyvenv.cfg`, and `lib/python3.11/site-packages/` holding
  `bazel.pth` (`import _bazel_site_init`) and `_bazel_site_init.py`, which puts
  the binary's imports on sys.path (python/private/site_init_template.py).

Needs --experimental_allow_unresolved_symlinks on Bazel 4.2.3. Its
ctx.actions.symlink(target_path = ...) resolves the target against the
execroot, so a spawn writes the link (as tests/workspace/extras does).
"""

def _impl(ctx):
    venv = "_%s.venv" % ctx.label.name
    python3 = ctx.actions.declare_symlink(venv + "/bin/python3")
    ctx.actions.run_shell(
        outputs = [python3],
        command = "ln -s /usr/bin/python3 $1",
        arguments = [python3.path],
    )
    site = "%s/%s/%s/lib/python3.11/site-packages/" % (ctx.workspace_name, ctx.label.package, venv)

    # The pip repository's files are runfiles too (rules_python's py_library deps);
    # the root symlinks are second paths to them.
    root_symlinks = {}
    for f in ctx.files.pip_files:
        if f.extension != "py" or "/site-packages/" not in f.path:
            continue
        root_symlinks[site + f.path.split("/site-packages/", 1)[1]] = f
    return [DefaultInfo(runfiles = ctx.runfiles(
        files = [python3] + ctx.files.pip_files,
        root_symlinks = root_symlinks,
    ))]

venv_shapes = rule(
    implementation = _impl,
    attrs = {"pip_files": attr.label(allow_files = True)},
)

_PY_TOOLCHAIN = "@bazel_tools//tools/python:toolchain_type"

def _runfiles_path(ctx, f):
    if f.short_path.startswith("../"):
        return f.short_path[3:]
    return ctx.workspace_name + "/" + f.short_path

def _relative(from_dir, to):
    # from_dir and to: runfiles-root-relative paths
    return "../" * len(from_dir.split("/")) + to

def _script_bootstrap_impl(ctx):
    runtime = ctx.toolchains[_PY_TOOLCHAIN].py3_runtime
    name = ctx.label.name
    venv = "_%s.venv" % name
    site = venv + "/lib/python3.11/site-packages"

    python3 = ctx.actions.declare_symlink(venv + "/bin/python3")
    if runtime.interpreter:
        actual = _runfiles_path(ctx, runtime.interpreter)
        target = _relative(_runfiles_path(ctx, python3).rsplit("/", 1)[0], actual)
    else:
        actual = runtime.interpreter_path
        target = actual
    ctx.actions.run_shell(
        outputs = [python3],
        command = "ln -s \"$1\" \"$2\"",
        arguments = [target, python3.path],
    )
    pyvenv_cfg = ctx.actions.declare_file(venv + "/pyvenv.cfg")
    ctx.actions.write(pyvenv_cfg, "")
    pth = ctx.actions.declare_file(site + "/bazel.pth")
    ctx.actions.write(pth, "import _bazel_site_init\n")
    site_init = ctx.actions.declare_file(site + "/_bazel_site_init.py")
    imports = depset(transitive = [d[PyInfo].imports for d in ctx.attr.deps if PyInfo in d])
    ctx.actions.expand_template(
        template = ctx.file._site_init,
        output = site_init,
        substitutions = {
            "%imports%": ":".join(imports.to_list()),
            "%site_init_runfiles_path%": _runfiles_path(ctx, site_init),
        },
    )

    stage2 = ctx.actions.declare_file("_%s_stage2_bootstrap.py" % name)
    ctx.actions.expand_template(
        template = ctx.file._stage2,
        output = stage2,
        substitutions = {"%main%": _runfiles_path(ctx, ctx.file.main)},
        is_executable = True,
    )
    stage1 = ctx.actions.declare_file(name)
    ctx.actions.expand_template(
        template = ctx.file._stage1,
        output = stage1,
        substitutions = {
            "%interpreter_args%": "\n".join(ctx.attr.interpreter_args),
            "%python_binary%": _runfiles_path(ctx, python3),
            "%python_binary_actual%": actual,
            "%stage2_bootstrap%": _runfiles_path(ctx, stage2),
            "%venv_rel_site_packages%": "lib/python3.11/site-packages",
        },
        is_executable = True,
    )
    runfiles = ctx.runfiles(
        files = [ctx.file.main, stage2, python3, pyvenv_cfg, pth, site_init],
        transitive_files = runtime.files or depset(),
    )
    for dep in ctx.attr.deps:
        runfiles = runfiles.merge(dep[DefaultInfo].default_runfiles)
    return [DefaultInfo(executable = stage1, runfiles = runfiles)]

script_bootstrap_binary = rule(
    implementation = _script_bootstrap_impl,
    doc = "A py_binary as rules_python builds it with --bootstrap_impl=script (test stand-in).",
    executable = True,
    toolchains = [_PY_TOOLCHAIN],
    attrs = {
        "deps": attr.label_list(),
        "interpreter_args": attr.string_list(
            doc = "rules_python's `interpreter_args` (1.3.0+): one per line in stage 1.",
        ),
        "main": attr.label(allow_single_file = [".py"], mandatory = True),
        "_site_init": attr.label(default = ":site_init.py.tpl", allow_single_file = True),
        "_stage1": attr.label(default = ":stage1.sh.tpl", allow_single_file = True),
        "_stage2": attr.label(default = ":stage2.py.tpl", allow_single_file = True),
    },
)

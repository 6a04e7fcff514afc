"""A stand-in for the runfiles shapes rules_python 1.x/2.x makes (test only).

* `_<name>.venv/bin/python3`: a declared symlink to `/usr/bin/python3`, as
  rules_python's py_executable.bzl writes for an `interpreter_path` runtime
  (a path in the image, never to follow on the build host).
* `venvs_site_packages = yes`: `root_symlinks` under
  `<workspace>/<pkg>/_<name>.venv/lib/python3.11/site-packages/` pointing at
  files of a pip repository (rules_python python/private/venv_runfiles.bzl).

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

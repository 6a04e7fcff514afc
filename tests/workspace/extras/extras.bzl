"""A rule whose runfiles use every kind Bazel has."""

def _impl(ctx):
    tree = ctx.actions.declare_directory(ctx.label.name + "_tree")
    ctx.actions.run_shell(
        outputs = [tree],
        command = "mkdir -p $1/sub && echo one > $1/one.txt && echo two > $1/sub/two.txt",
        arguments = [tree.path],
    )

    # A declared (unresolved) symlink, as rules_python's venv layout makes them.
    # Bazel 4.2.3's ctx.actions.symlink(target_path = ...) resolves the target
    # against the execroot, so a spawn writes the relative link instead.
    link = ctx.actions.declare_symlink(ctx.label.name + "_latest")
    ctx.actions.run_shell(
        outputs = [link],
        command = "ln -s note.txt $1",
        arguments = [link.path],
    )
    return [DefaultInfo(runfiles = ctx.runfiles(
        files = [ctx.file.note, tree, link],
        symlinks = {"extras/linked_note.txt": ctx.file.note},
        root_symlinks = {"root_note.txt": ctx.file.note},
    ))]

runfiles_kinds = rule(
    implementation = _impl,
    attrs = {"note": attr.label(allow_single_file = True)},
)

"""Test double of rules_oci 2.x `@rules_oci//oci:defs.bzl` (tests only).

Same macros, rule attributes and outputs as upstream; an unknown attribute
fails the build. Images are assembled by umoci, tarballs written by skopeo
(both from PATH), through oci/private/oci_assemble.py.
"""

load("//oci/private:double.bzl", "check_attrs", "forwarded", "run_assemble")

_TOOL = attr.label(default = "//oci/private:oci_assemble.py", executable = True, cfg = "exec", allow_single_file = True)
_TARS = [".tar", ".tgz", ".tar.gz", ".tzst", ".tar.zst"]

def _oci_image_impl(ctx):
    if not ctx.attr.base and (not ctx.attr.os or not ctx.attr.architecture):
        fail("'os' and 'architecture' are mandatory when 'base' is unspecified.")
    if ctx.attr.base and (ctx.attr.os or ctx.attr.architecture or ctx.attr.variant):
        fail("'os', 'architecture' and 'variant' come from the image provided by 'base' and cannot be overridden.")
    out = ctx.actions.declare_directory(ctx.label.name)
    inputs = list(ctx.files.tars)
    spec = {
        "out": out.path,
        "base": ctx.file.base.path if ctx.file.base else None,
        "layers": [f.path for f in ctx.files.tars],
        "os": ctx.attr.os,
        "architecture": ctx.attr.architecture,
        "variant": ctx.attr.variant,
        "workdir": ctx.attr.workdir,
        "user": ctx.attr.user,
        "entrypoint_resets_cmd": True,
    }
    if ctx.file.base:
        inputs.append(ctx.file.base)
    for key in ["entrypoint", "cmd", "env", "labels", "annotations", "exposed_ports", "volumes", "created"]:
        f = getattr(ctx.file, key)
        if f:
            spec[key + "_file"] = f.path
            inputs.append(f)
    spec_file = ctx.actions.declare_file(ctx.label.name + ".spec.json")
    ctx.actions.write(spec_file, json.encode(spec))
    run_assemble(ctx, ctx.executable._tool, ["image", spec_file.path], inputs + [spec_file], [out], "OciImage")
    return [DefaultInfo(files = depset([out]))]

oci_image_rule = rule(
    implementation = _oci_image_impl,
    attrs = {
        "annotations": attr.label(allow_single_file = True),
        "architecture": attr.string(),
        "base": attr.label(allow_single_file = True),
        "cmd": attr.label(allow_single_file = True),
        "created": attr.label(allow_single_file = True),
        "entrypoint": attr.label(allow_single_file = True),
        "env": attr.label(allow_single_file = True),
        "exposed_ports": attr.label(allow_single_file = True),
        "labels": attr.label(allow_single_file = True),
        "os": attr.string(),
        "resource_set": attr.string(),
        "tars": attr.label_list(allow_files = _TARS),
        "user": attr.string(),
        "variant": attr.string(),
        "volumes": attr.label(allow_single_file = True),
        "workdir": attr.string(),
        "_tool": _TOOL,
    },
)

def _write_lines_impl(ctx):
    ctx.actions.write(ctx.outputs.out, "\n".join(ctx.attr.content) + "\n")
    return [DefaultInfo(files = depset([ctx.outputs.out]))]

_write_lines = rule(
    implementation = _write_lines_impl,
    attrs = {"content": attr.string_list(), "out": attr.output()},
)

def _write(name, kind, content, kw):
    _write_lines(name = "%s_write_%s" % (name, kind), out = "%s.%s.txt" % (name, kind), content = content, **kw)
    return ":%s_write_%s" % (name, kind)

def _digest_impl(ctx):
    config = ctx.actions.declare_file(ctx.label.name + ".config.json")
    config_digest = ctx.actions.declare_file(ctx.label.name + ".config.sha256")
    run_assemble(
        ctx,
        ctx.executable._tool,
        ["digest", ctx.file.image.path, ctx.outputs.out.path, config.path, config_digest.path],
        [ctx.file.image],
        [ctx.outputs.out, config, config_digest],
        "OciDigest",
    )
    return [DefaultInfo(files = depset([ctx.outputs.out]))]

_digest = rule(
    implementation = _digest_impl,
    attrs = {"image": attr.label(allow_single_file = True), "out": attr.output(), "_tool": _TOOL},
)

_IMAGE_RULE_ATTRS = ["architecture", "base", "os", "resource_set", "tars", "user", "variant", "workdir"]

def oci_image(name, created = None, labels = None, annotations = None, env = None, cmd = None, entrypoint = None, exposed_ports = None, volumes = None, **kwargs):
    """Same signature as rules_oci 2.x oci_image: dicts and lists are written to files.

    Args:
      name: target name.
      created: see upstream.
      labels: see upstream.
      annotations: see upstream.
      env: see upstream.
      cmd: see upstream.
      entrypoint: see upstream.
      exposed_ports: see upstream.
      volumes: see upstream.
      **kwargs: oci_image_rule attributes.
    """
    check_attrs("oci_image", name, kwargs, _IMAGE_RULE_ATTRS)
    kw = forwarded(kwargs)
    if type(annotations) == type({}):
        annotations = _write(name, "annotations", ["%s=%s" % (k, v) for k, v in annotations.items()], kw)
    if type(labels) == type({}):
        labels = _write(name, "labels", ["%s=%s" % (k, v) for k, v in labels.items()], kw)
    if type(env) == type({}):
        env = _write(name, "env", ["%s=%s" % (k, v) for k, v in env.items()], kw)
    if type(cmd) == type([]):
        cmd = _write(name, "cmd", [c.replace("\n", "%5Cn") for c in cmd], kw)
    if type(entrypoint) == type([]):
        entrypoint = _write(name, "entrypoint", [c.replace("\n", "%5Cn") for c in entrypoint], kw)
    if type(exposed_ports) == type([]):
        exposed_ports = _write(name, "exposed_ports", [",".join(exposed_ports)], kw)
    if type(volumes) == type([]):
        volumes = _write(name, "volumes", [",".join(volumes)], kw)
    oci_image_rule(
        name = name,
        created = created,
        annotations = annotations,
        labels = labels,
        env = env,
        cmd = cmd,
        entrypoint = entrypoint,
        exposed_ports = exposed_ports,
        volumes = volumes,
        **kwargs
    )
    _digest(name = name + ".digest", image = ":" + name, out = name + ".json.sha256", **kw)

def _oci_load_impl(ctx):
    tarball = ctx.actions.declare_file(ctx.label.name + "/tarball.tar")
    args = ["tarball", ctx.file.image.path, tarball.path]
    inputs = [ctx.file.image]
    if ctx.file.repo_tags:
        args.append("--tags-file=" + ctx.file.repo_tags.path)
        inputs.append(ctx.file.repo_tags)
    run_assemble(ctx, ctx.executable._tool, args, inputs, [tarball], "OciTarball")
    script = ctx.actions.declare_file(ctx.label.name + ".sh")
    ctx.actions.write(script, """#!/usr/bin/env bash
set -euo pipefail
tar="$(dirname "$0")/{short}"
[ -f "$tar" ] || tar="${{RUNFILES_DIR:-$0.runfiles}}/{ws}/{short_path}"
for loader in docker podman; do
  if command -v "$loader" >/dev/null; then exec "$loader" load --input "$tar"; fi
done
echo "neither docker nor podman found; the tarball is $tar" >&2
exit 1
""".format(short = tarball.basename, ws = ctx.workspace_name, short_path = tarball.short_path), is_executable = True)
    return [
        DefaultInfo(executable = script, files = depset([script]), runfiles = ctx.runfiles(files = [tarball])),
        OutputGroupInfo(tarball = depset([tarball])),
    ]

oci_tarball_rule = rule(
    implementation = _oci_load_impl,
    executable = True,
    attrs = {
        "format": attr.string(default = "docker", values = ["docker", "oci"]),
        "image": attr.label(mandatory = True, allow_single_file = True),
        "loader": attr.label(executable = True, cfg = "target"),
        "repo_tags": attr.label(allow_single_file = True),
        "_tool": _TOOL,
    },
)

def oci_load(name, repo_tags = None, **kwargs):
    """Same signature as rules_oci 2.x oci_load.

    Args:
      name: target name.
      repo_tags: list of tags or a file label.
      **kwargs: rule attributes.
    """
    check_attrs("oci_load", name, kwargs, ["format", "image", "loader"])
    if type(repo_tags) == type([]):
        repo_tags = _write(name, "tags", repo_tags, forwarded(kwargs))
    oci_tarball_rule(name = name, repo_tags = repo_tags, **kwargs)

def _oci_push_impl(ctx):
    script = ctx.actions.declare_file(ctx.label.name + ".sh")
    ctx.actions.write(script, "#!/usr/bin/env bash\necho 'oci_push test double: would push %s to %s' >&2\n" % (
        ctx.file.image.short_path,
        ctx.attr.repository,
    ), is_executable = True)
    return [DefaultInfo(executable = script, runfiles = ctx.runfiles(files = [ctx.file.image]))]

oci_push_rule = rule(
    implementation = _oci_push_impl,
    executable = True,
    attrs = {
        "image": attr.label(mandatory = True, allow_single_file = True),
        "remote_tags": attr.label(allow_single_file = True),
        "repository": attr.string(),
        "repository_file": attr.label(allow_single_file = True),
    },
)

def oci_push(name, remote_tags = None, **kwargs):
    """Same signature as rules_oci 2.x oci_push.

    Args:
      name: target name.
      remote_tags: list of tags or a file label.
      **kwargs: rule attributes.
    """
    check_attrs("oci_push", name, kwargs, ["image", "repository", "repository_file"])
    if type(remote_tags) == type([]):
        remote_tags = _write(name, "tags", remote_tags, forwarded(kwargs))
    oci_push_rule(name = name, remote_tags = remote_tags, **kwargs)

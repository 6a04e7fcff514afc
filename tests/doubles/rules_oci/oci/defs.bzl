"""Test double of rules_oci v2.3.2 `oci/defs.bzl` (tests only).

Mirrors, at tag v2.3.2: the macros of `oci/defs.bzl` and the rule attributes
of `oci/private/image.bzl` (oci_image), `oci/private/image_index.bzl`
(oci_image_index, with its split transition over `platforms`),
`oci/private/load.bzl` (oci_load) and `oci/private/push.bzl` (oci_push). An
unknown attribute fails the build. Images are assembled by umoci, indexes by
Python, tarballs written by skopeo (from PATH), all through
oci/private/oci_assemble.py.
"""

load("//oci/private:double.bzl", "check_attrs", "forwarded", "run_assemble")
load("//oci/private:util.bzl", "util")

_TOOL = attr.label(default = "//oci/private:oci_assemble.py", executable = True, cfg = "exec", allow_single_file = True)
_TARS = [".tar", ".tgz", ".tar.gz", ".tzst", ".tar.zst"]

# aspect_bazel_lib lib/resource_sets.bzl (used by oci/private/image.bzl): only a
# scheduling hint, so the double accepts the values and ignores them.
_RESOURCE_SETS = ["default", "mem_512m", "mem_1g", "mem_2g", "mem_4g", "mem_8g", "mem_16g", "mem_32g"]

# Tags that change how an action runs: kept on the helper targets macros
# create (aspect_bazel_lib propagate_well_known_tags), which are also `manual`.
_WELL_KNOWN_TAGS = [
    "block-network",
    "exclusive",
    "local",
    "manual",
    "no-cache",
    "no-remote",
    "no-remote-cache",
    "no-remote-exec",
    "no-sandbox",
    "requires-network",
    "requires-fakeroot",
]

def _internal(kw):
    """Common attributes for the helper targets of a macro (upstream: _propagate_to_internal_target)."""
    out = dict(kw)
    tags = [t for t in kw.get("tags", []) if t in _WELL_KNOWN_TAGS or t.startswith("cpu:")]
    if "manual" not in tags:
        tags.append("manual")
    out["tags"] = tags
    return out

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
        "keep_base_variant": True,
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
        "resource_set": attr.string(default = "default", values = _RESOURCE_SETS),
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

# bazel_skylib write_file, as the upstream macros use it.
_write_lines = rule(
    implementation = _write_lines_impl,
    attrs = {"content": attr.string_list(), "out": attr.output()},
)

def _write(name, kind, content, kw):
    _write_lines(name = "%s_write_%s" % (name, kind), out = "%s.%s.txt" % (name, kind), content = content, **kw)
    return ":%s_write_%s" % (name, kind)

def _digest_impl(ctx):
    run_assemble(
        ctx,
        ctx.executable._tool,
        ["first-digest", ctx.file.image.path, ctx.outputs.out.path],
        [ctx.file.image],
        [ctx.outputs.out],
        "OciDigest",
    )
    return [DefaultInfo(files = depset([ctx.outputs.out]))]

# Upstream: directory_path + copy_file + jq '.manifests[0].digest' --raw-output.
_digest_rule = rule(
    implementation = _digest_impl,
    attrs = {"image": attr.label(allow_single_file = True), "out": attr.output(), "_tool": _TOOL},
)

def _digest(name, kw):
    _digest_rule(name = name + ".digest", image = ":" + name, out = name + ".json.sha256", **kw)

_IMAGE_RULE_ATTRS = ["architecture", "base", "os", "resource_set", "tars", "user", "variant", "workdir"]

def oci_image(name, created = None, labels = None, annotations = None, env = None, cmd = None, entrypoint = None, exposed_ports = None, volumes = None, **kwargs):
    """Same signature as rules_oci v2.3.2 oci_image: dicts and lists are written to files.

    Args:
      name: target name.
      created: label of a file holding the creation time.
      labels: dict or label of a `key=value` file.
      annotations: dict or label of a `key=value` file.
      env: dict or label of a `key=value` file.
      cmd: list or label of a newline separated file.
      entrypoint: list or label of a newline separated file.
      exposed_ports: list or label of a comma separated file.
      volumes: list or label of a comma separated file.
      **kwargs: oci_image_rule attributes and common attributes.
    """
    check_attrs("oci_image", name, kwargs, _IMAGE_RULE_ATTRS)
    kw = forwarded(kwargs)
    internal = _internal(kw)
    if type(annotations) == type({}):
        annotations = _write(name, "annotations", ["%s=%s" % (k, v) for k, v in annotations.items()], internal)
    if type(labels) == type({}):
        labels = _write(name, "labels", ["%s=%s" % (k, v) for k, v in labels.items()], internal)
    if type(env) == type({}):
        env = _write(name, "env", ["%s=%s" % (k, v) for k, v in env.items()], internal)
    if type(cmd) == type([]):
        cmd = _write(name, "cmd", [c.replace("\n", "%5Cn") for c in cmd], internal)
    if type(entrypoint) == type([]):
        entrypoint = _write(name, "entrypoint", [c.replace("\n", "%5Cn") for c in entrypoint], internal)
    if type(exposed_ports) == type([]):
        exposed_ports = _write(name, "exposed_ports", [",".join(exposed_ports)], internal)
    if type(volumes) == type([]):
        volumes = _write(name, "volumes", [",".join(volumes)], internal)
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
    _digest(name, kw)

def _image_index_transition_impl(settings, attr):
    # One configuration per platform. Without `platforms` upstream returns []
    # (its documented "without using Bazel platforms" form: images as they
    # are); Bazel 4.2.3 crashes on an empty split ("Split transition output
    # may not be empty"), so the double returns the incoming value instead.
    if not attr.platforms:
        return [{"//command_line_option:platforms": [str(p) for p in settings["//command_line_option:platforms"]]}]
    return [{"//command_line_option:platforms": str(p)} for p in attr.platforms]

_image_index_transition = transition(
    implementation = _image_index_transition_impl,
    inputs = ["//command_line_option:platforms"],
    outputs = ["//command_line_option:platforms"],
)

def _oci_image_index_impl(ctx):
    if len(ctx.attr.platforms) > 0 and len(ctx.attr.images) != len(ctx.attr.platforms):
        # Upstream's condition and message, word for word in meaning.
        fail("platforms can only be specified when there is exactly one image in the images attribute.")
    out = ctx.actions.declare_directory(ctx.label.name)
    args = ["index", out.path]
    inputs = list(ctx.files.images)
    if ctx.file.annotations:
        args.append("--annotations=" + ctx.file.annotations.path)
        inputs.append(ctx.file.annotations)
    args.extend([f.path for f in ctx.files.images])
    run_assemble(ctx, ctx.executable._tool, args, inputs, [out], "OCIIndex")
    return [DefaultInfo(files = depset([out]))]

oci_image_index_rule = rule(
    implementation = _oci_image_index_impl,
    attrs = {
        "annotations": attr.label(allow_single_file = True),
        "images": attr.label_list(mandatory = True, cfg = _image_index_transition),
        "platforms": attr.label_list(providers = [platform_common.PlatformInfo]),
        "_allowlist_function_transition": attr.label(default = "@bazel_tools//tools/allowlists/function_transition_allowlist"),
        "_tool": _TOOL,
    },
)

def oci_image_index(name, annotations = None, **kwargs):
    """Same signature as rules_oci v2.3.2 oci_image_index (also creates `name.digest`).

    Args:
      name: target name.
      annotations: dict or label of a `key=value` file, for the index manifest.
      **kwargs: oci_image_index_rule attributes and common attributes.
    """
    check_attrs("oci_image_index", name, kwargs, ["images", "platforms"])
    kw = forwarded(kwargs)
    if type(annotations) == type({}):
        annotations = _write(name, "annotations", ["%s=%s" % (k, v) for k, v in annotations.items()], kw)
    oci_image_index_rule(name = name, annotations = annotations, **kwargs)
    _digest(name, kw)

def _oci_load_impl(ctx):
    loaders = "docker podman"
    runfiles = []
    if ctx.attr.loader:
        loaders = '"$(dirname "$0")/%s.runfiles/%s/%s"' % (ctx.label.name, ctx.workspace_name, ctx.executable.loader.short_path)
        runfiles.append(ctx.executable.loader)
    tarball = ctx.actions.declare_file(ctx.label.name + "/tarball.tar")
    args = ["tarball", ctx.file.image.path, tarball.path, "--tags-file=" + ctx.file.repo_tags.path]
    run_assemble(ctx, ctx.executable._tool, args, [ctx.file.image, ctx.file.repo_tags], [tarball], "OciTarball")
    script = ctx.actions.declare_file(ctx.label.name + ".sh")
    ctx.actions.write(script, """#!/usr/bin/env bash
set -euo pipefail
tar="$(dirname "$0")/{short}"
[ -f "$tar" ] || tar="${{RUNFILES_DIR:-$0.runfiles}}/{ws}/{short_path}"
for loader in {loaders}; do
  if command -v "$loader" >/dev/null; then exec "$loader" load --input "$tar"; fi
done
echo "no container loader ({loaders}) found; the tarball is $tar" >&2
exit 1
""".format(short = tarball.basename, ws = ctx.workspace_name, short_path = tarball.short_path, loaders = loaders), is_executable = True)
    return [
        DefaultInfo(executable = script, files = depset([script]), runfiles = ctx.runfiles(files = [tarball] + runfiles)),
        OutputGroupInfo(tarball = depset([tarball])),
    ]

oci_tarball_rule = rule(
    implementation = _oci_load_impl,
    executable = True,
    attrs = {
        "format": attr.string(default = "docker", values = ["docker", "oci"]),
        "image": attr.label(mandatory = True, allow_single_file = True),
        "loader": attr.label(allow_files = True, executable = True, cfg = "target"),
        "repo_tags": attr.label(mandatory = True, allow_single_file = [".txt"]),
        "_tool": _TOOL,
    },
)

def oci_load(name, repo_tags = None, **kwargs):
    """Same signature as rules_oci v2.3.2 oci_load.

    Args:
      name: target name.
      repo_tags: list of `repository:tag` (written to `name.tags.txt`) or a `.txt` label; mandatory.
      **kwargs: rule attributes and common attributes.
    """
    check_attrs("oci_load", name, kwargs, ["format", "image", "loader"])
    if type(repo_tags) == type([]):
        repo_tags = _write(name, "tags", repo_tags, _internal(forwarded(kwargs)))
    oci_tarball_rule(name = name, repo_tags = repo_tags, **kwargs)

def _oci_push_impl(ctx):
    if not ctx.file.image.is_directory:
        fail("image attribute must be a oci_image or oci_image_index")
    if ctx.attr.repository:
        _, _, _, digest, tag = util.parse_image(ctx.attr.repository)
        if digest or tag:
            fail("`repository` attribute should not contain digest or tag. got: {}".format(ctx.attr.repository))
    script = ctx.actions.declare_file("push_%s.sh" % ctx.label.name)
    ctx.actions.write(script, "#!/usr/bin/env bash\necho 'oci_push test double: would push %s to %s' >&2\n" % (
        ctx.file.image.short_path,
        ctx.attr.repository or "(repository_file or --repository)",
    ), is_executable = True)
    files = [ctx.file.image] + ([ctx.file.repository_file] if ctx.file.repository_file else []) + ([ctx.file.remote_tags] if ctx.file.remote_tags else [])
    return [DefaultInfo(executable = script, runfiles = ctx.runfiles(files = files))]

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
    """Same signature as rules_oci v2.3.2 oci_push.

    Args:
      name: target name.
      remote_tags: list of tags (written to `name.tags.txt`) or a file label.
      **kwargs: rule attributes and common attributes.
    """
    check_attrs("oci_push", name, kwargs, ["image", "repository", "repository_file"])
    if type(remote_tags) == type([]):
        remote_tags = _write(name, "tags", remote_tags, _internal(forwarded(kwargs)))
    oci_push_rule(name = name, remote_tags = remote_tags, **kwargs)

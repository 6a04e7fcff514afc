"""Test double of rules_oci v2.3.2 `oci/defs.bzl` (tests only).

Mirrors, at tag v2.3.2: the macros of `oci/defs.bzl` and the rule attributes
of `oci/private/image.bzl` (oci_image), `oci/private/image_index.bzl`
(oci_image_index, with its split transition over `platforms`),
`oci/private/load.bzl` (oci_load) and `oci/private/push.bzl` (oci_push). An
unknown attribute fails the build. Images are assembled by umoci and Python,
indexes by Python, all through oci/private/oci_assemble.py; tarballs are
written by bsdtar (from PATH) from an mtree spec. `bazel run` of an oci_push
pushes for real, with skopeo where upstream uses crane
(oci/private/push.sh.tpl).

What runs on a change, as upstream: one descriptor action per layer (digest
and diff_id, `OCIDescriptor`), so an unchanged layer is never hashed again;
the image action copies each layer blob as it is into the layout (upstream
links it on Bazel 7.1+, copies it before); `bazel run` of an oci_load streams
the tarball from the image's runfiles into the loader (`tar @mtree`), and the
tarball file is written only for the `tarball` output group.
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
    descriptors = []
    for i, layer in enumerate(ctx.files.tars):
        # upstream oci/private/image.bzl _calculate_descriptor
        descriptor = ctx.actions.declare_file("%s.%s.descriptor.json" % (ctx.label.name, i))
        run_assemble(ctx, ctx.executable._tool, ["descriptor", layer.path, descriptor.path, str(layer.owner)], [layer], [descriptor], "OCIDescriptor")
        descriptors.append(descriptor)
    inputs.extend(descriptors)
    spec = {
        "out": out.path,
        "base": ctx.file.base.path if ctx.file.base else None,
        "layers": [f.path for f in ctx.files.tars],
        "descriptors": [d.path for d in descriptors],
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
    # One configuration per platform. Without `platforms` upstream returns an
    # empty list, which newer Bazel takes as "no transition"; Bazel 4.2.3
    # crashes on it ("Split transition output may not be empty"), so the
    # double keeps the current platforms instead: the same configuration.
    if not attr.platforms:
        return [{"//command_line_option:platforms": settings["//command_line_option:platforms"]}]
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

def _exec_root_and_runfiles_prefix(ctx, f):
    """The exec path prefix of f and what replaces it in its runfiles path.

    Upstream: _get_workspace_root_path and _get_runfiles_prefix.

    Args:
      ctx: the rule context.
      f: a File.
    Returns:
      (prefix of f.path, runfiles prefix)
    """
    if f.short_path.startswith("../"):
        return f.path[:-len(f.short_path[3:])], ""
    return f.path[:-len(f.short_path)], ctx.workspace_name + "/"

def _oci_load_impl(ctx):
    # upstream oci/private/load.bzl + tarball.sh.tpl (docker format): an mtree
    # spec at build time, the tar written when `bazel run` loads it.
    image = ctx.file.image
    mtree = ctx.actions.declare_file(ctx.label.name + "/tarball.spec")
    manifest_json = ctx.actions.declare_file(ctx.label.name + "/manifest.json")
    run_assemble(ctx, ctx.executable._tool, ["load-spec", image.path, ctx.file.repo_tags.path, mtree.path, manifest_json.path], [image, ctx.file.repo_tags], [mtree, manifest_json], "OCITarballManifest")

    # Only for the `tarball` output group (a large output upstream keeps out of the cache).
    tarball = ctx.actions.declare_file(ctx.label.name + "/tarball.tar")
    ctx.actions.run(
        executable = "bsdtar",
        arguments = ["--create", "--no-xattr", "--no-mac-metadata", "--file", tarball.path, "@" + mtree.path],
        inputs = [mtree, manifest_json, image],
        outputs = [tarball],
        mnemonic = "OCITarball",
        use_default_shell_env = True,
        execution_requirements = {"no-remote": "1"},
    )

    loaders = "docker podman nerdctl"
    runfiles = [mtree, manifest_json, image]
    if ctx.attr.loader:
        loaders = '"$RUNFILES_DIR/%s/%s"' % (ctx.workspace_name, ctx.executable.loader.short_path)
        runfiles.append(ctx.executable.loader)
    image_root, image_prefix = _exec_root_and_runfiles_prefix(ctx, image)
    json_root, json_prefix = _exec_root_and_runfiles_prefix(ctx, manifest_json)
    script = ctx.actions.declare_file(ctx.label.name + ".sh")
    ctx.actions.write(script, """#!/usr/bin/env bash
set -euo pipefail
RUNFILES_DIR="${{RUNFILES_DIR:-$0.runfiles}}"
mtree="$(<"$RUNFILES_DIR/{ws}/{mtree}")"
mtree="${{mtree//"{image_root}"/{image_prefix}}}"
mtree="${{mtree//"{json_root}"/{json_prefix}}}"
for loader in {loaders}; do
  if command -v "$loader" >/dev/null; then
    "$loader" load --input <(bsdtar --cd "$RUNFILES_DIR" --create --no-xattr --no-mac-metadata @- <<< "$mtree")
    exit
  fi
done
echo "Neither of {loaders} could be found." >&2
exit 1
""".format(
        ws = ctx.workspace_name,
        mtree = mtree.short_path,
        image_root = image_root,
        image_prefix = image_prefix,
        json_root = json_root,
        json_prefix = json_prefix,
        loaders = loaders,
    ), is_executable = True)
    return [
        DefaultInfo(executable = script, files = depset([script]), runfiles = ctx.runfiles(files = runfiles)),
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

def _rlocation(ctx, f):
    """The runfiles path of f (aspect_bazel_lib to_rlocation_path)."""
    if f.short_path.startswith("../"):
        return f.short_path[3:]
    return ctx.workspace_name + "/" + f.short_path

def _oci_push_impl(ctx):
    if not ctx.file.image.is_directory:
        fail("image attribute must be a oci_image or oci_image_index")
    if ctx.attr.repository:
        _, _, _, digest, tag = util.parse_image(ctx.attr.repository)
        if digest or tag:
            fail("`repository` attribute should not contain digest or tag. got: {}".format(ctx.attr.repository))

    # Upstream reads the digest at run time with jq; the double writes it at
    # build time (same value: index.json's .manifests[0].digest).
    digest = ctx.actions.declare_file("push_%s.digest" % ctx.label.name)
    run_assemble(ctx, ctx.executable._tool, ["first-digest", ctx.file.image.path, digest.path], [ctx.file.image], [digest], "OciPushDigest")
    files = [ctx.file.image, digest]
    substitutions = {
        "{{digest_file}}": _rlocation(ctx, digest),
        "{{fixed_args}}": "",
        "{{image_dir}}": _rlocation(ctx, ctx.file.image),
        "{{repository_file}}": "",
        "{{tags}}": "",
    }
    if ctx.attr.repository:
        substitutions["{{fixed_args}}"] = '"--repository" "%s"' % ctx.attr.repository
    elif ctx.file.repository_file:
        files.append(ctx.file.repository_file)
        substitutions["{{repository_file}}"] = _rlocation(ctx, ctx.file.repository_file)
    if ctx.file.remote_tags:
        files.append(ctx.file.remote_tags)
        substitutions["{{tags}}"] = _rlocation(ctx, ctx.file.remote_tags)
    script = ctx.actions.declare_file("push_%s.sh" % ctx.label.name)
    ctx.actions.expand_template(
        template = ctx.file._push_sh_tpl,
        output = script,
        is_executable = True,
        substitutions = substitutions,
    )
    runfiles = ctx.runfiles(files = files).merge(ctx.attr.image[DefaultInfo].default_runfiles)
    return [DefaultInfo(executable = script, runfiles = runfiles)]

oci_push_rule = rule(
    implementation = _oci_push_impl,
    executable = True,
    attrs = {
        "image": attr.label(mandatory = True, allow_single_file = True),
        "remote_tags": attr.label(allow_single_file = True),
        "repository": attr.string(),
        "repository_file": attr.label(allow_single_file = True),
        "_push_sh_tpl": attr.label(default = "//oci/private:push.sh.tpl", allow_single_file = True),
        "_tool": _TOOL,
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

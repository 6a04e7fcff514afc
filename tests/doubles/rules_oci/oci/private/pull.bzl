"""Test double of rules_oci v2.3.2 `oci/private/pull.bzl` (tests only).

Same two repository rules as upstream: `oci_pull` (one image, one platform,
target `<target_name>`) and `oci_alias` (the `@<name>` repository: a `digest`
filegroup and the `<name>` alias, a `select()` on the target cpu whenever
`platforms` was given). Instead of a registry the double reads OCI layouts
from $PYCROSS_TEST_IMAGES, named `<basename>-<arch>` (tests/images/build.py):
every layout of one basename together plays the remote image, a single
manifest when there is one layout, an image index when there are several.
Failures use upstream's conditions and wording.
"""

load(":util.bzl", "util")

_ENVIRON = ["PYCROSS_TEST_IMAGES"]

# Docker Hub names served by a fixture layout of another basename.
_LAYOUT_ALIASES = {"python": "python3-debian12"}

_REFERENCE_ATTRS = {
    "config": attr.label(allow_single_file = True),
    "identifier": attr.string(mandatory = True),
    "registry": attr.string(mandatory = True),
    "repository": attr.string(mandatory = True),
    "scheme": attr.string(default = "https", values = ["http", "https"]),
    "www_authenticate_challenges": attr.string_dict(default = {}),
}

def _is_tag(identifier):
    return ":" not in identifier

def _reference(rctx):
    sep = ":" if _is_tag(rctx.attr.identifier) else "@"
    return "%s/%s%s%s" % (rctx.attr.registry, rctx.attr.repository, sep, rctx.attr.identifier)

def _blob(layout, digest):
    return "%s/blobs/%s" % (layout, digest.replace(":", "/", 1))

def _remote_layouts(rctx):
    """The layouts that stand for the remote image, sorted: list of structs."""
    root = rctx.os.environ.get("PYCROSS_TEST_IMAGES")
    if not root:
        fail("test double of oci_pull %s: set --repo_env=PYCROSS_TEST_IMAGES=<dir of OCI layouts> (tests/images builds them)" % rctx.attr.name)
    base = rctx.attr.repository.rsplit("/", 1)[-1]
    base = _LAYOUT_ALIASES.get(base, base)
    found = []
    for name in sorted([child.basename for child in rctx.path(root).readdir()]):
        if not name.startswith(base + "-") or "-" in name[len(base) + 1:]:
            continue
        path = "%s/%s" % (root, name)
        if not rctx.path(path + "/index.json").exists:
            continue
        desc = json.decode(rctx.read(path + "/index.json"))["manifests"][0]
        manifest = json.decode(rctx.read(_blob(path, desc["digest"])))
        config = json.decode(rctx.read(_blob(path, manifest["config"]["digest"])))
        parts = [config.get("os", ""), config.get("architecture", "")]
        if config.get("variant"):
            parts.append(config["variant"])
        found.append(struct(
            path = path,
            descriptor = desc,
            config = config,
            platform = "/".join(parts) if config.get("os") and config.get("architecture") else None,
        ))
    if not found:
        fail("test double of oci_pull %s: no OCI layout %s/%s-<arch> for %s (run tests/images/build.py)" % (
            rctx.attr.name,
            root,
            base,
            _reference(rctx),
        ))
    return found

def _remote_digest(rctx, layouts):
    """Digest of the remote reference: the manifest, or a synthesized index of all layouts."""
    if len(layouts) == 1:
        return layouts[0].descriptor["digest"]
    index = {
        "manifests": [
            {
                "digest": lay.descriptor["digest"],
                "mediaType": lay.descriptor["mediaType"],
                "platform": {k: lay.config[k] for k in ["architecture", "os", "variant"] if lay.config.get(k)},
                "size": lay.descriptor["size"],
            }
            for lay in layouts
        ],
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "schemaVersion": 2,
    }
    rctx.file("remote_index.json", json.encode(index))
    result = rctx.execute(["sha256sum", "remote_index.json"])
    if result.return_code:
        fail("sha256sum failed: " + result.stderr)
    return "sha256:" + result.stdout.split(" ", 1)[0]

def _oci_pull_impl(rctx):
    layouts = _remote_layouts(rctx)
    where = "%s/%s" % (rctx.attr.registry, rctx.attr.repository)
    if len(layouts) == 1:
        chosen = layouts[0]
    else:
        if not rctx.attr.platform:
            fail("%s is a multi-architecture image, so attribute 'platforms' is required." % where)
        matching = [lay for lay in layouts if lay.platform == rctx.attr.platform]
        if not matching:
            fail("No matching manifest found in image %s for platform %s" % (where, rctx.attr.platform))
        chosen = matching[0]
    if rctx.attr.platform:
        util.validate_image_platform(rctx, chosen.config)
    result = rctx.execute(["cp", "-RL", chosen.path, "layout"])
    if result.return_code:
        fail("test double of oci_pull %s: cp failed: %s" % (rctx.attr.name, result.stderr))
    rctx.file("reference.txt", _reference(rctx) + "\n")
    rctx.file("WORKSPACE", 'workspace(name = "%s")\n' % rctx.attr.name)
    rctx.file("BUILD.bazel", """\
# Generated by the rules_oci test double (oci_pull). Mirrors the copy_to_directory
# target of rules_oci v2.3.2 oci/private/pull.bzl.
load("@rules_oci//oci/private:layout.bzl", "oci_layout_dir")

exports_files(["reference.txt"])

oci_layout_dir(
    name = "{name}",
    srcs = glob(["layout/**"]),
    root = "layout",
    tags = {tags},
    visibility = ["//visibility:public"],
)
""".format(name = rctx.attr.target_name, tags = repr(rctx.attr.bazel_tags)))

oci_pull = repository_rule(
    implementation = _oci_pull_impl,
    environ = _ENVIRON,
    attrs = dict(_REFERENCE_ATTRS, **{
        "bazel_tags": attr.string_list(),
        "platform": attr.string(),
        "target_name": attr.string(mandatory = True),
    }),
)

def _select_takes_constraint_values():
    """Bazel 5+ selects on a constraint_value directly (upstream's generated BUILD needs it)."""
    major = (getattr(native, "bazel_version", "") or "").split(".")[0]
    return major.isdigit() and int(major) >= 5

def _oci_alias_impl(rctx):
    if rctx.attr.platforms and rctx.attr.platform:
        fail("Only one of 'platforms' or 'platform' may be set")
    if not rctx.attr.platforms and not rctx.attr.platform:
        fail("One of 'platforms' or 'platform' must be set")
    layouts = _remote_layouts(rctx)
    digest = _remote_digest(rctx, layouts)
    rctx.file("digest.txt", digest)
    rctx.file("reference.txt", _reference(rctx) + "\n")
    available = []
    if rctx.attr.platforms:
        for lay in layouts:
            if lay.platform:
                available.append('"%s"' % lay.platform)
            else:
                available.append("unknown (os/architecture unspecified in image metadata)")
    if _is_tag(rctx.attr.identifier) and rctx.attr.reproducible:
        util.warning(rctx, "oci_pull %s uses the tag %s, which can move. Pin it: digest %s (or set reproducible = False)." % (
            rctx.attr.bzlmod_repository or rctx.attr.name,
            rctx.attr.identifier,
            digest,
        ))
    head = """\
# Generated by the rules_oci test double (oci_alias), like rules_oci v2.3.2
# oci/private/pull.bzl.
exports_files(["reference.txt"])

filegroup(
    name = "digest",
    srcs = ["digest.txt"],
    visibility = ["//visibility:public"],
)
"""
    if rctx.attr.platforms:
        keys = {cpu: cpu for cpu in rctx.attr.platforms}
        if not _select_takes_constraint_values():
            # Bazel 4 cannot select() on a constraint_value: key on a config_setting.
            for cpu in rctx.attr.platforms:
                keys[cpu] = ":_cpu_" + cpu.rsplit(":", 1)[-1]
                head += '\nconfig_setting(\n    name = "%s",\n    constraint_values = ["%s"],\n)\n' % (keys[cpu][1:], cpu)
        choices = "".join([
            '\n        "%s": "@%s//:%s",' % (keys[cpu], repo, repo)
            for cpu, repo in rctx.attr.platforms.items()
        ])
        body = """
alias(
    name = "{name}",
    actual = select(
        {{{choices}
        }},
        no_match_error = \"\"\"could not find an image matching the target platform. \\nAvailable platforms are {available} \"\"\",
    ),
    visibility = ["//visibility:public"],
)
""".format(name = rctx.attr.target_name, choices = choices, available = ", ".join(available))
    else:
        body = """
alias(
    name = "{name}",
    actual = "@{repo}//:{repo}",
    visibility = ["//visibility:public"],
)
""".format(name = rctx.attr.target_name, repo = rctx.attr.platform)
    rctx.file("WORKSPACE", 'workspace(name = "%s")\n' % rctx.attr.name)
    rctx.file("BUILD.bazel", head + body)

oci_alias = repository_rule(
    implementation = _oci_alias_impl,
    environ = _ENVIRON,
    attrs = dict(_REFERENCE_ATTRS, **{
        # cpu constraint label -> repository name (upstream: a label_keyed_string_dict).
        "bzlmod_repository": attr.string(),
        "platform": attr.string(),
        "platforms": attr.string_dict(),
        "reproducible": attr.bool(default = True),
        "target_name": attr.string(),
    }),
)

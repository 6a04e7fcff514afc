"""Test double of rules_oci's oci_pull: serves images from local OCI layouts."""

load("//oci/private:double.bzl", "pull_impl")

_ARCH = {"linux/amd64": "amd64", "linux/arm64": "arm64", "linux/arm64/v8": "arm64"}

def _oci_pull_impl(rctx):
    image = rctx.attr.image or (rctx.attr.registry + "/" + rctx.attr.repository)
    arches = [_ARCH[p] for p in rctx.attr.platforms] or ["amd64"]
    lines = pull_impl(rctx, image, arches, "", 'load("@rules_oci//oci/private:layout.bzl", "oci_layout_dir")')
    if len(arches) == 1:
        lines.append('alias(name = "%s", actual = ":%s")' % (rctx.attr.name, arches[0]))
    else:
        lines.append('alias(name = "%s", actual = select({%s}))' % (rctx.attr.name, ", ".join([
            '"@platforms//cpu:%s": ":%s"' % ({"amd64": "x86_64"}.get(a, a), a)
            for a in arches
        ])))
    rctx.file("WORKSPACE", 'workspace(name = "%s")\n' % rctx.attr.name)
    rctx.file("BUILD.bazel", "\n".join(lines) + "\n")

_oci_pull = repository_rule(
    implementation = _oci_pull_impl,
    environ = ["PYCROSS_TEST_IMAGES"],
    attrs = {
        "bazel_tags": attr.string_list(),
        "config": attr.label(),
        "digest": attr.string(),
        "image": attr.string(),
        "is_bzlmod": attr.bool(),
        "platforms": attr.string_list(),
        "registry": attr.string(),
        "repository": attr.string(),
        "reproducible": attr.bool(default = True),
        "tag": attr.string(),
        "www_authenticate_challenges": attr.string_dict(),
    },
)

def oci_pull(
        name,
        www_authenticate_challenges = None,
        image = None,
        repository = None,
        registry = None,
        platforms = None,
        digest = None,
        tag = None,
        reproducible = True,
        is_bzlmod = False,
        config = None,
        bazel_tags = []):
    """Same signature as rules_oci 2.x oci_pull; serves local layouts.

    Args:
      name: repository name.
      www_authenticate_challenges: see upstream.
      image: see upstream.
      repository: see upstream.
      registry: see upstream.
      platforms: see upstream.
      digest: see upstream.
      tag: see upstream.
      reproducible: see upstream.
      is_bzlmod: see upstream.
      config: see upstream.
      bazel_tags: see upstream.
    """
    if bool(image) == bool(repository or registry):
        fail("oci_pull %s: exactly one of image or {registry,repository} should be set" % name)
    if digest and tag:
        fail("oci_pull %s: at most one of digest and tag" % name)
    for p in platforms or []:
        if p not in _ARCH:
            fail("oci_pull %s: platform %r not served by the test double" % (name, p))
    _oci_pull(
        name = name,
        www_authenticate_challenges = www_authenticate_challenges or {},
        image = image or "",
        repository = repository or "",
        registry = registry or "",
        platforms = platforms or [],
        digest = digest or "",
        tag = tag or "",
        reproducible = reproducible,
        is_bzlmod = is_bzlmod,
        config = config,
        bazel_tags = bazel_tags,
    )

"""Test double of rules_oci v2.3.2 `oci/pull.bzl` (tests only).

`oci_pull` validates its arguments like upstream and creates the same
repositories: `<name>_<os>_<arch>[_<variant>]` per platform (or
`<name>_single` without `platforms`) plus `@<name>`, whose `:<name>` alias
selects on the target cpu whenever `platforms` is given, even for a single
one. The image comes from a local OCI layout (see oci/private/pull.bzl);
`@<name>//:reference.txt` records the reference upstream would fetch.
"""

load("//oci/private:pull.bzl", "oci_alias", _oci_pull = "oci_pull")
load("//oci/private:util.bzl", "util")

# Upstream's table (oci/pull.bzl _PLATFORM_TO_BAZEL_CPU at v2.3.2): platforms
# missing here get a repository but no entry in the alias's select().
_PLATFORM_TO_BAZEL_CPU = {
    "linux/amd64": "@platforms//cpu:x86_64",
    "linux/arm64": "@platforms//cpu:arm64",
    "linux/arm64/v8": "@platforms//cpu:arm64",
    "linux/arm/v7": "@platforms//cpu:armv7",
    "linux/ppc64le": "@platforms//cpu:ppc",
    "linux/s390x": "@platforms//cpu:s390x",
    "linux/386": "@platforms//cpu:i386",
    "linux/mips64le": "@platforms//cpu:mips64",
}

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
    """Same signature and checks as rules_oci v2.3.2 oci_pull; serves local layouts.

    Args:
      name: name of the alias repository (and of its target).
      www_authenticate_challenges: accepted, unused (no registry).
      image: `[registry/]repository[:tag][@digest]`; a bare name is a Docker Hub library image.
      repository: path under `registry` (with `registry`, instead of `image`).
      registry: registry host (with `repository`, instead of `image`).
      platforms: `os/arch[/variant]` strings; one repository each.
      digest: manifest digest; wins over `tag` when both are set.
      tag: tag; with a digest only documentation, as upstream.
      reproducible: False forbids digest + tag and silences the tag warning.
      is_bzlmod: whether called from the module extension.
      config: label of a docker config.json (unused).
      bazel_tags: tags of the generated image targets.
    """
    if (repository and not registry) or (registry and not repository):
        fail("When one of repository or registry is set, the other must be as well")
    if image and (repository or registry):
        fail("Only one of 'image' or '{registry, repository}' may be set")
    if not image and not (repository or registry):
        fail("One of 'image' or '{registry, repository}' must be set")
    scheme = None
    if image:
        scheme, registry, repository, parsed_digest, parsed_tag = util.parse_image(image)
        digest = parsed_digest or digest
        tag = parsed_tag or tag
    if digest and tag and not reproducible:
        fail("Only one of 'digest' or 'tag' may be set when 'reproducible' is False. Set 'reproducible' to True to silence this failure.")
    if not digest and not tag:
        fail("At least one of 'digest' or 'tag' must be set")

    reference = dict(
        www_authenticate_challenges = www_authenticate_challenges,
        scheme = scheme,
        registry = registry,
        repository = repository,
        identifier = digest or tag,
        config = config,
    )
    cpu_to_repo = None
    single = None
    if platforms:
        cpu_to_repo = {}
        for platform in platforms:
            repo = "_".join([name] + platform.split("/"))
            _oci_pull(name = repo, platform = platform, target_name = repo, bazel_tags = bazel_tags, **reference)
            if platform in _PLATFORM_TO_BAZEL_CPU:
                cpu_to_repo[_PLATFORM_TO_BAZEL_CPU[platform]] = repo
        if not cpu_to_repo:
            fail("None of the provided platforms ({}) are supported. Supported platforms: {}".format(
                platforms,
                _PLATFORM_TO_BAZEL_CPU.keys(),
            ))
    else:
        single = name + "_single"
        _oci_pull(name = single, target_name = single, bazel_tags = bazel_tags, **reference)
    oci_alias(
        name = name,
        target_name = name,
        platforms = cpu_to_repo,
        platform = single,
        bzlmod_repository = name if is_bzlmod else None,
        reproducible = reproducible,
        **reference
    )

"""Test double of rules_oci v2.3.2 `oci/private/util.bzl` (tests only).

Only the pieces the other doubles need: the image-reference parser of
`oci_pull` / `oci_push` and the platform checks of a pulled image. Written
from upstream's behaviour at tag v2.3.2, not copied.
"""

# A platform string without a variant gets this one when the other side has it
# (upstream: _IMAGE_PLATFORM_VARIANT_DEFAULTS).
_VARIANT_DEFAULTS = {"linux/arm64": "v8"}

def _parse_image(image):
    """Splits `[http[s]://]registry/repository[:tag][@digest]` like upstream.

    Only a reference without any `/` is taken as a Docker Hub library image
    (`python` -> `index.docker.io/library/python`); a `docker.io/` prefix
    becomes `index.docker.io/` and nothing else is rewritten.

    Args:
      image: the `image` attribute of oci_pull (or `repository` of oci_push).
    Returns:
      (scheme, registry, repository, digest or None, tag or None)
    """
    scheme = "https"
    digest = None
    tag = None
    if image.startswith("http://"):
        scheme = "http"
        image = image[len("http://"):]
    if image.startswith("https://"):
        image = image[len("https://"):]
    if image.rfind("@") > 0:
        image, digest = image.rsplit("@", 1)
    colon = image.rfind(":")
    if colon > 0 and "/" not in image[colon:]:
        image, tag = image.rsplit(":", 1)
    if image.startswith("docker.io/"):
        image = "index." + image
    if "/" not in image:
        image = "index.docker.io/library/" + image
    registry, repository = image.split("/", 1)
    return (scheme, registry, repository, digest, tag)

def _platform_triplet(platform):
    parts = platform.split("/")
    return (parts[0], parts[1] if len(parts) > 1 else None, parts[2] if len(parts) > 2 else None)

def _validate_image_platform(rctx, config):
    """Fails when a pulled image's config contradicts the requested `platform` (as upstream)."""
    image_os = config.get("os")
    image_arch = config.get("architecture")
    image_variant = config.get("variant")
    want_os, want_arch, want_variant = _platform_triplet(rctx.attr.platform)
    where = "%s/%s" % (rctx.attr.registry, rctx.attr.repository)
    missing = []
    if not image_os:
        missing.append("os")
    elif image_os != want_os:
        fail("Expected image %s to have os '%s', got: '%s'" % (where, want_os, image_os))
    if not image_arch:
        missing.append("architecture")
    elif image_arch != want_arch:
        fail("Expected image %s to have architecture '%s', got: '%s'" % (where, want_arch, image_arch))
    if missing:
        _warning(rctx, "Could not confirm pulled image %s is for platform %s: %s missing from image metadata" % (
            where,
            rctx.attr.platform,
            missing,
        ))
    want = want_variant or _VARIANT_DEFAULTS.get(rctx.attr.platform)
    have = image_variant or _VARIANT_DEFAULTS.get("%s/%s" % (image_os, image_arch))
    if want != have:
        fail("Image %s has platform variant '%s', but 'platforms' attribute specifies variant '%s'" % (
            where,
            image_variant,
            want_variant,
        ))

def _warning(rctx, message):
    rctx.execute(["echo", "\033[0;33mWARNING:\033[0m " + message], quiet = False)

util = struct(
    parse_image = _parse_image,
    platform_triplet = _platform_triplet,
    validate_image_platform = _validate_image_platform,
    warning = _warning,
)

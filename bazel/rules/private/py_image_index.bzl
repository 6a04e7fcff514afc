"""`py_image_index` for rules_oci 2.x: one py_binary, one image per platform, one image index.

Public through `@pycross_image//bazel/rules:oci.bzl`; see that file.
"""

load("@rules_oci//oci:defs.bzl", "oci_image_index")
load(":naming.bzl", "label_name")
load(":platforms.bzl", "platform_config")
load(":py_image_oci.bzl", "py_image")
load(":validate.bzl", "COMMON_ATTRS")

# py_image attributes py_image_index derives from each platform.
_PER_PLATFORM = ["platform", "os", "architecture", "variant", "binary_target"]

DEFAULT_PLATFORMS = [
    Label("//bazel/platforms:linux_x86_64"),
    Label("//bazel/platforms:linux_arm64"),
]

def py_image_index(
        name,
        binary,
        platforms = DEFAULT_PLATFORMS,
        index_annotations = None,
        **kwargs):
    """A py_binary as a multi-architecture OCI image index: one `py_image` per platform.

    Each platform gets a whole `py_image` built for it (binary, select()s,
    wheels, Python toolchain and `base`, which an `oci_pull` with several
    `platforms` selects on the target cpu), named after the architecture the
    image config records; rules_oci's `oci_image_index` lists them, in
    `platforms` order, each with its platform. Targets, in package `my`, for
    `py_image_index(name = "image_index", ...)` on the default platforms:

    - `:image_index`: the image index (an OCI layout directory);
    - `:image_index.digest`: a file holding the index digest;
    - `:image_index.amd64`, `:image_index.arm64`: the images (each a
      `py_image`: also `.digest`, `.tar`, `.tarball`, `.<group>_layer`);
    - `:image_index.<arch>.y<binary>`: the binary built for each platform.

    Push `:image_index` with `oci_push`; rules_oci's `oci_load` loads one
    image, so load `:image_index.<arch>.tar`.

    Args:
      name: name of the index target; also prefixes the other targets.
      binary: label of the py_binary (any executable with runfiles).
      platforms: target platforms, one image each; default
        `@pycross_image//bazel/platforms:linux_x86_64` and `:linux_arm64`.
        A platform's name must contain `x86_64`/`amd64` or `arm64`/`aarch64`
        (it names the image), and no two may have the same architecture.
      index_annotations: dict (or file label) of annotations of the index
        (`oci_image_index`'s `annotations`).
      **kwargs: the attributes of `py_image` (`base`, `layer_groups`,
        `root`, `compress`, `tars`, `entrypoint`, `cmd`, `env`, `workdir`,
        `user`, `labels`, `annotations` (of each image's manifest),
        `exposed_ports`, `volumes`, `created`, `repo_tags`, whose default is
        `["<package>/<name>.<arch>:latest"]`), given to each image; not
        `platform`, `os`, `architecture`, `variant` or `binary_target`, which
        each platform sets. Common attributes (`visibility`, `tags`,
        `testonly`, ...) go to every target.
    """
    flavour = "py_image_index %s (rules_oci)" % name
    if not platforms:
        fail("%s: `platforms` is empty; list the target platforms, e.g. " % flavour +
             "[\"@pycross_image//bazel/platforms:linux_x86_64\", \"@pycross_image//bazel/platforms:linux_arm64\"]")
    for attr in _PER_PLATFORM:
        if attr in kwargs:
            fail("%s: `%s` is set for each platform from `platforms`; drop it" % (flavour, attr))
    images = []
    seen = {}
    for platform in platforms:
        known = platform_config(platform)
        if not known:
            fail(("%s: cannot tell the architecture of platform %s; name it with " +
                  "x86_64/amd64 or arm64/aarch64 (e.g. my_linux_arm64), or use " +
                  "@pycross_image//bazel/platforms:linux_x86_64 / :linux_arm64") % (flavour, platform))
        arch = known.architecture
        if arch in seen:
            fail("%s: platforms %s and %s are both %s; an index holds one image per architecture" %
                 (flavour, seen[arch], platform, arch))
        seen[arch] = platform
        image = "%s.%s" % (name, arch)
        py_image(
            name = image,
            binary = binary,
            platform = platform,
            binary_target = "%s.y%s" % (image, label_name(binary)),
            **kwargs
        )
        images.append(":" + image)

    # Each image is already built for its platform (a transition on top), so
    # the index takes them as they are, without its own `platforms` split
    # (rules_oci's "without using Bazel platforms" form, oci/private/image_index.bzl).
    oci_image_index(
        name = name,
        images = images,
        annotations = index_annotations,
        **{k: v for k, v in kwargs.items() if k in COMMON_ATTRS}
    )

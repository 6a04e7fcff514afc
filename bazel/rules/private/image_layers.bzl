"""`image_layers`: the part of every py_image that does not depend on the image rule.

Declares the binary rebuilt for the image's platform (`py_image_binary`), its
layers (`py_image_layers`, the layering core) and one filegroup per layer
(`<name>.layers.<group>`), and returns their labels for the flavour's image
rule. oci.bzl and docker.bzl differ only in what they wrap around these.
"""

load(":naming.bzl", "label_name")
load(":py_image_binary.bzl", "py_image_binary")
load(":py_image_layers.bzl", "layer_order", "py_image_layers")
load(":validate.bzl", "split_groups")

def below_transition(kw):
    """`kw` for a target that only makes sense below the image's transition.

    Tagged `manual`, so `bazel build //...` does not build it a second time in
    the command line's configuration (where, for another cpu, an `oci_pull`
    base's select() has no match).

    Args:
      kw: common attributes.

    Returns:
      a copy of `kw` with `manual` added to `tags`.
    """
    tags = kw.get("tags") or []
    return dict(kw, tags = tags + ([] if "manual" in tags else ["manual"]))

def image_layers(name, binary, platform, root, layer_groups, compress, expected_cpu, kw, binary_target = None, binary_kw = {}):
    """Declares the transitioned binary, the layers and one filegroup per layer.

    Args:
      name: the image name.
      binary: label of the py_binary.
      platform: target platform label.
      root: in-image directory of the launcher.
      layer_groups: dict of custom group name -> regex, label or list of labels.
      compress: gzip, zstd or none (the flavour checked it).
      expected_cpu: CPU the image config records ("" when it comes from the base).
      kw: common attributes forwarded to every target.
      binary_target: name of the transitioned binary; default `y<binary name>`,
        or `<name>.y<binary name>` when that name is taken in the package.
      binary_kw: extra attributes of the transitioned binary only.

    Returns:
      struct(binary = transitioned binary label, layers = label of the
      py_image_layers target, groups = group names in image order,
      group_targets = labels of the per-group filegroups, in image order).
    """
    groups = split_groups(layer_groups)
    if not binary:
        fail("py_image %s: `binary` is required; pass the py_binary to put in the image" % name)
    if not binary_target:
        binary_target = "y" + label_name(binary)
        if native.existing_rule(binary_target):
            binary_target = "%s.y%s" % (name, label_name(binary))
    py_image_binary(
        name = binary_target,
        binary = binary,
        platform = platform,
        root = root,
        expected_cpu = expected_cpu,
        group_deps = groups.deps,
        group_order = groups.order,
        **dict(kw, **binary_kw)
    )
    internal_kw = below_transition(kw)
    py_image_layers(
        name = name + ".layers",
        binary = ":" + binary_target,
        root = root,
        layer_groups = groups.regexes,
        group_order = groups.order,
        compress = compress,
        **internal_kw
    )
    names = layer_order(groups.order)
    for group in names:
        native.filegroup(
            name = "%s.layers.%s" % (name, group),
            srcs = [":%s.layers" % name],
            output_group = group + "_layer",
            **internal_kw
        )
    return struct(
        binary = ":" + binary_target,
        layers = ":" + name + ".layers",
        groups = names,
        group_targets = [":%s.layers.%s" % (name, g) for g in names],
    )

"""Loading-time helpers shared by oci.bzl and docker.bzl: naming, platforms, input checks.

Nothing here knows how layers are made (that is py_image_layers and the
layering core); these helpers only name targets and reject bad input early,
with a message that names the attribute and the fix.
"""

load(":image_binary.bzl", "py_image_binary")
load(":py_image_layers.bzl", "check_layer_groups", "layer_order", "py_image_layers")

DEFAULT_PLATFORM = Label("//bazel/platforms:linux_x86_64")

# CPU token in a platform's name -> what the image config records (OCI names).
# The transitioned binary checks the platform really has that CPU constraint.
_PLATFORMS = [
    ("arm64", struct(os = "linux", architecture = "arm64", variant = "v8", cpu = "arm64")),
    ("aarch64", struct(os = "linux", architecture = "arm64", variant = "v8", cpu = "arm64")),
    ("x86_64", struct(os = "linux", architecture = "amd64", variant = "", cpu = "x86_64")),
    ("amd64", struct(os = "linux", architecture = "amd64", variant = "", cpu = "x86_64")),
]

# Attributes every rule takes; they are forwarded to the targets a macro makes.
COMMON_ATTRS = [
    "compatible_with",
    "deprecation",
    "exec_compatible_with",
    "features",
    "restricted_to",
    "tags",
    "target_compatible_with",
    "testonly",
    "visibility",
]

def label_name(label):
    """The target name of a label.

    Args:
      label: a label string (or Label).
    Returns:
      `app` for `//my:app`, `:app`, `app` and `//my/app`.
    """
    label = str(label)
    if ":" in label:
        return label.rsplit(":", 1)[1]
    return label.rsplit("/", 1)[-1]

def platform_config(platform):
    """The image config (os, architecture, variant, cpu) a platform's name implies, or None.

    `linux_x86_64`, `linux_arm64` and any platform whose name contains
    `x86_64`/`amd64` or `arm64`/`aarch64` (e.g. `my_linux_arm64_gpu`).

    Args:
      platform: label (string or Label) of the target platform.
    Returns:
      struct(os, architecture, variant, cpu) or None.
    """
    name = label_name(platform)
    for token, config in _PLATFORMS:
        if token in name:
            return config
    return None

def common_kwargs(kwargs, flavour, foreign):
    """Returns the common attributes in kwargs; fails on any other key.

    Args:
      kwargs: the macro's extra keyword arguments.
      flavour: "py_image (rules_oci)" etc., for messages.
      foreign: dict attribute -> fix, for attributes of the other ecosystem.
    Returns:
      dict of the common attributes.
    """
    out = {}
    for key, value in kwargs.items():
        if key in COMMON_ATTRS:
            out[key] = value
        elif key in foreign:
            fail("%s: `%s` is not an attribute here; %s" % (flavour, key, foreign[key]))
        else:
            fail("%s: unknown attribute `%s`; see docs/images.md for the attribute list" % (flavour, key))
    return out

def _regex_error(regex):
    """A Python `re` syntax error Starlark can see without a regex engine, or None."""
    depth = 0
    i = 0
    n = len(regex)
    prev = ""  # "" at the start, "(" after an open group, "|" after an alternation
    for _ in range(n + 1):
        if i >= n:
            break
        c = regex[i]
        if c == "\\":
            if i + 1 >= n:
                return "it ends with a lone backslash"
            i += 2
            prev = "x"
            continue
        if c == "[":
            j = i + 1
            if j < n and regex[j] == "^":
                j += 1
            if j < n and regex[j] == "]":
                j += 1
            closed = False
            for _ in range(n):
                if j >= n:
                    break
                if regex[j] == "\\":
                    j += 2
                    continue
                if regex[j] == "]":
                    closed = True
                    break
                j += 1
            if not closed:
                return "a character class `[` is never closed"
            i = j + 1
            prev = "x"
            continue
        if c in "*+?{" and prev in ["", "(", "|"]:
            if not (c == "?" and prev == "("):
                return "`%s` at position %d has nothing to repeat" % (c, i)
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth < 0:
                return "`)` at position %d has no matching `(`" % i
        prev = c if c in "(|" else "x"
        i += 1
    if depth > 0:
        return "a group `(` is never closed"
    return None

def check_groups(layer_groups, attr = "layer_groups"):
    """Fails analysis on a bad group name or a regex Python's `re` would reject.

    Args:
      layer_groups: dict of group name -> regex.
      attr: the attribute to name in messages.
    """
    if type(layer_groups) != type({}):
        fail("%s: expected a dict of group name -> regex, like {\"torch\": \"pip_deps_torch/\"}, got %r" %
             (attr, layer_groups))
    check_layer_groups(layer_groups, attr = attr)
    for name, regex in layer_groups.items():
        err = _regex_error(regex)
        if err:
            fail(("%s: the regex of group %r, %r, is not a valid Python regular expression (%s); " +
                  "fix it, e.g. %r matches everything of the repository pip_deps_%s") %
                 (attr, name, regex, err, "pip_deps_%s/" % name, name))

def image_layers(name, binary, platform, root, layer_groups, compress, expected_cpu, kw, binary_target = None):
    """Declares the transitioned binary and the layers of one image.

    Args:
      name: the image name.
      binary: label of the py_binary.
      platform: target platform label.
      root: in-image directory of the launcher.
      layer_groups: dict of custom group name -> regex.
      compress: gzip, zstd or none.
      expected_cpu: CPU the image config records ("" when it comes from the base).
      kw: common attributes forwarded to every target.
      binary_target: name of the transitioned binary; default `y<binary name>`,
        or `<name>.y<binary name>` when that name is taken in the package.
    Returns:
      struct(binary = transitioned binary label, layers = label of the
      py_image_layers target, groups = group names in image order).
    """
    check_groups(layer_groups)
    if not binary:
        fail("py_image %s: `binary` is required; pass the py_binary to put in the image" % name)
    if compress not in ["gzip", "zstd", "none"]:
        fail("py_image %s: compress = %r; use \"gzip\", \"zstd\" or \"none\"" % (name, compress))
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
        **kw
    )
    py_image_layers(
        name = name + ".layers",
        binary = ":" + binary_target,
        root = root,
        layer_groups = layer_groups,
        compress = compress,
        **kw
    )
    return struct(
        binary = ":" + binary_target,
        layers = ":" + name + ".layers",
        groups = layer_order(layer_groups),
    )

def repo_tag(name):
    """The default `<package>/<name>:latest` tag (lower case, as registries require)."""
    pkg = native.package_name()
    return ("%s/%s:latest" % (pkg, name) if pkg else "%s:latest" % name).lower()

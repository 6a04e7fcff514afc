"""Names of the targets py_image makes and of the tags it loads."""

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

def repo_tag(name):
    """The default `<package>/<name>:latest` tag (lower case, as registries require).

    Args:
      name: the image name.

    Returns:
      the tag string.
    """
    pkg = native.package_name()
    return ("%s/%s:latest" % (pkg, name) if pkg else "%s:latest" % name).lower()

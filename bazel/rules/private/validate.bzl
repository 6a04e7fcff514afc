"""Loading-time checks shared by every macro: attributes, layer groups, compression.

Each check fails with a message that names the attribute and the fix.
"""

load(":py_image_layers.bzl", "check_layer_groups")

# Attributes every rule takes; macros forward them to each target they make.
# Bazel decides whether it knows them (`package_metadata` is Bazel 7+,
# `aspect_hints` Bazel 6+; see docs/compatibility.md).
COMMON_ATTRS = [
    "applicable_licenses",
    "aspect_hints",
    "compatible_with",
    "deprecation",
    "exec_compatible_with",
    "exec_properties",
    "features",
    "package_metadata",
    "restricted_to",
    "tags",
    "target_compatible_with",
    "testonly",
    "visibility",
]

def common_kwargs(kwargs, flavour, foreign):
    """Returns the common attributes in kwargs; fails on any other key.

    Args:
      kwargs: the macro's extra keyword arguments.
      flavour: "py_image x (rules_oci)" etc., for messages.
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

def check_compress(flavour, compress, allowed):
    """Fails unless `compress` is one of `allowed`.

    Args:
      flavour: "py_image x (rules_docker)" etc., for messages.
      compress: the value given.
      allowed: dict value -> None, or -> the fix for a value the image rule rejects.
    """
    if compress in allowed and allowed[compress] == None:
        return
    if compress in allowed:
        fail("%s: compress = %r; %s" % (flavour, compress, allowed[compress]))
    fail("%s: compress = %r; use one of %s" % (
        flavour,
        compress,
        ", ".join(['"%s"' % k for k, v in allowed.items() if v == None]),
    ))

def regex_error(regex):
    """A Python `re` syntax error Starlark can see without a regex engine, or None.

    Also refuses a nested quantifier: a group that holds `*`, `+` or `{` and is
    itself repeated with `*`, `+` or `{` (`(a+)+`, `(?:x*y)*`) can backtrack for
    an exponential time and hang the build. The core refuses the same patterns
    (`nested_quantifier` in pycross_layers/classify.py, the same scan).

    Args:
      regex: the pattern.

    Returns:
      a sentence saying what is wrong, or None.
    """
    depth = 0
    i = 0
    n = len(regex)
    prev = ""  # "" at the start, "(" after an open group, "|" after an alternation
    quantified = []  # per open group: whether it holds a quantifier
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
            quantified.append(False)
        elif c == ")":
            depth -= 1
            if depth < 0:
                return "`)` at position %d has no matching `(`" % i
            inner = quantified.pop()
            if inner and i + 1 < n and regex[i + 1] in "*+{":
                return ("nested quantifier: the group closed at position %d repeats a pattern " +
                        "that is itself repeated (like `(a+)+`), which can backtrack for ever; " +
                        "repeat once, e.g. `a+` instead of `(a+)+`") % i
            if inner and quantified:
                quantified[-1] = True
        elif c in "*+{" and prev != "(" and quantified:
            quantified[-1] = True
        prev = c if c in "(|" else "x"
        i += 1
    if depth > 0:
        return "a group `(` is never closed"
    return None

def _is_label(value):
    if type(value) == "Label":
        return True
    return type(value) == type("") and (value.startswith("@") or value.startswith("//") or value.startswith(":"))

def split_groups(layer_groups, attr = "layer_groups"):
    """Checks `layer_groups` and splits it into regex groups and dependency groups.

    A value is a dependency group when it is a label (a `Label`, or a string
    starting with `@`, `//` or `:`) or a list of labels: the group takes the
    files those dependencies bring into the binary's runfiles, transitively.
    Any other string is a regex (Python `re`, anchored at the start of the
    runfiles path `<repo>/<path>`). Groups are tried in order; first wins.

    Args:
      layer_groups: dict of group name -> regex, label or list of labels.
      attr: the attribute to name in messages.

    Returns:
      struct(order = group names in order, regexes = dict name -> regex,
      deps = dict label -> group name, the first group that names it).
    """
    if type(layer_groups) != type({}):
        fail("%s: expected a dict of group name -> regex or labels, like {\"torch\": \"pip_deps_torch/\"} or {\"torch\": [\"@pypi//torch\"]}, got %r" %
             (attr, layer_groups))
    regexes = {}
    deps = {}
    for name, value in layer_groups.items():
        if type(value) == type([]):
            if not value:
                fail("%s: group %r has an empty list; give the dependencies it takes, e.g. [\"@pypi//%s\"]" % (attr, name, name))
            for label in value:
                if not _is_label(label):
                    fail("%s: group %r: %r is not a label; a list holds labels only (a regex is a plain string)" % (attr, name, label))
            labels = value
        elif _is_label(value):
            labels = [value]
        elif type(value) == type(""):
            regexes[name] = value
            continue
        else:
            fail("%s: group %r: expected a regex, a label or a list of labels, got %r" % (attr, name, value))
        for label in labels:
            key = str(label)
            if key not in deps:
                deps[key] = name
    check_layer_groups(dict({name: "x" for name in layer_groups}, **regexes), attr = attr)
    for name, regex in regexes.items():
        err = regex_error(regex)
        if err:
            fail(("%s: the regex of group %r, %r, is not a valid Python regular expression (%s); " +
                  "fix it, e.g. %r matches everything of the repository pip_deps_%s") %
                 (attr, name, regex, err, "pip_deps_%s/" % name, name))
    return struct(order = list(layer_groups.keys()), regexes = regexes, deps = deps)

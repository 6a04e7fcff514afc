"""The records the stages hand each other: plain dataclasses, no syntax tree.

``read`` turns a parsed file into a :class:`FileRecord` (its loads, the calls
to rules_docker kinds with their attributes as text, the targets it defines);
a planner under :mod:`migrate.kinds` turns each :class:`RuleCall` into a
:class:`CallPlan` (the :class:`NewCall` records that replace it, where every
attribute went) or a :class:`Left` (why it stays); ``render`` applies the
plans to the syntax tree. Statements are referred to by their index in the
file's top-level body (``top_index``) and their ``ordinal`` among the simple
statements of that top-level statement (0 for the statement itself), so these
records can cross process boundaries and be tested without libcst.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_BASE_REPO = "distroless_python3"


@dataclass(frozen=True)
class Options:
    """What the user asked for (the CLI flags that shape a plan)."""

    to: str = "oci"  # "oci" or "docker-shim"
    default_base: str = "@" + DEFAULT_BASE_REPO
    base_suffix: str = ""  # "@x//image" -> "@x" + base_suffix
    workspace: bool = False


# -- what the read stage finds ------------------------------------------------------


@dataclass(frozen=True)
class LoadStmt:
    """A top-level ``load()`` statement."""

    index: int  # position in the file's top-level body
    label: str
    symbols: tuple[tuple[str, str], ...]  # (local name, loaded name), in source order
    line: int


@dataclass(frozen=True)
class Value:
    """An attribute value: its text, and what a planner needs to know about it."""

    code: str  # continuation lines relative to the attribute's column (see ``verbatim``)
    kind: str  # string | list | dict | select | name | concat | call | other
    string: str | None = None  # a plain string literal's value
    strings: tuple[str, ...] | None = None  # a list of plain string literals, no comments
    multiline: bool = False
    verbatim: bool = False  # continuation lines could not be re-indented: print as they are
    items: tuple[Value, ...] = ()  # the elements of a list, the arguments of a call
    entries: tuple[tuple[Value, Value], ...] = ()  # the (key, value) pairs of a dict
    func: str | None = None  # the function a call calls ("select", "requirement", "native.x")
    names: tuple[str, ...] = ()  # variables the value reads (not function names)
    calls: tuple[str, ...] = ()  # functions it calls, select() excepted
    literals: tuple[str, ...] = ()  # every string literal in it, in order


@dataclass(frozen=True)
class Attr:
    name: str
    value: Value
    leading: tuple[str, ...] = ()  # comment lines above the attribute
    trailing: str | None = None  # comment at the end of its line
    line: int = 0


@dataclass(frozen=True)
class RuleCall:
    """One call to a rules_docker kind (``py3_image``, ``container_image``, ...)."""

    kind: str
    symbol: str  # the local name it is called by
    line: int
    name: str | None  # the literal name, or None
    name_code: str | None  # the name's source text (a macro parameter), or None
    attrs: tuple[Attr, ...]
    indent: str  # the statement's indentation
    problem: str | None = None  # why the call cannot be rewritten safely
    skip: bool = False  # "# migrate: skip"
    open_comment: str | None = None  # comment after "(" on the first line
    closing: tuple[str, ...] = ()  # comment lines before ")"
    top_index: int = 0  # the top-level statement holding the call
    ordinal: int = 0  # which simple statement of it, counted in source order (the first is 0)
    name_text: str | None = None  # the name as written, for the report
    params: tuple[str, ...] = ()  # parameters of the enclosing def (a macro), if any

    def attr(self, name: str) -> Attr | None:
        return next((a for a in self.attrs if a.name == name), None)


@dataclass(frozen=True)
class Target:
    """A top-level ``rule(name = "literal", ...)`` call: a target of a BUILD file."""

    name: str
    rule: str  # the local name called
    line: int


@dataclass(frozen=True)
class FileRecord:
    """Everything the plan stage needs to know about one parsed file."""

    loads: tuple[LoadStmt, ...]
    kinds: Mapping[str, str]  # local symbol -> rules_docker kind it names
    calls: tuple[RuleCall, ...]  # calls to those symbols
    bound: frozenset[str]  # names the file binds at top level
    uses: Mapping[str, int]  # how often each symbol of ``kinds`` is used outside loads
    targets: tuple[Target, ...] = ()
    constants: Mapping[str, str] = field(default_factory=dict)  # NAME = "string" at top level
    called: frozenset[str] = frozenset()  # functions called by top-level statements
    silence_native_py: bool = False  # "buildifier: disable=native-py" somewhere


# -- what a planner decides -----------------------------------------------------------


@dataclass(frozen=True)
class NewAttr:
    """An attribute of a call the tool writes."""

    name: str
    code: str  # relative text (continuation lines relative to the attribute's column)
    leading: tuple[str, ...] = ()
    trailing: str | None = None
    verbatim: bool = False  # continuation lines are absolute; print them untouched


@dataclass(frozen=True)
class NewCall:
    """A call the tool writes: ``rule`` is the local name it is called by."""

    kind: str
    rule: str
    attrs: tuple[NewAttr, ...]
    above: tuple[str, ...] = ()  # comment lines right above the call


@dataclass(frozen=True)
class ImplicitRef:
    """A reference to an implicit target of an image (``:app.tar``, ``//p:app.digest``)."""

    path: str
    line: int
    text: str  # the label as written
    target: str  # //pkg:name of the image
    suffix: str
    equivalent: str | None = None  # what it resolves to after migration, when exact
    replacement: str | None = None  # the label written instead (``:app.tar`` -> ``:app.tarball``)
    as_file: bool = False  # read as a file: in data, srcs, tars, $(location ...)


@dataclass(frozen=True)
class Move:
    attr: str
    to: str  # "py_binary.srcs", "py_image.env", "dropped", ...
    note: str = ""


@dataclass(frozen=True)
class CallPlan:
    """What a call becomes."""

    line: int
    kind: str
    name: str
    calls: tuple[NewCall, ...]
    moves: tuple[Move, ...] = ()
    notes: tuple[str, ...] = ()
    needs: tuple[tuple[str, str], ...] = ()  # (load label, symbol) the new calls use
    bases: tuple[str, ...] = ()  # base repositories ("@x") the new image uses
    references: tuple[ImplicitRef, ...] = ()
    open_comment: str | None = None
    closing: tuple[str, ...] = ()
    call: RuleCall | None = field(default=None, compare=False, repr=False)
    keep_original: bool = False  # add the new calls after the call instead of replacing it
    depends: tuple[tuple[str, str], ...] = ()  # (attribute, label) of the targets it needs


@dataclass(frozen=True)
class Left:
    """A call the tool leaves as it is, and why."""

    line: int
    kind: str
    name: str
    reason: str
    skipped: bool = False  # on purpose ("# migrate: skip"), not a failure
    references: tuple[ImplicitRef, ...] = ()
    blocked_by: str | None = None  # "//pkg:target (path:line)" another target it waits for


@dataclass(frozen=True)
class Context:
    """What a planner needs to know beyond the call itself."""

    package: str
    is_build: bool
    symbols: Mapping[str, str]  # rule ("py_image", "oci_image", ...) -> local name to call it by
    options: Options = Options()
    refs: Mapping[str, tuple[ImplicitRef, ...]] = field(default_factory=dict)  # by image name
    still_used: Mapping[str, tuple[str, ...]] | None = None  # repo -> remaining "@x//" uses
    silence_native_py: bool = False  # the file says "buildifier: disable=native-py"
    constants: Mapping[str, str] = field(default_factory=dict)  # the file's NAME = "string"


@dataclass(frozen=True)
class LoadPlan:
    remove: tuple[tuple[int, str], ...] = ()  # (body index of the load, local name)
    add: tuple[tuple[str, str, str], ...] = ()  # (label, local name, loaded symbol)

    def __bool__(self) -> bool:
        return bool(self.remove or self.add)


@dataclass(frozen=True)
class Insert:
    """Statements (as text) to add: before top-level statement ``before``, or at the end."""

    text: str
    before: int | None = None
    blank: bool = True  # a blank line above the first one (buildifier groups some statements)


@dataclass(frozen=True)
class FileEdits:
    """Everything ``render`` applies to one file."""

    plans: tuple[CallPlan, ...] = ()
    load_plan: LoadPlan = LoadPlan()
    inserts: tuple[Insert, ...] = ()
    strings: Mapping[str, str] = field(default_factory=dict)  # label literal -> replacement

    def __bool__(self) -> bool:
        return bool(self.plans or self.load_plan or self.inserts or self.strings)


@dataclass(frozen=True)
class PullTag:
    """``<extension>.pull(name = ..., platforms = [...])`` in MODULE.bazel."""

    name: str
    platforms: tuple[str, ...] | None  # None: not a list of plain strings
    index: int  # top-level statement


@dataclass(frozen=True)
class ModuleFacts:
    """What a MODULE.bazel declares for ``--module`` (indexes: top-level statements)."""

    deps: Mapping[str, tuple[int, str | None]] = field(default_factory=dict)  # bazel_dep: version
    module_call: int | None = None  # module(...)
    extension: str | None = None  # the variable holding rules_oci's ``oci`` extension
    extension_at: int | None = None  # its use_extension statement
    pulls: tuple[PullTag, ...] = ()  # its pull tags
    use_repos: tuple[int, ...] = ()  # its use_repo statements
    imported: frozenset[str] = frozenset()  # every name any use_repo makes visible
    bound: frozenset[str] = frozenset()  # top-level variables
    statements: int = 0  # top-level statements in the file

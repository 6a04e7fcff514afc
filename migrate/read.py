"""Read stage: a parsed file becomes a :class:`~migrate.model.FileRecord`.

The record holds the file's loads, every call to a rules_docker kind with the
source text of each attribute value (and what is known about it: a literal, a
list of labels, the variables and functions it uses), the comments around each
attribute, the file's targets and positions for the report. Nothing here
decides anything, and nothing that leaves this module is a syntax-tree node:
:class:`Parsed` (the tree) goes only to :mod:`migrate.render`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from migrate import rules
from migrate.model import Attr, FileRecord, LoadStmt, ModuleFacts, PullTag, RuleCall, Target, Value
from migrate.source import parse as parse_text

SKIP_MARK = re.compile(r"#\s*migrate:\s*skip\b")


def read_loads(module: cst.Module, lines: dict[int, int]) -> list[LoadStmt]:
    """The module's top-level loads (``lines`` maps body index to line)."""
    found = []
    for index, stmt in enumerate(module.body):
        call = _load_call(stmt)
        if call is None:
            continue
        first = call.args[0].value if call.args else None
        if not isinstance(first, cst.SimpleString):
            continue
        label = _string(first)
        symbols = []
        for arg in call.args[1:]:
            if isinstance(arg.value, cst.SimpleString):
                remote = _string(arg.value)
                if remote is None:
                    continue
                local = arg.keyword.value if arg.keyword is not None else remote
                symbols.append((local, remote))
        if label is not None:
            found.append(LoadStmt(index, label, tuple(symbols), lines.get(index, 0)))
    return found


def statement_call(stmt: cst.CSTNode) -> cst.Call | None:
    """The call when ``stmt`` is just ``name(...)`` (one expression, a plain function name).

    The one place that decides what a call statement looks like: loads, the
    calls to rewrite, a file's targets and a WORKSPACE's set-up all use it.
    """
    if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
        return None
    expr = stmt.body[0]
    if not isinstance(expr, cst.Expr) or not isinstance(expr.value, cst.Call):
        return None
    call = expr.value
    return call if isinstance(call.func, cst.Name) else None


def _load_call(stmt: cst.CSTNode) -> cst.Call | None:
    call = statement_call(stmt)
    return call if call is not None and call.func.value == "load" else None  # type: ignore[union-attr]


def is_load(stmt: cst.CSTNode) -> bool:
    return _load_call(stmt) is not None


def _string(node: cst.SimpleString) -> str | None:
    try:
        value = node.evaluated_value
    except Exception:  # noqa: BLE001 - libcst raises several kinds for odd literals
        return None
    return value if isinstance(value, str) else None


def bound_names(module: cst.Module) -> set[str]:
    """Every name the file binds at top level: loads, defs, assignments."""
    names: set[str] = set()
    for stmt in module.body:
        call = _load_call(stmt)
        if call is not None:
            for arg in call.args[1:]:
                if arg.keyword is not None:
                    names.add(arg.keyword.value)
                elif isinstance(arg.value, cst.SimpleString):
                    value = _string(arg.value)
                    if value:
                        names.add(value)
        elif isinstance(stmt, cst.FunctionDef):
            names.add(stmt.name.value)
        elif isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, (cst.Assign, cst.AugAssign, cst.AnnAssign)):
                    targets = small.targets if isinstance(small, cst.Assign) else [small]
                    for target in targets:
                        node = target.target
                        if isinstance(node, cst.Name):
                            names.add(node.value)
    return names


class _NameUses(cst.CSTVisitor):
    """Names used as values (not keyword names, attributes or load strings)."""

    def __init__(self) -> None:
        self.used: Counter[str] = Counter()

    def visit_Arg(self, node: cst.Arg) -> bool:
        node.value.visit(self)
        return False

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        node.value.visit(self)
        return False

    def visit_Param(self, node: cst.Param) -> bool:
        if node.default is not None:
            node.default.visit(self)
        return False

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        node.params.visit(self)
        node.body.visit(self)
        return False

    def visit_Name(self, node: cst.Name) -> None:
        self.used[node.value] += 1


_STRINGS = re.compile(
    r'''"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\''''
)


def has_comment(code: str) -> bool:
    """Whether Starlark ``code`` holds a comment (a ``#`` outside string literals)."""
    return "#" in code and "#" in _STRINGS.sub("", code)


def comments_in(node: cst.CSTNode) -> list[str]:
    found: list[str] = []

    class _Collect(cst.CSTVisitor):
        def visit_Comment(self, comment: cst.Comment) -> None:
            found.append(comment.value)

    node.visit(_Collect())
    return found


def _ws_comments(ws: cst.BaseParenthesizableWhitespace | None) -> tuple[str | None, list[str]]:
    """(comment on the same line, comment lines below) of a whitespace node."""
    if isinstance(ws, cst.ParenthesizedWhitespace):
        first = ws.first_line.comment.value if ws.first_line.comment else None
        below = [line.comment.value for line in ws.empty_lines if line.comment]
        return first, below
    return None, []


class CallFinder(cst.CSTVisitor):
    """Collects the calls to ``targets`` (local name -> kind) with their context."""

    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, module: cst.Module, targets: dict[str, str], line_offset: int = 0,
                 top_index: int = 0) -> None:
        self.module = module
        self.targets = targets
        self.line_offset = line_offset
        self.top_index = top_index
        self.statement_code: str | None = None  # the text of a top-level call statement
        self.calls: list[RuleCall] = []
        self._statement: list[cst.SimpleStatementLine] = []
        self._ordinals: list[int] = []  # of each open simple statement
        self._count = -1
        self._loops = 0
        self._comprehensions = 0
        self._lambdas = 0
        self._params: list[set[str]] = []
        self._indents: list[str] = [""]

    # context -------------------------------------------------------------
    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self._count += 1
        self._statement.append(node)
        self._ordinals.append(self._count)

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine) -> None:
        self._statement.pop()
        self._ordinals.pop()

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        indent = node.indent if node.indent is not None else self.module.default_indent
        self._indents.append(self._indents[-1] + indent)

    def leave_IndentedBlock(self, original_node: cst.IndentedBlock) -> None:
        self._indents.pop()

    def visit_For(self, node: cst.For) -> None:
        self._loops += 1

    def leave_For(self, original_node: cst.For) -> None:
        self._loops -= 1

    def visit_While(self, node: cst.While) -> None:
        self._loops += 1

    def leave_While(self, original_node: cst.While) -> None:
        self._loops -= 1

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        params = node.params
        every = (*params.params, *params.kwonly_params, *params.posonly_params)
        names = {p.name.value for p in every}
        self._params.append(names)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._params.pop()

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self._lambdas += 1

    def leave_Lambda(self, original_node: cst.Lambda) -> None:
        self._lambdas -= 1

    def _enter_comp(self, node: cst.CSTNode) -> None:
        self._comprehensions += 1

    def _leave_comp(self, node: cst.CSTNode) -> None:
        self._comprehensions -= 1

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _enter_comp
    leave_ListComp = leave_SetComp = leave_DictComp = leave_GeneratorExp = _leave_comp

    # the calls -------------------------------------------------------------
    def visit_Call(self, node: cst.Call) -> None:
        if not isinstance(node.func, cst.Name) or node.func.value not in self.targets:
            return
        symbol = node.func.value
        kind = self.targets[symbol]
        line = self._line(node)
        statement = self._statement[-1] if self._statement else None
        problem = None
        if self._loops:
            problem = "called inside a loop (one call makes several targets)"
        elif self._comprehensions:
            problem = "called inside a comprehension"
        elif self._lambdas:
            problem = "called inside a lambda"
        elif (
            statement is None
            or len(statement.body) != 1
            or not isinstance(statement.body[0], cst.Expr)
            or statement.body[0].value is not node
        ):
            problem = "the call is part of an expression, not a statement of its own"
        name, name_code, name_problem = self._name(node)
        attrs, arg_problem = self._attrs(node)
        problem = problem or arg_problem or name_problem
        skip = statement is not None and self._has_skip_mark(statement)
        open_comment, above_first = _ws_comments(node.whitespace_before_args)
        closing = self._closing(node)
        if attrs and (above_first or open_comment):
            # buildifier moves a comment after "(" above the first argument: so do we
            first = attrs[0]
            moved = ([open_comment] if open_comment else []) + list(above_first)
            attrs[0] = Attr(first.name, first.value, tuple(moved) + first.leading,
                            first.trailing, first.line)
            open_comment = None
        elif above_first:
            closing = tuple(above_first) + closing
        extra, _ = _ws_comments(node.whitespace_after_func)
        if extra:
            open_comment = f"{open_comment}  {extra}" if open_comment else extra
        self.calls.append(
            RuleCall(
                kind=kind,
                symbol=symbol,
                line=line,
                name=name,
                name_code=name_code,
                attrs=tuple(attrs),
                indent=self._indents[-1],
                problem=problem,
                skip=skip,
                open_comment=open_comment,
                closing=closing,
                top_index=self.top_index,
                ordinal=self._ordinals[-1] if self._ordinals else 0,
                name_text=self._name_text(node),
                params=tuple(sorted(self._params[-1])) if self._params else (),
            )
        )

    def _line(self, node: cst.Call) -> int:
        return self.get_metadata(PositionProvider, node).start.line + self.line_offset

    def _arg_position(self, call: cst.Call, index: int, arg: cst.Arg) -> tuple[int, int]:
        """(line, column relative to the statement's block) of an argument."""
        position = self.get_metadata(PositionProvider, arg)
        # code_for_node() leaves out the enclosing blocks' indentation: so do we
        return position.start.line + self.line_offset, position.start.column - len(
            self._indents[-1]
        )

    def _name_text(self, node: cst.Call) -> str | None:
        for arg in node.args:
            if arg.keyword is not None and arg.keyword.value == "name":
                return self.module.code_for_node(arg.value)
        return None

    def _name(self, node: cst.Call) -> tuple[str | None, str | None, str | None]:
        for arg in node.args:
            if arg.keyword is not None and arg.keyword.value == "name":
                value = arg.value
                if isinstance(value, cst.SimpleString):
                    literal = _string(value)
                    if literal:
                        return literal, None, None
                if (
                    isinstance(value, cst.Name)
                    and self._params
                    and value.value in self._params[-1]
                ):
                    return None, value.value, None
                code = self.module.code_for_node(value)
                return None, None, f"computed name ({code}): cannot tell which target it makes"
        return None, None, "no name attribute"

    def _attrs(self, node: cst.Call) -> tuple[list[Attr], str | None]:
        attrs: list[Attr] = []
        problem = None
        seen: set[str] = set()
        pending: list[str] = []
        for i, arg in enumerate(node.args):
            if arg.star == "**":
                problem = problem or (
                    f"**{self.module.code_for_node(arg.value)} is spread into the call: "
                    "its attributes are unknown"
                )
                continue
            if arg.star == "*" or arg.keyword is None:
                problem = problem or "positional arguments"
                continue
            name = arg.keyword.value
            if name in seen:
                problem = problem or f"attribute {name} given twice"
            seen.add(name)
            trailing = None
            leading = list(pending)
            pending = []
            for ws in (arg.whitespace_after_star, arg.whitespace_after_arg):
                same, below = _ws_comments(ws)
                if same:
                    trailing = same if trailing is None else f"{trailing}  {same}"
                pending.extend(below)
            if isinstance(arg.equal, cst.AssignEqual):
                for ws in (arg.equal.whitespace_before, arg.equal.whitespace_after):
                    same, below = _ws_comments(ws)
                    leading.extend(c for c in (same, *below) if c)
            if isinstance(arg.comma, cst.Comma):
                same, below = _ws_comments(arg.comma.whitespace_before)
                if same:
                    trailing = same if trailing is None else f"{trailing}  {same}"
                pending.extend(below)
                same, below = _ws_comments(arg.comma.whitespace_after)
                if same:
                    trailing = same if trailing is None else f"{trailing}  {same}"
                pending.extend(below)
            if i == len(node.args) - 1:
                pending = []  # handled as the call's closing comments
            line, column = self._arg_position(node, i, arg)
            value = describe(self.module, arg.value, column)
            attrs.append(Attr(name, value, tuple(leading), trailing, line))
        return attrs, problem

    def _closing(self, node: cst.Call) -> tuple[str, ...]:
        if not node.args:
            return ()
        last = node.args[-1]
        comments: list[str] = []
        _, below = _ws_comments(last.whitespace_after_arg)
        comments.extend(below)
        if isinstance(last.comma, cst.Comma):
            _, below = _ws_comments(last.comma.whitespace_before)
            comments.extend(below)
            _, below = _ws_comments(last.comma.whitespace_after)
            comments.extend(below)
        return tuple(comments)

    def _has_skip_mark(self, statement: cst.SimpleStatementLine) -> bool:
        code = self.statement_code
        if code is None:
            code = self.module.code_for_node(statement)
        if "migrate" not in code:
            return False
        above = []
        for line in statement.leading_lines:
            if line.comment is None:
                above = []
            else:
                above.append(line.comment.value)
        if any(SKIP_MARK.search(c) for c in above):
            return True
        inner = statement.with_changes(leading_lines=())
        return any(SKIP_MARK.search(c) for c in comments_in(inner))


def describe(module: cst.Module, node: cst.BaseExpression, column: int) -> Value:
    """Describe an attribute value whose attribute starts at ``column``."""
    code = module.code_for_node(node)
    lines = code.split("\n")
    multiline = len(lines) > 1
    verbatim = False
    if multiline:
        triple = '"""' in code or "'''" in code
        if (triple and _has_multiline_string(node)) or any(
            line.strip() and not line.startswith(" " * column) for line in lines[1:]
        ):
            verbatim = True
        else:
            code = "\n".join([lines[0], *(line[column:] for line in lines[1:])])
    kind = "other"
    string = None
    strings = None
    items: tuple[Value, ...] = ()
    entries: tuple[tuple[Value, Value], ...] = ()
    func = None
    if isinstance(node, cst.SimpleString):
        kind = "string"
        string = _string(node)
        return Value(code, kind, string, literals=(string,) if string is not None else ())
    if isinstance(node, cst.List):
        kind = "list"
        plain = all(isinstance(e.value, cst.SimpleString) for e in node.elements)
        if plain and not has_comment(code):
            values = [_string(e.value) for e in node.elements]  # type: ignore[arg-type]
            if all(v is not None for v in values):
                strings = tuple(values)  # type: ignore[arg-type]
        items = tuple(_part(module, e.value) for e in node.elements)
    elif isinstance(node, cst.Dict):
        kind = "dict"
        entries = tuple((_part(module, e.key), _part(module, e.value))
                        for e in node.elements if isinstance(e, cst.DictElement))
    elif isinstance(node, cst.Call):
        func = _dotted(node.func)
        kind = "select" if func == "select" else "call"
        items = tuple(_part(module, a.value) for a in node.args if a.keyword is None)
    elif isinstance(node, cst.Name):
        kind = "name"
    elif isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add):
        kind = "concat"
    if strings is not None:
        return Value(code, kind, string, strings, multiline, verbatim, items, literals=strings)
    names, calls, literals = _uses(node)
    return Value(code, kind, string, strings, multiline, verbatim, items, entries, func,
                 names, calls, literals)


def _part(module: cst.Module, node: cst.BaseExpression) -> Value:
    """An element of a list, dict or call: described on one line."""
    if isinstance(node, cst.SimpleString):
        string = _string(node)
        return Value(node.value, "string", string, literals=(string,) if string is not None else ())
    if isinstance(node, cst.Name):
        return Value(node.value, "name", names=(node.value,))
    return describe(module, node, 0)


def _dotted(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        head = _dotted(node.value)
        return f"{head}.{node.attr.value}" if head else None
    return None


def _uses(node: cst.CSTNode) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(variables read, functions called, string literals) anywhere in a value."""
    names: list[str] = []
    calls: list[str] = []
    literals: list[str] = []
    stack: list[cst.CSTNode] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, cst.SimpleString):
            text = _string(current)
            if text is not None:
                literals.append(text)
        elif isinstance(current, cst.Name):
            if current.value not in ("True", "False", "None"):
                names.append(current.value)
        elif isinstance(current, (cst.List, cst.Tuple, cst.Set)):
            stack.extend(reversed([e.value for e in current.elements]))
        elif isinstance(current, cst.Dict):
            for element in reversed(current.elements):
                if isinstance(element, cst.DictElement):
                    stack.extend((element.value, element.key))
                else:
                    stack.append(element.value)
        elif isinstance(current, cst.Call):
            func = _dotted(current.func)
            if func is not None and func != "select":
                calls.append(func)
            stack.extend(reversed([a.value for a in current.args]))
        elif isinstance(current, cst.BinaryOperation):
            stack.extend((current.right, current.left))
        elif isinstance(current, cst.Attribute):
            stack.append(current.value)
        elif isinstance(current, (cst.Integer, cst.Float)):
            continue
        else:
            stack.extend(reversed(current.children))
    return tuple(dict.fromkeys(names)), tuple(dict.fromkeys(calls)), tuple(literals)


def _has_multiline_string(node: cst.CSTNode) -> bool:
    found = False

    class _Find(cst.CSTVisitor):
        def visit_SimpleString(self, s: cst.SimpleString) -> None:
            nonlocal found
            if "\n" in s.value:
                found = True

        def visit_FormattedString(self, s: cst.FormattedString) -> None:
            nonlocal found
            found = True

    node.visit(_Find())
    return found


@dataclass(frozen=True)
class Layout:
    """Where each top-level statement is, and its text (from one pass of codegen)."""

    lines: dict[int, int]  # body index -> line of the statement itself
    starts: dict[int, int]  # body index -> first line, comment lines above included
    codes: tuple[str, ...]


def layout(module: cst.Module) -> Layout:
    lines: dict[int, int] = {}
    starts: dict[int, int] = {}
    codes = []
    line = 1 + len(module.header)
    for index, stmt in enumerate(module.body):
        leading = getattr(stmt, "leading_lines", ())
        starts[index] = line
        lines[index] = line + len(leading)
        code = module.code_for_node(stmt)
        codes.append(code)
        line += code.count("\n")
    return Layout(lines, starts, tuple(codes))


def _word_pattern(names: Iterable[str]) -> re.Pattern[str]:
    return re.compile(r"(?<![\w.])(?:" + "|".join(re.escape(n) for n in sorted(names)) + r")\b")


def find_calls(module: cst.Module, targets: dict[str, str], where: Layout) -> list[RuleCall]:
    """The calls to ``targets``; only statements whose text names one are visited."""
    if not targets:
        return []
    pattern = _word_pattern(targets)
    found: list[RuleCall] = []
    for index, stmt in enumerate(module.body):
        if is_load(stmt) or not pattern.search(where.codes[index]):
            continue
        # positions come from a module holding just this statement: cheap, and its
        # columns are relative to the statement's block, as code_for_node() prints
        code = where.codes[index]
        if len(pattern.findall(code)) == 1 and _is_plain_call(stmt, targets):
            fast = _FastCallFinder(module, targets, where.lines[index], index, "\n" in code.strip())
            fast.statement_code = code
            try:
                found.extend(fast.run(stmt))
                continue
            except _NeedPositions:
                pass
        mini = module.with_changes(header=(), body=[stmt], footer=())
        finder = CallFinder(mini, targets, where.starts[index] - 1, index)
        MetadataWrapper(mini, unsafe_skip_copy=True).visit(finder)
        found.extend(finder.calls)
    return found


def _is_plain_call(stmt: cst.CSTNode, targets: dict[str, str]) -> bool:
    """A top-level statement that is just ``target(...)``: no metadata needed."""
    call = statement_call(stmt)
    return call is not None and call.func.value in targets and not call.lpar  # type: ignore[union-attr]


class _NeedPositions(Exception):
    """The fast path cannot tell a column without codegen."""


class _FastCallFinder(CallFinder):
    """The common case (a top-level call, one attribute a line) read without metadata."""

    def __init__(self, module: cst.Module, targets: dict[str, str], line: int, top_index: int,
                 multiline: bool) -> None:
        super().__init__(module, targets, 0, top_index)
        self.line = line
        self.multiline = multiline

    def run(self, stmt: cst.SimpleStatementLine) -> list[RuleCall]:
        self._statement.append(stmt)
        self._ordinals.append(0)
        call = stmt.body[0].value  # type: ignore[attr-defined]
        self.visit_Call(call)
        return self.calls

    def _line(self, node: cst.Call) -> int:
        return self.line

    def _arg_position(self, call: cst.Call, index: int, arg: cst.Arg) -> tuple[int, int]:
        if not self.multiline:
            return self.line, 0
        before = call.args[index - 1].comma if index else None
        ws = call.whitespace_before_args if index == 0 else getattr(before, "whitespace_after",
                                                                    None)
        if isinstance(ws, cst.ParenthesizedWhitespace) and ws.indent:
            return self.line, len(ws.last_line.value)
        raise _NeedPositions


def count_uses(module: cst.Module, names: Iterable[str], where: Layout) -> Counter[str]:
    """How many times each name is used as a value outside loads."""
    names = list(names)
    uses: Counter[str] = Counter()
    if not names:
        return uses
    pattern = _word_pattern(names)
    for index, stmt in enumerate(module.body):
        if is_load(stmt):
            continue
        hits = pattern.findall(where.codes[index])
        if not hits:
            continue
        if len(hits) == 1 and _is_plain_call(stmt, {n: n for n in names}):
            uses[hits[0]] += 1
            continue
        visitor = _NameUses()
        stmt.visit(visitor)
        uses.update(visitor.used)
    return uses


# -- the read stage's entry points ---------------------------------------------------


@dataclass(frozen=True)
class Parsed:
    """A parsed file and the text of each top-level statement; only render looks inside."""

    module: cst.Module
    layout: Layout


def parse(text: str) -> Parsed:
    """Parse Starlark text (:class:`migrate.source.SourceError` when it cannot be)."""
    module = parse_text(text)
    return Parsed(module, layout(module))


def read(parsed: Parsed, ignore_kinds: frozenset[str] = frozenset(),
         kinds_of=rules.docker_kind) -> FileRecord:
    """The file's records: loads, calls to rules_docker kinds, targets, constants."""
    module, where = parsed.module, parsed.layout
    loads = tuple(read_loads(module, where.lines))
    kinds: dict[str, str] = {}
    for load in loads:
        for local, remote in load.symbols:
            kind = kinds_of(load.label, remote)
            if kind is not None and kind not in ignore_kinds:
                kinds[local] = kind
    calls = tuple(find_calls(module, kinds, where)) if kinds else ()
    targets: list[Target] = []
    constants: dict[str, str] = {}
    called: set[str] = set()
    for index, stmt in enumerate(module.body):
        call = statement_call(stmt)
        if call is not None:
            func = call.func.value  # type: ignore[union-attr]
            called.add(func)
            for arg in call.args:
                if arg.keyword is not None and arg.keyword.value == "name":
                    if isinstance(arg.value, cst.SimpleString):
                        name = _string(arg.value)
                        if name:
                            targets.append(Target(name, func, where.lines.get(index, 0)))
                    break
        elif isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1:
            small = stmt.body[0]
            if (isinstance(small, cst.Assign) and len(small.targets) == 1
                    and isinstance(small.targets[0].target, cst.Name)
                    and isinstance(small.value, cst.SimpleString)):
                text = _string(small.value)
                if text is not None:
                    constants[small.targets[0].target.value] = text
    uses = count_uses(module, kinds, where) if kinds else Counter()
    return FileRecord(
        loads=loads,
        kinds=kinds,
        calls=calls,
        bound=frozenset(bound_names(module)),
        uses=dict(uses),
        targets=tuple(targets),
        constants=constants,
        called=frozenset(called),
        silence_native_py=any("disable=native-py" in code for code in where.codes),
    )


OCI_EXTENSION = "@rules_oci//oci:extensions.bzl"


def _literal(node: cst.BaseExpression) -> object:
    """A plain string or a list of plain strings; anything else is None."""
    if isinstance(node, cst.SimpleString):
        return _string(node)
    if isinstance(node, cst.List):
        items = [_literal(e.value) for e in node.elements if isinstance(e, cst.Element)]
        return items if all(isinstance(i, str) for i in items) else None
    return None


def module_facts(parsed: Parsed) -> ModuleFacts:
    """What a MODULE.bazel declares: bazel_deps, rules_oci's extension, its pulls and repos."""
    deps: dict[str, tuple[int, str | None]] = {}
    module_call = extension = extension_at = None
    pulls: list[PullTag] = []
    use_repos: list[int] = []
    imported: set[str] = set()
    bound: set[str] = set()
    for index, stmt in enumerate(parsed.module.body):
        target, call = None, statement_call(stmt)
        if call is None and isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1:
            small = stmt.body[0]
            if isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(
                    small.targets[0].target, cst.Name):
                target = small.targets[0].target.value
                bound.add(target)
                call = small.value if isinstance(small.value, cst.Call) else None
            elif isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
                call = small.value
        if call is None:
            continue
        keywords = {a.keyword.value: _literal(a.value) for a in call.args if a.keyword}
        positional = [a.value for a in call.args if a.keyword is None and not a.star]
        func = call.func
        if isinstance(func, cst.Name) and target is None:
            if func.value == "bazel_dep" and isinstance(keywords.get("name"), str):
                version = keywords.get("version")
                deps[str(keywords["name"])] = (index, version if isinstance(version, str)
                                               else None)
            elif func.value == "module":
                module_call = index
            elif func.value == "use_repo":
                imported.update(str(n) for n in map(_literal, positional[1:])
                                if isinstance(n, str))
                imported.update(keywords)
                if (positional and isinstance(positional[0], cst.Name)
                        and positional[0].value == extension):
                    use_repos.append(index)
        elif (isinstance(func, cst.Name) and func.value == "use_extension" and target
              and extension is None
              and [_literal(v) for v in positional[:2]] == [OCI_EXTENSION, "oci"]):
            extension, extension_at = target, index
        elif (isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name)
              and extension is not None and func.value.value == extension
              and func.attr.value == "pull" and isinstance(keywords.get("name"), str)):
            platforms = keywords.get("platforms", [])
            pulls.append(PullTag(str(keywords["name"]),
                                 tuple(platforms) if isinstance(platforms, list) else None,
                                 index))
    return ModuleFacts(deps, module_call, extension, extension_at, tuple(pulls),
                       tuple(use_repos), frozenset(imported), frozenset(bound),
                       len(parsed.module.body))

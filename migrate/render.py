"""Render stage: apply a file's edits to its syntax tree; the only stage that changes one.

Untouched statements are the very nodes that were parsed, so they print back
byte for byte. Rewritten calls are printed by :mod:`migrate.fmt` (buildifier's
layout) and parsed back into nodes; comments found around the old call go with
the attribute they were attached to. The same code edits BUILD files, macros
in .bzl files and WORKSPACE files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import libcst as cst

from migrate.fmt import render_call, render_load, string
from migrate.labels import load_label_key
from migrate.model import CallPlan, FileEdits, Insert, LoadPlan, LoadStmt
from migrate.read import Parsed, comments_in, has_comment, is_load
from migrate.refs import FILE_ATTRS


class RenderError(Exception):
    """The edits produced text that does not parse (a bug): the file is left as it was."""


def apply_edits(parsed: Parsed, loads: Sequence[LoadStmt], edits: FileEdits) -> str:
    """The new text of a file (the old text when there is nothing to do)."""
    module = parsed.module
    if not edits:
        return module.code
    if edits.strings:  # first, so that only the statements read from the file change
        module = _replace_strings(module, parsed, edits.strings)
    codes = () if edits.strings else parsed.layout.codes
    new = render(module, edits.plans, loads, edits.load_plan, edits.inserts, codes)
    text, changed = assemble(parsed.module, parsed.layout.codes, new, with_changed=True)
    try:
        # the statements kept byte for byte parsed before; every other one is parsed
        # again (top-level statements, each ending its line, are valid one after another)
        cst.parse_module(changed)
    except cst.ParserSyntaxError as exc:  # pragma: no cover - a bug in the renderer
        raise RenderError(f"internal error, file left as it was: output does not parse ({exc})"
                          ) from None
    return text


def statement_of(module: cst.Module, top_index: int, ordinal: int) -> cst.SimpleStatementLine:
    """The simple statement a :class:`~migrate.model.RuleCall` was read from."""
    top = module.body[top_index]
    if ordinal == 0 and isinstance(top, cst.SimpleStatementLine):
        return top
    found: list[cst.SimpleStatementLine] = []

    class _Nth(cst.CSTVisitor):
        def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> bool:
            found.append(node)
            return len(found) <= ordinal

        def on_visit(self, node: cst.CSTNode) -> bool:
            return len(found) <= ordinal and super().on_visit(node)

    top.visit(_Nth())
    return found[ordinal]


class _Strings(cst.CSTTransformer):
    """Rewrites label literals read as files: in ``file_attrs``, or in ``$(location ...)``."""

    def __init__(self, strings: Mapping[str, str]) -> None:
        self.strings = strings
        self.keywords: list[str | None] = []

    def visit_Arg(self, node: cst.Arg) -> None:
        self.keywords.append(node.keyword.value if node.keyword is not None else None)

    def leave_Arg(self, original_node: cst.Arg, updated_node: cst.Arg) -> cst.Arg:
        self.keywords.pop()
        return updated_node

    def _as_file(self) -> bool:
        keyword = next((k for k in reversed(self.keywords) if k is not None), None)
        return keyword in FILE_ATTRS

    def leave_SimpleString(self, original_node: cst.SimpleString,
                           updated_node: cst.SimpleString) -> cst.SimpleString:
        try:
            value = original_node.evaluated_value
        except Exception:  # noqa: BLE001 - odd literals stay as they are
            return updated_node
        new = _replace_in(value, self.strings, self._as_file()) if isinstance(value, str) else None
        if new is None:
            return updated_node
        quote = original_node.quote
        if quote in ('"', "'") and "\\" not in original_node.value and quote not in new:
            return updated_node.with_changes(value=f"{original_node.prefix}{quote}{new}{quote}")
        return updated_node.with_changes(value=string(new))


def _replace_in(value: str, strings: Mapping[str, str], as_file: bool) -> str | None:
    if value in strings:
        return strings[value] if as_file else None
    if "$(" not in value:
        return None
    new = value
    for old, replacement in strings.items():
        for form in ("$(location {})", "$(locations {})", "$(execpath {})", "$(execpaths {})",
                     "$(rootpath {})", "$(rootpaths {})", "$(rlocationpath {})"):
            new = new.replace(form.format(old), form.format(replacement))
    return new if new != value else None


def _replace_strings(new: cst.Module, parsed: Parsed, strings: Mapping[str, str]) -> cst.Module:
    """Replace label literals (and ``$(location)`` arguments) in the statements naming them."""
    codes = parsed.layout.codes
    body = list(new.body)
    keys = tuple(strings)
    for index, stmt in enumerate(body):
        if any(k in codes[index] for k in keys):
            body[index] = stmt.visit(_Strings(strings))
    return new.with_changes(body=body)


def _insert(body: list, original: cst.Module, inserts: Sequence[Insert],
            renamed: dict[int, cst.BaseStatement]) -> None:
    """Add statements before an original top-level statement, or at the end."""
    for insert in inserts:
        statements = list(cst.parse_module(insert.text).body)
        if not statements:
            continue
        if insert.blank:
            statements[0] = statements[0].with_changes(
                leading_lines=[cst.EmptyLine(), *statements[0].leading_lines])
        if insert.before is None:
            body.extend(statements)
            continue
        anchor = original.body[insert.before]
        anchor = renamed.get(id(anchor), anchor)
        position = next((i for i, stmt in enumerate(body) if stmt is anchor), len(body))
        body[position:position] = statements


class _Footer:
    """Comment lines of a deleted last statement, to keep in the module's footer."""

    def __init__(self, lines: list[cst.EmptyLine]) -> None:
        self.lines = lines


class _ReplaceCalls(cst.CSTTransformer):
    def __init__(self, replacements: dict[int, list[cst.BaseStatement]]) -> None:
        self.replacements = replacements

    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement]:
        new = self.replacements.get(id(original_node))
        if new is None:
            return updated_node
        return cst.FlattenSentinel(new)


def _statements_for(module: cst.Module, plans: Sequence[CallPlan]
                    ) -> list[list[cst.BaseStatement]]:
    """The replacement statements of several calls, from a single parse."""
    olds = [_old(module, plan) for plan in plans]
    parsed = list(cst.parse_module(
        "\n".join(_call_text(plan, old) for plan, old in zip(plans, olds))).body)
    out = []
    for plan, old in zip(plans, olds):
        body, parsed = parsed[: len(plan.calls)], parsed[len(plan.calls):]
        for i, new in enumerate(plan.calls):
            above = [cst.EmptyLine(comment=cst.Comment(c)) for c in new.above]
            # the old statement's comment lines go above the first new call; a blank
            # line (without the block's indentation) separates the new calls
            lead = list(old.leading_lines) if i == 0 and not plan.keep_original else [
                cst.EmptyLine(indent=False)]
            body[i] = body[i].with_changes(leading_lines=lead + above)
        if plan.keep_original:
            body.insert(0, old)
        out.append(body)
    return out


def _old(module: cst.Module, plan: CallPlan) -> cst.SimpleStatementLine:
    assert plan.call is not None
    return statement_of(module, plan.call.top_index, plan.call.ordinal)


def _call_text(plan: CallPlan, old: cst.SimpleStatementLine) -> str:
    after = old.trailing_whitespace.comment
    if plan.keep_original:
        after = None
    texts = []
    for i, new in enumerate(plan.calls):
        last = i == len(plan.calls) - 1
        texts.append(
            render_call(
                new,
                "",  # libcst indents every line of a statement with its block
                open_comment=plan.open_comment if i == 0 else None,
                closing=plan.closing if last else (),
                after=after.value if (last and after) else None,
            )
        )
    return "\n".join(texts)


class Text:
    """A top-level statement as text: new calls that need no syntax tree of their own
    (the whole file is parsed once more before it is written)."""

    def __init__(self, code: str) -> None:
        self.code = code


def _top_text(module: cst.Module, codes: Sequence[str], plan: CallPlan, top_index: int,
              node: cst.SimpleStatementLine) -> Text:
    """The text replacing a top-level call statement: its comment lines, the new calls."""
    old = module.body[top_index]
    assert isinstance(old, cst.SimpleStatementLine)
    after = None if plan.keep_original else old.trailing_whitespace.comment
    parts = []
    if plan.keep_original:
        parts.append(codes[top_index] if node is old else module.code_for_node(node))
    else:
        parts.extend(module.code_for_node(line) for line in node.leading_lines)
    for i, new in enumerate(plan.calls):
        last = i == len(plan.calls) - 1
        if i or plan.keep_original:
            parts.append("\n")
        parts.extend(f"{comment}\n" for comment in new.above)
        parts.append(render_call(
            new, "",
            open_comment=plan.open_comment if i == 0 else None,
            closing=plan.closing if last else (),
            after=after.value if (last and after) else None,
        ))
    return Text("".join(parts))


def render(module: cst.Module, plans: Sequence[CallPlan], loads: Sequence[LoadStmt],
           load_plan: LoadPlan, inserts: Sequence[Insert] = (),
           codes: Sequence[str] = ()) -> cst.Module:
    """Apply the load edits, then replace each planned call (visiting only its statement).

    With ``codes`` (each top-level statement's text), a top-level call statement is
    replaced by :class:`Text`, which only :func:`assemble` prints.
    """
    renamed: dict[int, cst.BaseStatement] = {}
    body: list = list(module.body)
    footer = list(module.footer)
    if load_plan:
        body = _edit_loads(module, loads, load_plan, renamed, codes)
        moved = [line for item in body if isinstance(item, _Footer) for line in item.lines]
        footer = moved + footer
        body = [item for item in body if not isinstance(item, _Footer)]
    _insert(body, module, inserts, renamed)
    groups: dict[int, list[CallPlan]] = {}
    for plan in plans:
        if plan.calls and plan.call is not None:
            groups.setdefault(plan.call.top_index, []).append(plan)

    def top_level(top_index: int, group: list[CallPlan]) -> bool:
        first = group[0]
        return (len(group) == 1 and first.call is not None and first.call.ordinal == 0
                and isinstance(module.body[top_index], cst.SimpleStatementLine))

    ordered = [p for top_index, group in groups.items()
               if not (codes and top_level(top_index, group)) for p in group]
    built = dict(zip(map(id, ordered), _statements_for(module, ordered))) if ordered else {}
    for top_index, group in groups.items():
        original = module.body[top_index]
        node = renamed.get(id(original), original)
        position = next(i for i, stmt in enumerate(body) if stmt is node)
        first = group[0]
        if codes and top_level(top_index, group):
            body[position] = _top_text(module, codes, first, top_index, node)
        elif top_level(top_index, group):
            new = list(built[id(first)])
            if not first.keep_original:
                own = len(first.calls[0].above)
                kept = list(new[0].leading_lines)[len(original.leading_lines):] if own else []
                new[0] = new[0].with_changes(leading_lines=[*node.leading_lines, *kept])
            else:
                new[0] = node
            body[position:position + 1] = new
        else:
            replacements = {id(_old(module, p)): built[id(p)] for p in group}
            body[position] = node.visit(_ReplaceCalls(replacements))
    return module.with_changes(body=body, footer=footer)


def _edit_loads(module: cst.Module, loads: Sequence[LoadStmt], plan: LoadPlan,
                renamed: dict[int, cst.BaseStatement], codes: Sequence[str] = ()) -> list:
    """The new top-level body; ``renamed`` maps id(original statement) -> its new node."""
    body: list[cst.BaseStatement | None] = list(module.body)
    by_index = {load.index: load for load in loads}
    removals: dict[int, set[str]] = {}
    for index, local in plan.remove:
        removals.setdefault(index, set()).add(local)
    additions: dict[str, list[tuple[str, str]]] = {}
    for label, local, remote in plan.add:
        additions.setdefault(label, []).append((local, remote))

    # extend an existing load of the same file (the first one)
    for load in loads:
        if load.label in additions and load.index not in removals:
            removals[load.index] = set()
    extended: set[str] = set()
    carried: list[tuple[int, list[cst.EmptyLine]]] = []  # lines above deleted loads
    for index in sorted(removals):
        load = by_index[index]
        symbols = [(loc, rem) for loc, rem in load.symbols if loc not in removals[index]]
        if load.label in additions and load.label not in extended:
            symbols.extend(additions[load.label])
            extended.add(load.label)
        old = body[index]
        assert isinstance(old, cst.SimpleStatementLine)
        bare = old.with_changes(leading_lines=())
        if codes:  # the statement's text without the lines above it
            code = "\n".join(codes[index].split("\n")[len(old.leading_lines):])
        else:
            code = module.code_for_node(bare)
        inner = comments_in(bare) if has_comment(code) else []
        leading = list(old.leading_lines) + [
            cst.EmptyLine(comment=cst.Comment(c)) for c in inner
        ]
        if not symbols:
            body[index] = None
            carried.append((index, leading))
            continue
        multiline = "\n" in code[:-1]
        new = _load_statement(load.label, symbols, multiline)
        body[index] = new.with_changes(leading_lines=leading)

    for index, leading in reversed(carried):
        _carry_leading(body, index, leading, renamed)
    new_loads = [(label, syms) for label, syms in additions.items() if label not in extended]
    for label, symbols in sorted(new_loads, key=lambda item: load_label_key(item[0])):
        _insert_load(body, _load_statement(label, symbols), label, renamed)
    return [stmt for stmt in body if stmt is not None]


def _replace(body: list, index: int, new: cst.BaseStatement,
             renamed: dict[int, cst.BaseStatement]) -> None:
    old = body[index]
    original = next((k for k, v in renamed.items() if v is old), id(old))
    renamed[original] = new
    body[index] = new


def assemble(original: cst.Module, codes: Sequence[str], new: cst.Module,
             with_changed: bool = False):
    """``new.code``, reusing the text of every statement that did not change.

    With ``with_changed``: (the text, the text of the statements not kept byte for byte).
    """
    known = {id(stmt): code for stmt, code in zip(original.body, codes)}
    parts = [new.code_for_node(line) for line in new.header]
    changed = []
    for stmt in new.body:
        code = stmt.code if isinstance(stmt, Text) else known.get(id(stmt))
        if code is None:
            code = new.code_for_node(stmt)
            changed.append(code)
        elif isinstance(stmt, Text):
            changed.append(code)
        parts.append(code)
    parts.extend(new.code_for_node(line) for line in new.footer)
    text = "".join(parts)
    return (text, "".join(changed)) if with_changed else text


def _load_statement(label: str, symbols: Sequence[tuple[str, str]],
                    multiline: bool = False) -> cst.SimpleStatementLine:
    """A load statement; the one-line form is built directly (no parse needed)."""
    if multiline:
        return cst.parse_statement(render_load(label, symbols, multiline))  # type: ignore[return-value]
    space = cst.SimpleWhitespace(" ")
    args = [cst.Arg(cst.SimpleString(string(label)))]
    for local, remote in _ordered_symbols(symbols):
        if local == remote:
            args.append(cst.Arg(cst.SimpleString(string(remote))))
        else:
            args.append(cst.Arg(cst.SimpleString(string(remote)), keyword=cst.Name(local),
                                equal=cst.AssignEqual(space, space)))
    args = [a.with_changes(comma=cst.Comma(whitespace_after=space)) for a in args[:-1]] + args[-1:]
    call = cst.Call(cst.Name("load"), args)
    return cst.SimpleStatementLine([cst.Expr(call)])


def _ordered_symbols(symbols: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    plain = sorted({(r, r) for local, r in symbols if local == r})
    aliased = sorted({(local, r) for local, r in symbols if local != r})
    return plain + aliased


def _carry_leading(body: list, index: int, leading: list[cst.EmptyLine],
                   renamed: dict[int, cst.BaseStatement]) -> None:
    """Keep the lines above a deleted statement (blank ones and comments) on the next one."""
    if not leading:
        return
    for j in range(index + 1, len(body)):
        nxt = body[j]
        if nxt is None or isinstance(nxt, _Footer):
            continue
        lines = list(nxt.leading_lines)
        if leading[-1].comment is None and lines and lines[0].comment is None:
            lines = lines[1:]  # one blank line is enough
        _replace(body, j, nxt.with_changes(leading_lines=[*leading, *lines]), renamed)
        return
    comments = [line for line in leading if line.comment is not None]
    if comments:
        body.append(_Footer(comments))


def _insert_load(body: list, new: cst.SimpleStatementLine, label: str,
                 renamed: dict[int, cst.BaseStatement]) -> cst.SimpleStatementLine:
    key = load_label_key(label)
    load_positions = [i for i, stmt in enumerate(body) if stmt is not None and is_load(stmt)]
    if load_positions:
        for i in load_positions:
            existing = _load_label(body[i])
            if existing is not None and load_label_key(existing) > key:
                # take the place (and the comments above) of the load it goes before
                old = body[i]
                _replace(body, i, old.with_changes(leading_lines=()), renamed)
                new = new.with_changes(leading_lines=old.leading_lines)
                body.insert(i, new)
                return new
        body.insert(load_positions[-1] + 1, new)
        return new
    position = 0
    live = [i for i, stmt in enumerate(body) if stmt is not None]
    if live and _is_docstring(body[live[0]]):
        position = live[0] + 1
        new = new.with_changes(leading_lines=[cst.EmptyLine()])
    nxt_index = next((i for i in live if i >= position and not isinstance(body[i], _Footer)),
                     None)
    if nxt_index is not None:
        nxt = body[nxt_index]
        lead = list(nxt.leading_lines)
        if position == 0:
            # comments right above the first statement stay with it, below the load
            new = new.with_changes(leading_lines=())
        if not lead or lead[0].comment is not None:
            lead.insert(0, cst.EmptyLine())
            _replace(body, nxt_index, nxt.with_changes(leading_lines=lead), renamed)
    body.insert(position, new)
    return new


def _load_label(stmt: cst.CSTNode) -> str | None:
    if not is_load(stmt):
        return None
    call = stmt.body[0].value  # type: ignore[attr-defined]
    first = call.args[0].value if call.args else None
    if isinstance(first, cst.SimpleString):
        value = first.evaluated_value
        return value if isinstance(value, str) else None
    return None


def _is_docstring(stmt: cst.CSTNode) -> bool:
    return (
        isinstance(stmt, cst.SimpleStatementLine)
        and len(stmt.body) == 1
        and isinstance(stmt.body[0], cst.Expr)
        and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )

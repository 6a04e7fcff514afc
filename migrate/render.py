"""Render stage: apply a plan to the libcst tree.

Untouched statements are the very nodes that were parsed, so they print back
byte for byte. Rewritten calls are printed by :mod:`migrate.fmt` (buildifier's
layout) and parsed back into nodes; comments found around the old call go with
the attribute they were attached to.
"""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst

from migrate.calls import LoadStmt, comments_in, is_load
from migrate.fmt import render_call, render_load, string
from migrate.labels import load_label_key
from migrate.loads import LoadPlan
from migrate.plan import CallPlan


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


def call_statements(plan: CallPlan) -> list[cst.BaseStatement]:
    """The statements that replace one planned call."""
    return _statements_for([plan])[0]


def _statements_for(plans: Sequence[CallPlan]) -> list[list[cst.BaseStatement]]:
    """The replacement statements of several calls, from a single parse."""
    parsed = list(cst.parse_module("\n".join(_call_text(plan) for plan in plans)).body)
    out = []
    for plan in plans:
        assert plan.call is not None and plan.call.statement is not None
        body, parsed = parsed[: len(plan.calls)], parsed[len(plan.calls):]
        for i, new in enumerate(plan.calls):
            above = [cst.EmptyLine(comment=cst.Comment(c)) for c in new.above]
            # the old statement's comment lines go above the first new call; a blank
            # line (without the block's indentation) separates the new calls
            lead = list(plan.call.statement.leading_lines) if i == 0 else [
                cst.EmptyLine(indent=False)]
            body[i] = body[i].with_changes(leading_lines=lead + above)
        out.append(body)
    return out


def _call_text(plan: CallPlan) -> str:
    call = plan.call
    assert call is not None and call.statement is not None
    after = call.statement.trailing_whitespace.comment
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


def render(module: cst.Module, plans: Sequence[CallPlan], loads: Sequence[LoadStmt],
           load_plan: LoadPlan) -> cst.Module:
    """Apply the load edits, then replace each planned call (visiting only its statement)."""
    renamed: dict[int, cst.BaseStatement] = {}
    body: list = list(module.body)
    footer = list(module.footer)
    if load_plan:
        body = _edit_loads(module, loads, load_plan, renamed)
        moved = [line for item in body if isinstance(item, _Footer) for line in item.lines]
        footer = moved + footer
        body = [item for item in body if not isinstance(item, _Footer)]
    groups: dict[int, list[CallPlan]] = {}
    for plan in plans:
        if plan.calls and plan.call is not None and plan.call.statement is not None:
            groups.setdefault(plan.call.top_index, []).append(plan)
    ordered = [p for group in groups.values() for p in group]
    built = dict(zip(map(id, ordered), _statements_for(ordered))) if ordered else {}
    for top_index, group in groups.items():
        original = module.body[top_index]
        node = renamed.get(id(original), original)
        position = next(i for i, stmt in enumerate(body) if stmt is node)
        if len(group) == 1 and group[0].call is not None and group[0].call.statement is original:
            new = list(built[id(group[0])])
            own = len(group[0].calls[0].above)
            kept = list(new[0].leading_lines)[len(original.leading_lines):] if own else []
            new[0] = new[0].with_changes(leading_lines=[*node.leading_lines, *kept])
            body[position:position + 1] = new
        else:
            replacements = {id(p.call.statement): built[id(p)] for p in group if p.call}
            body[position] = node.visit(_ReplaceCalls(replacements))
    return module.with_changes(body=body, footer=footer)


def _edit_loads(module: cst.Module, loads: Sequence[LoadStmt], plan: LoadPlan,
                renamed: dict[int, cst.BaseStatement]) -> list:
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
        inner = comments_in(bare) if "#" in module.code_for_node(bare) else []
        leading = list(old.leading_lines) + [
            cst.EmptyLine(comment=cst.Comment(c)) for c in inner
        ]
        if not symbols:
            body[index] = None
            carried.append((index, leading))
            continue
        multiline = "\n" in module.code_for_node(old.with_changes(leading_lines=()))[:-1]
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


def assemble(original: cst.Module, codes: Sequence[str], new: cst.Module) -> str:
    """``new.code``, reusing the text of every statement that did not change."""
    known = {id(stmt): code for stmt, code in zip(original.body, codes)}
    parts = [new.code_for_node(line) for line in new.header]
    for stmt in new.body:
        code = known.get(id(stmt))
        parts.append(code if code is not None else new.code_for_node(stmt))
    parts.extend(new.code_for_node(line) for line in new.footer)
    return "".join(parts)


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

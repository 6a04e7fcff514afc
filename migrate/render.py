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
from migrate.fmt import render_call, render_load
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
    call = plan.call
    assert call is not None and call.statement is not None
    statement = call.statement
    after = statement.trailing_whitespace.comment
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
    body = list(cst.parse_module("\n".join(texts)).body)
    body[0] = body[0].with_changes(leading_lines=statement.leading_lines)
    for i in range(1, len(body)):
        # a blank line between the new calls, without the block's indentation
        body[i] = body[i].with_changes(leading_lines=[cst.EmptyLine(indent=False)])
    return body


def render(module: cst.Module, plans: Sequence[CallPlan], loads: Sequence[LoadStmt],
           load_plan: LoadPlan) -> cst.Module:
    replacements = {id(p.call.statement): call_statements(p) for p in plans
                    if p.calls and p.call is not None and p.call.statement is not None}
    if load_plan:
        renamed: dict[int, cst.BaseStatement] = {}
        body = _edit_loads(module, loads, load_plan, renamed)
        footer = [line for item in body if isinstance(item, _Footer) for line in item.lines]
        body = [item for item in body if not isinstance(item, _Footer)]
        module = module.with_changes(body=body, footer=[*footer, *module.footer])
        for old_id, new in renamed.items():
            if old_id in replacements:
                # the statement got new leading lines: keep them on the first replacement
                first, *rest = replacements.pop(old_id)
                first = first.with_changes(leading_lines=new.leading_lines)
                replacements[id(new)] = [first, *rest]
    if replacements:
        module = module.visit(_ReplaceCalls(replacements))
    return module


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
    orphans: list[cst.EmptyLine] = []  # comments of deleted loads
    for index in sorted(removals):
        load = by_index[index]
        symbols = [(loc, rem) for loc, rem in load.symbols if loc not in removals[index]]
        if load.label in additions and load.label not in extended:
            symbols.extend(additions[load.label])
            extended.add(load.label)
        old = body[index]
        assert isinstance(old, cst.SimpleStatementLine)
        inner = comments_in(old.with_changes(leading_lines=()))
        leading = list(old.leading_lines) + [
            cst.EmptyLine(comment=cst.Comment(c)) for c in inner
        ]
        if not symbols:
            body[index] = None
            orphans.extend(line for line in leading if line.comment is not None)
            continue
        multiline = "\n" in module.code_for_node(old.with_changes(leading_lines=()))[:-1]
        new = cst.parse_statement(render_load(load.label, symbols, multiline))
        body[index] = new.with_changes(leading_lines=leading)

    new_loads = [(label, syms) for label, syms in additions.items() if label not in extended]
    for label, symbols in sorted(new_loads, key=lambda item: load_label_key(item[0])):
        new = cst.parse_statement(render_load(label, symbols))
        new = _insert_load(body, new, label, renamed)
        if orphans:
            # the comments of a deleted load go with the load that replaces it
            position = next(i for i, stmt in enumerate(body) if stmt is new)
            body[position] = new.with_changes(leading_lines=[*new.leading_lines, *orphans])
            orphans = []
    if orphans:
        _carry_leading(body, len(body) - 1, orphans, renamed)
    return [stmt for stmt in body if stmt is not None]


def _replace(body: list, index: int, new: cst.BaseStatement,
             renamed: dict[int, cst.BaseStatement]) -> None:
    old = body[index]
    original = next((k for k, v in renamed.items() if v is old), id(old))
    renamed[original] = new
    body[index] = new


def _carry_leading(body: list, index: int, comments: list[cst.EmptyLine],
                   renamed: dict[int, cst.BaseStatement]) -> None:
    """Keep the comments of deleted loads above the first statement after the loads."""
    for j in range(len(body)):
        nxt = body[j]
        if nxt is not None and not isinstance(nxt, _Footer) and not is_load(nxt):
            _replace(body, j, nxt.with_changes(leading_lines=[*comments, *nxt.leading_lines]),
                     renamed)
            return
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

"""Statements: assignment, unpacking, ``del``, ``if``, ``for``/``while`` and comprehensions.

:meth:`StatementsMixin.exec_stmt` dispatches on the node type through :data:`STATEMENTS`.
"""

from __future__ import annotations

import ast
import sys

from .errors import Break, Continue, fail, limit, refuse
from .values import ITEM, Opaque, base_type, int_bytes, tname


class StatementsMixin:
    """Statement execution of the evaluator."""

    # ----------------------------------------------------------------- running
    def run(self, tree):
        self.last_value = None
        for stmt in tree.body:
            self.exec_stmt(stmt)
        return self.last_value

    def exec_block(self, body):
        for stmt in body:
            self.exec_stmt(stmt)

    def exec_stmt(self, node):
        """Run one statement; simple statements set ``last_value`` (what evaluate returns)."""
        self.line = node.lineno
        self.budget.tick()
        handler = STATEMENTS.get(type(node))
        if handler is None:  # pragma: no cover - the static check refuses everything else
            refuse(f"the statement {type(node).__name__} is not allowed", type(node).__name__)
        handler(self, node)

    def exec_expr(self, node):
        self.last_value = None
        self.last_value = self.eval(node.value)

    def exec_assign(self, node):
        value = self.eval(node.value)
        self.last_value = None
        for target in node.targets:
            self.assign(target, value)
        self.last_value = value

    def exec_aug_assign(self, node):
        self.last_value = None
        self.last_value = self.aug_assign(node)

    def exec_ann_assign(self, node):
        self.last_value = None
        if node.value is not None:  # the annotation is never evaluated
            value = self.eval(node.value)
            self.assign(node.target, value)
            self.last_value = value

    def exec_if(self, node):
        self.exec_block(node.body if self.truth(self.eval(node.test)) else node.orelse)

    def exec_pass(self, node):
        self.last_value = None

    def exec_break(self, node):
        self.last_value = None
        raise Break()

    def exec_continue(self, node):
        self.last_value = None
        raise Continue()

    def exec_delete(self, node):
        self.last_value = None
        for target in node.targets:
            self.delete(target)

    def exec_for(self, node):
        iterable = self.eval(node.iter)
        items = self.iter_of(iterable, "a for loop")
        for item in items:
            self.budget.iterate()
            self.assign(node.target, item)
            if self.loop_body(node):
                return
        self.exec_block(node.orelse)

    def exec_while(self, node):
        while True:
            self.line = node.lineno
            if not self.truth(self.eval(node.test)):
                break
            self.budget.iterate()
            if self.loop_body(node):
                return
        self.exec_block(node.orelse)

    def loop_body(self, node):
        """One pass through a loop's body; True when it ran ``break`` (the loop ends without
        its ``else``)."""
        try:
            self.exec_block(node.body)
        except Break:
            return True
        except Continue:
            pass
        return False

    def truth(self, value):
        if type(value) is Opaque:
            refuse("an opaque value (an object returned by a tool) has no truth value",
                   "truth test")
        return bool(value)

    # ------------------------------------------------------------- assignment
    def check_target_name(self, name):
        if name in self.tools:
            refuse(f"'{name}' is a tool; it cannot be assigned, deleted or used as a loop "
                   "variable", f"name '{name}'")
        if name in self.builtins:
            refuse(f"'{name}' is a builtin; it cannot be assigned, deleted or used as a loop "
                   "variable", f"name '{name}'")

    def assign(self, target, value):
        t = type(target)
        if t is ast.Name:
            self.check_target_name(target.id)
            old = self.state.get(target.id)
            self.state[target.id] = value
            if old is not None and sys.getrefcount(old) <= 2:  # our local + the call's argument
                self.budget.refund(old)  # the old value is freed now: give its size back
            del old
        elif t in (ast.Tuple, ast.List):
            self.unpack(target.elts, value)
        elif t is ast.Subscript:
            container = self.eval(target.value)
            key = self.eval(target.slice)
            self.set_item(container, key, value)
        elif t is ast.Starred:  # pragma: no cover - handled in unpack
            refuse("a starred assignment target must be inside a tuple or list", "*target")
        else:
            refuse(f"assigning to {t.__name__} is not allowed", t.__name__)

    def unpack(self, targets, value):
        if type(value) not in (list, tuple, str, bytes, range, dict) and \
                base_type(value) is not str:
            fail(f"cannot unpack {tname(value)}", "unpacking")
        n = len(value)
        self.budget.check_container_len(n, "unpacking")
        items = list(value)
        starred = [i for i, e in enumerate(targets) if type(e) is ast.Starred]
        if len(starred) > 1:
            refuse("only one starred target is allowed", "*target")
        if not starred:
            if len(items) != len(targets):
                fail(f"cannot unpack {len(items)} values into {len(targets)} targets",
                     "unpacking")
            for e, v in zip(targets, items):
                self.assign(e, v)
            return
        s = starred[0]
        after = len(targets) - s - 1
        if len(items) < len(targets) - 1:
            fail(f"not enough values to unpack (expected at least {len(targets) - 1}, got "
                 f"{len(items)})", "unpacking")
        for e, v in zip(targets[:s], items[:s]):
            self.assign(e, v)
        self.assign(targets[s].value, items[s:len(items) - after])
        for e, v in zip(targets[s + 1:], items[len(items) - after:]):
            self.assign(e, v)

    def set_item(self, container, key, value):
        t = type(container)
        if t is list:
            if type(key) is slice:
                refuse("slice assignment is not allowed; build a new list instead",
                       "slice assignment")
            if type(key) not in (int, bool):
                fail(f"list indices must be integers, not {tname(key)}", "subscript")
            container[key] = value
        elif t is dict:
            self.budget.guard_hash(key)
            if key not in container:
                self.budget.check_len(len(container) + 1, "a dict")
                self.budget.charge(ITEM + int_bytes(key), "a dict")
            container[key] = value
        else:
            fail(f"{tname(container)} does not support item assignment", "subscript")

    def delete(self, target):
        t = type(target)
        if t is ast.Name:
            self.check_target_name(target.id)
            if target.id not in self.state:
                fail(f"name '{target.id}' is not defined", f"name '{target.id}'")
            del self.state[target.id]
        elif t is ast.Subscript:
            container = self.eval(target.value)
            key = self.eval(target.slice)
            if type(container) is list:
                if type(key) not in (int, bool, slice):
                    fail("list indices must be integers or slices", "del")
                del container[key]
            elif type(container) is dict:
                self.budget.guard_hash(key)
                del container[key]
            else:
                fail(f"cannot delete items of {tname(container)}", "del")
        else:
            refuse(f"deleting {t.__name__} is not allowed", "del")

    def aug_assign(self, node):
        target = node.target
        if type(target) is ast.Name:
            self.check_target_name(target.id)
            current = self.load_name(target.id)
            value = self.binop(node.op, current, self.eval(node.value), inplace=True)
            self.state[target.id] = value
            if value is not current and sys.getrefcount(current) <= 2:  # local + argument
                self.budget.refund(current)
            del current
            return value
        if type(target) is ast.Subscript:
            container = self.eval(target.value)
            key = self.eval(target.slice)
            current = self.get_item(container, key)
            value = self.binop(node.op, current, self.eval(node.value), inplace=True)
            self.set_item(container, key, value)
            return value
        refuse("augmented assignment only works on names and subscripts", "augmented assignment")

    def comprehension(self, generators, emit, out):
        # comprehension variables are local: save and restore the names they bind
        bound = set()
        for g in generators:
            for n in ast.walk(g.target):
                if type(n) is ast.Name:
                    self.check_target_name(n.id)
                    bound.add(n.id)
        saved = {name: self.state[name] for name in bound if name in self.state}
        try:
            self._comp(generators, 0, emit, out)
        finally:
            for name in bound:
                self.state.pop(name, None)
            self.state.update(saved)

    def _comp(self, generators, i, emit, out):
        g = generators[i]
        for item in self.iter_of(self.eval(g.iter), "a comprehension"):
            self.budget.iterate()
            self.assign(g.target, item)
            if all(self.truth(self.eval(c)) for c in g.ifs):
                if i + 1 == len(generators):
                    emit()
                    if len(out) > self.limits.max_container_len:
                        limit("a comprehension built more than "
                              f"{self.limits.max_container_len} items", "comprehension")
                    self.budget.charge(ITEM + (int_bytes(out[-1]) if type(out) is list else 0),
                                       "a comprehension")
                else:
                    self._comp(generators, i + 1, emit, out)


# statement node type -> handler (every statement the allowlist admits)
STATEMENTS = {
    ast.Expr: StatementsMixin.exec_expr, ast.Assign: StatementsMixin.exec_assign,
    ast.AugAssign: StatementsMixin.exec_aug_assign, ast.AnnAssign: StatementsMixin.exec_ann_assign,
    ast.If: StatementsMixin.exec_if, ast.For: StatementsMixin.exec_for,
    ast.While: StatementsMixin.exec_while, ast.Pass: StatementsMixin.exec_pass,
    ast.Break: StatementsMixin.exec_break, ast.Continue: StatementsMixin.exec_continue,
    ast.Delete: StatementsMixin.exec_delete,
}

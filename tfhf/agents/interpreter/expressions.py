"""Expressions: one method per node type, dispatched through :data:`EXPRESSIONS`.

Operators, comparisons and subscripts live in :mod:`.operators`, calls in :mod:`.calls`.
"""

from __future__ import annotations

import ast

from .errors import Refusal, fail, limit, refuse
from .values import ITEM, ITERABLE_TYPES, base_type, int_bytes, tname


class ExpressionsMixin:
    """Expression evaluation of the evaluator."""

    def eval(self, node):
        self.budget.tick()
        handler = EXPRESSIONS.get(type(node))
        if handler is None:
            refuse(f"the construct {type(node).__name__} is not allowed", type(node).__name__)
        return handler(self, node)

    def eval_constant(self, node):
        v = node.value
        if type(v) in (str, bytes):
            self.budget.charge(len(v), "a constant")
        return v

    def eval_name(self, node):
        return self.load_name(node.id)

    def eval_binop(self, node):
        return self.binop(node.op, self.eval(node.left), self.eval(node.right))

    def eval_unaryop(self, node):
        return self.unaryop(node.op, self.eval(node.operand))

    def eval_boolop(self, node):
        want = type(node.op) is ast.Or  # `and` stops at the first false value, `or` at a true one
        value = not want
        for v in node.values:
            value = self.eval(v)
            if self.truth(value) is want:
                return value
        return value

    def eval_subscript(self, node):
        return self.get_item(self.eval(node.value), self.eval(node.slice))

    def eval_slice(self, node):
        parts = []
        for p in (node.lower, node.upper, node.step):
            v = None if p is None else self.eval(p)
            if v is not None and type(v) not in (int, bool):
                fail(f"slice indices must be integers or None, not {tname(v)}", "slice")
            parts.append(v)
        return slice(*parts)

    def eval_ifexp(self, node):
        return self.eval(node.body) if self.truth(self.eval(node.test)) else \
            self.eval(node.orelse)

    def eval_sequence(self, node):
        items = []
        for e in node.elts:
            if type(e) is ast.Starred:
                v = self.eval(e.value)
                seq = self.iter_of(v, "a * unpacking")
                self.budget.check_container_len(len(items) + len(seq), "a list")
                items.extend(seq)
            else:
                items.append(self.eval(e))
        self.budget.check_container_len(len(items), "a list")
        return items if type(node) is ast.List else tuple(items)

    def eval_dict(self, node):
        out = {}
        for k, v in zip(node.keys, node.values):
            if k is None:
                other = self.eval(v)
                if type(other) is not dict:
                    fail(f"** in a dict display needs a dict, not {tname(other)}", "**")
                self.budget.check_container_len(len(out) + len(other), "a dict")
                out.update(other)
                continue
            key = self.eval(k)
            value = self.eval(v)
            self.budget.guard_hash(key)
            out[key] = value
        self.budget.check_container_len(len(out), "a dict")
        return out

    def eval_joined_str(self, node):
        parts = []
        total = 0
        for v in node.values:
            piece = self.eval(v) if type(v) is ast.FormattedValue else v.value
            if type(v) is ast.Constant and type(piece) is not str:  # pragma: no cover
                refuse("bad f-string", "f-string")
            total += len(piece)
            self.budget.check_str_len(total, "an f-string")
            parts.append(piece)
        return "".join(parts)

    def eval_formatted_value(self, node):
        value = self.eval(node.value)
        if node.conversion != -1:
            value = self.to_str(value, chr(node.conversion))
        spec = "" if node.format_spec is None else self.eval(node.format_spec)
        return self.format_value(value, spec)

    def eval_list_comp(self, node):  # generator expressions too: they run eagerly into a list
        out = []
        self.comprehension(node.generators, lambda: out.append(self.eval(node.elt)), out)
        return self.budget.held(out, ITEM * len(out))

    def eval_dict_comp(self, node):
        out = {}

        def put():
            key = self.eval(node.key)
            value = self.eval(node.value)
            self.budget.guard_hash(key)
            out[key] = value

        self.comprehension(node.generators, put, out)
        return self.budget.held(out, ITEM * len(out))

    def eval_attribute(self, node):  # only reachable as a call's func; the static check ensures it
        refuse(f"attribute '.{node.attr}' is not allowed", f"attribute '.{node.attr}'")

    def eval_starred(self, node):
        refuse("`*` unpacking is not allowed here", "*unpacking")

    def eval_call(self, node):
        return self.call(node)

    def eval_compare(self, node):
        return self.compare(node)

    def load_name(self, name):
        if name in self.state:
            return self.state[name]
        if name in self.tools:
            refuse(f"the tool '{name}' can only be called (e.g. `{name}(...)`), not used as a "
                   "value", f"tool '{name}'")
        if name in self.builtins:
            refuse(f"the builtin '{name}' can only be called, not used as a value",
                   f"builtin '{name}'")
        raise Refusal(f"name '{name}' is not defined", f"name '{name}'", "unknown_name")

    def iter_of(self, value, what):
        """The items of an iterable plain value, as a list (length checked first)."""
        t = base_type(value)
        if t not in ITERABLE_TYPES:
            fail(f"{what} needs a str, list, tuple, dict or range, not {tname(value)}", what)
        if t is range:
            try:
                n = len(value)
            except OverflowError:
                limit(f"{what}: the range is too long", what)
            if n > self.limits.max_iterations:
                limit(f"{what}: the range has {n} items, more than the "
                      f"{self.limits.max_iterations} loop iterations allowed", what)
            return value
        if t in (list, dict):
            return value  # live, like Python (mutation during iteration is bounded)
        if t in (str, bytes) and len(value) > self.limits.max_iterations:
            limit(f"{what}: iterating over a text of {len(value)} characters exceeds the "
                  f"{self.limits.max_iterations} loop iterations allowed", what)
        return value

    def sized_list(self, value, what):
        """``list(value)`` for a plain iterable, refusing before it gets too long."""
        t = base_type(value)
        if t not in ITERABLE_TYPES:
            fail(f"{what} needs a str, list, tuple, dict or range, not {tname(value)}", what)
        try:
            n = len(value)
        except OverflowError:
            limit(f"{what}: the range is too long", what)
        self.budget.check_container_len(n, what)
        self.budget.work(n, what)
        units = ITEM * n
        if t is range and n:  # every item is a new int: big ones hold their digits
            big = int_bytes(max(abs(value[0]), abs(value[-1])))
            self.budget.charge(n * big, what)
            units += n * big
        return self.budget.held(list(value), units)


# expression node type -> handler (every expression the allowlist admits)
EXPRESSIONS = {
    ast.Constant: ExpressionsMixin.eval_constant, ast.Name: ExpressionsMixin.eval_name,
    ast.BinOp: ExpressionsMixin.eval_binop, ast.UnaryOp: ExpressionsMixin.eval_unaryop,
    ast.BoolOp: ExpressionsMixin.eval_boolop, ast.Compare: ExpressionsMixin.eval_compare,
    ast.Call: ExpressionsMixin.eval_call, ast.Subscript: ExpressionsMixin.eval_subscript,
    ast.Slice: ExpressionsMixin.eval_slice, ast.IfExp: ExpressionsMixin.eval_ifexp,
    ast.List: ExpressionsMixin.eval_sequence, ast.Tuple: ExpressionsMixin.eval_sequence,
    ast.Dict: ExpressionsMixin.eval_dict, ast.JoinedStr: ExpressionsMixin.eval_joined_str,
    ast.FormattedValue: ExpressionsMixin.eval_formatted_value,
    ast.ListComp: ExpressionsMixin.eval_list_comp,
    ast.GeneratorExp: ExpressionsMixin.eval_list_comp,
    ast.DictComp: ExpressionsMixin.eval_dict_comp, ast.Attribute: ExpressionsMixin.eval_attribute,
    ast.Starred: ExpressionsMixin.eval_starred,
}

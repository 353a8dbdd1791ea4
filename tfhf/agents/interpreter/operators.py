"""Operators, comparisons and subscripts, each size-checked before Python computes it."""

from __future__ import annotations

import ast
import operator

from .allowlist import OP_SYMBOL
from .errors import Refusal, fail, limit, refuse
from .values import (CHARS_PER_STEP, COPY_CHARS_PER_STEP, ITEM, ITERABLE_TYPES, agent_type_class,
                     base_type, is_number, plain_str, tname)


class OperatorsMixin:
    """Binary/unary operators, comparisons and item access of the evaluator."""

    # ------------------------------------------------------------- operators
    def binop(self, op, a, b, inplace=False):
        t = type(op)
        sym = OP_SYMBOL.get(t, t.__name__)
        ta, tb = base_type(a), base_type(b)
        if ta is None or tb is None or ta in (range, set, frozenset) or \
                tb in (range, set, frozenset):
            fail(f"unsupported operand types for {sym}: {tname(a)} and {tname(b)}", sym)
        handler = BINARY_OPERATORS.get(t)
        if handler is None:
            refuse(f"the operator {sym} is not allowed", sym)
        if t not in (ast.Add, ast.Mult) and not (is_number(a) and is_number(b)):
            if t is ast.Mod and ta in (str, bytes):
                refuse("%-formatting of strings is not allowed; use an f-string", "% formatting")
            fail(f"unsupported operand types for {sym}: {tname(a)} and {tname(b)}", sym)
        try:
            return handler(self, a, b, inplace)
        except Refusal:
            raise
        except (ArithmeticError, ValueError, TypeError) as e:
            fail(f"{type(e).__name__} in {sym}: {e}", sym)

    def op_add(self, a, b, inplace):
        ta, tb = base_type(a), base_type(b)
        if is_number(a) and is_number(b):
            if type(a) is int and type(b) is int:
                self.budget.check_int_bits(max(a.bit_length(), b.bit_length()) + 1)
            return a + b
        if ta is tb and ta in (str, bytes):
            self.budget.check_str_len(len(a) + len(b))
            self.budget.work((len(a) + len(b)) // COPY_CHARS_PER_STEP, "+")
            return self.budget.held(plain_str(a) + plain_str(b) if ta is str else a + b,
                                    len(a) + len(b))
        if ta is tb and ta in (list, tuple):
            if inplace and ta is list:  # the list grows: charge only the new items
                self.budget.work(len(b) // 8, "+")
                self.budget.check_len(len(a) + len(b))
                self.budget.charge(ITEM * len(b), "a list")
                a.extend(b)
                return a
            self.budget.work((len(a) + len(b)) // 8, "+")
            self.budget.check_container_len(len(a) + len(b))
            return self.budget.held(a + b, ITEM * (len(a) + len(b)))
        fail(f"unsupported operand types for +: {tname(a)} and {tname(b)}", "+")

    def op_mult(self, a, b, inplace):
        if is_number(a) and is_number(b):
            if type(a) in (int, bool) and type(b) in (int, bool):
                self.budget.check_int_bits(int(a).bit_length() + int(b).bit_length())
            return a * b
        seq, n = (a, b) if type(b) in (int, bool) else (b, a)
        if type(n) in (int, bool) and base_type(seq) in (str, bytes, list, tuple):
            size = len(seq) * max(int(n), 0)
            if base_type(seq) in (str, bytes):
                self.budget.check_str_len(size, "a repeated text")
                self.budget.work(size // COPY_CHARS_PER_STEP, "*")
                return self.budget.held((plain_str(seq) if base_type(seq) is str else seq) * n,
                                        size)
            self.budget.check_container_len(size, "a repeated list")
            self.budget.work(size // 8, "*")
            return self.budget.held(seq * n, ITEM * size)
        fail(f"unsupported operand types for *: {tname(a)} and {tname(b)}", "*")

    def op_sub(self, a, b, inplace):
        if type(a) is int and type(b) is int:
            self.budget.check_int_bits(max(a.bit_length(), b.bit_length()) + 1)
        return a - b

    def op_div(self, a, b, inplace):
        return a / b

    def op_floordiv(self, a, b, inplace):
        return a // b

    def op_mod(self, a, b, inplace):
        return a % b

    def op_pow(self, a, b, inplace):
        if type(a) in (int, bool) and type(b) in (int, bool):
            base, exp = int(a), int(b)
            if exp >= 0 and abs(base) > 1:
                self.budget.check_int_bits(exp * base.bit_length(), "the result of **")
            return base ** exp
        if type(a) is int:
            self.budget.check_int_bits(a.bit_length())
        result = a ** b
        if type(result) is complex:
            fail("the result of ** is a complex number (negative base, fractional exponent)",
                 "**")
        return result

    def op_bits(self, a, b, inplace, op):
        sym = OP_SYMBOL[op]
        if type(a) not in (int, bool) or type(b) not in (int, bool):
            fail(f"unsupported operand types for {sym}: {tname(a)} and {tname(b)}", sym)
        if op is ast.LShift:
            if b > self.limits.max_int_bits:
                limit("the result of << is too large", "<<")
            self.budget.check_int_bits(int(a).bit_length() + max(int(b), 0), "the result of <<")
            return a << b
        if op is ast.RShift:
            return a >> b
        if op is ast.BitAnd:
            return a & b
        if op is ast.BitOr:
            return a | b
        return a ^ b

    def unaryop(self, op, v):
        t = type(op)
        if t is ast.Not:
            return not self.truth(v)
        if not is_number(v):
            fail(f"bad operand type for unary operator: {tname(v)}", "unary operator")
        if t is ast.USub:
            return -v
        if t is ast.UAdd:
            return +v
        if type(v) not in (int, bool):
            fail(f"bad operand type for ~: {tname(v)}", "~")
        return ~v

    def compare(self, node):
        left = self.eval(node.left)
        for op, right_node in zip(node.ops, node.comparators):
            right = self.eval(right_node)
            t = type(op)
            if t in (ast.Is, ast.IsNot):
                ok = (left is right) if t is ast.Is else (left is not right)
            else:
                ok = self.compare_values(t, left, right)
            if not ok:
                return False
            left = right
        return True

    def compare_values(self, t, left, right):
        """``left <op> right`` for one comparison, its C-level work charged first."""
        for v in (left, right):
            if base_type(v) is None and not isinstance(v, agent_type_class()):
                fail(f"cannot compare {tname(v)} values", "comparison")
        if t in (ast.In, ast.NotIn):
            found = self.contains(right, left)
            return found if t is ast.In else not found
        self.budget.guard_compare(left, right)
        try:
            ok = COMPARISONS[t](left, right)
        except (TypeError, ValueError, RecursionError) as e:
            fail(f"{type(e).__name__} in comparison: {e}", "comparison")
        if type(ok) is not bool:  # pragma: no cover - plain values compare to bools
            fail("a comparison returned a non-bool", "comparison")
        return ok

    def contains(self, container, item):
        """``item in container``, bounded: ranges answer without scanning, texts charge the
        search, dicts the hash, lists and tuples every comparison."""
        what = "an 'in' test"
        ct = base_type(container)
        if ct not in ITERABLE_TYPES:
            fail(f"'in' needs a str, list, tuple, dict or range on the right, not "
                 f"{tname(container)}", "in")
        if ct is range:
            if type(item) in (int, bool):
                return item in container
            if type(item) is float:  # equal to an int of the range, or to nothing
                return item.is_integer() and int(item) in container
            return False  # other values never equal an int (C code would scan the range)
        if ct in (dict, set, frozenset):
            self.budget.guard_hash(item, what)
        elif ct in (str, bytes):
            if base_type(item) is not ct:
                fail(f"'in <{ct.__name__}>' needs a {ct.__name__} on the left, not "
                     f"{tname(item)}", "in")
            self.budget.work(search_work(len(container), len(item)), what)
        else:
            # each comparison costs at most the smaller value: the walks bound the sum
            self.budget.guard_compare(item, container, what=what)
        try:
            return item in (plain_str(container) if ct is str else container)
        except (TypeError, ValueError, RecursionError) as e:
            fail(f"{type(e).__name__} in comparison: {e}", "comparison")

    def get_item(self, container, key):
        t = base_type(container)
        if t is None or t in (set, frozenset):
            fail(f"{tname(container)} is not subscriptable", "subscript")
        try:
            if t is dict:
                self.budget.guard_hash(key)
                if key not in container:
                    fail(f"KeyError: {self.to_str(key, 'r')[:200]}", "subscript")
                return container[key]
            if type(key) is slice:
                result = (plain_str(container) if t is str else container)[key]
                units = len(result) if type(result) in (str, bytes) else ITEM * len(result)
                self.budget.work(units // COPY_CHARS_PER_STEP, "a slice")
                self.budget.charge(units, "a slice")
                self.budget.hold(result, units)
                return result
            if type(key) not in (int, bool):
                fail(f"indices must be integers or slices, not {tname(key)}", "subscript")
            value = container[key]
            return value
        except Refusal:
            raise
        except (IndexError, KeyError, TypeError, ValueError, OverflowError) as e:
            fail(f"{type(e).__name__}: {e}", "subscript")


def _bits(op):
    return lambda self, a, b, inplace: OperatorsMixin.op_bits(self, a, b, inplace, op)


# binary operator node type -> handler(self, a, b, inplace); sizes are checked inside
BINARY_OPERATORS = {
    ast.Add: OperatorsMixin.op_add, ast.Mult: OperatorsMixin.op_mult,
    ast.Sub: OperatorsMixin.op_sub, ast.Div: OperatorsMixin.op_div,
    ast.FloorDiv: OperatorsMixin.op_floordiv, ast.Mod: OperatorsMixin.op_mod,
    ast.Pow: OperatorsMixin.op_pow,
    **{op: _bits(op) for op in (ast.LShift, ast.RShift, ast.BitAnd, ast.BitOr, ast.BitXor)},
}


COMPARISONS = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt,
               ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge}


def search_work(n, m):
    """Work units of searching a text of ``n`` characters for one of ``m`` (CPython's search
    is linear for long needles and at worst ``n * m`` for short ones)."""
    return 1 + (n * min(m, 64) + m) // CHARS_PER_STEP

"""The builtins a program may call (:data:`SAFE_BUILTINS`), reimplemented with size checks.

Each ``_b_<name>`` method of :class:`BuiltinsMixin` is the builtin ``<name>``.
"""

from __future__ import annotations

import ast
import math

from .allowlist import PRINT_OUTPUTS
from .errors import fail, limit
from .values import (ITEM, NO_DEFAULT, SIZED_TYPES, base_type, int_bytes, is_number, plain_str,
                     tname)


class BuiltinsMixin:
    """The builtins of the evaluator."""

    # --------------------------------------------------------------- builtins
    def _b_print(self, *args, sep=" ", end="\n"):
        for x, what in ((sep, "sep"), (end, "end")):
            if x is not None and base_type(x) is not str:
                fail(f"print()'s {what} must be a str", "print()")
        sep = " " if sep is None else plain_str(sep)
        end = "\n" if end is None else plain_str(end)
        parts = []
        total = len(self.printed)
        for a in args:
            s = self.to_str(a)
            total += len(s) + len(sep)
            if total > self.limits.max_print_chars:
                limit(f"the program printed more than {self.limits.max_print_chars} "
                      "characters", "print()")
            parts.append(s)
        text = sep.join(parts) + end
        if len(self.printed) + len(text) > self.limits.max_print_chars:
            limit(f"the program printed more than {self.limits.max_print_chars} characters",
                  "print()")
        self.printed += text
        self.state[PRINT_OUTPUTS] = self.printed
        return None

    def _b_len(self, x):
        if base_type(x) not in SIZED_TYPES:
            fail(f"{tname(x)} has no len()", "len()")
        try:
            return len(x)
        except OverflowError:
            limit("the range is too long for len()", "len()")

    def _b_range(self, *args):
        if not 1 <= len(args) <= 3 or any(type(a) not in (int, bool) for a in args):
            fail("range() takes 1 to 3 integers", "range()")
        if len(args) == 3 and args[2] == 0:
            fail("range() step must not be zero", "range()")
        return range(*args)

    def _b_str(self, *args):
        if not args:
            return ""
        if len(args) > 1:
            fail("str() takes one argument here", "str()")
        return self.to_str(args[0])

    def _b_int(self, x=0, base=None):
        t = base_type(x)
        if base is not None:
            if t not in (str, bytes) or type(base) not in (int, bool):
                fail("int(x, base) needs a str and an int base", "int()")
        if t in (str, bytes):
            if len(x) > 5000:
                limit("int() of a text longer than 5000 characters", "int()")
            b = 10 if base is None else int(base)
            if b == 0 or 2 <= b <= 36:  # the digits' bits, before C code builds the int
                per_char = 4.0 if b == 0 else math.log2(b)
                self.budget.check_int_bits(int(len(x) * per_char), "the result of int()")
            try:
                value = int(plain_str(x) if t is str else x, 10 if base is None else base)
            except ValueError as e:
                fail(f"ValueError in int(): {e}", "int()")
            return value
        if t in (int, bool):
            return int(x)
        if t is float:
            if math.isinf(x) or math.isnan(x):
                fail(f"cannot convert {x} to an integer", "int()")
            return int(x)
        fail(f"int() of {tname(x)} is not possible", "int()")

    def _b_float(self, x=0.0):
        t = base_type(x)
        if t in (int, bool):
            try:
                return float(x)
            except OverflowError:
                fail("the integer is too large for a float", "float()")
        if t is float:
            return x
        if t is str:
            if len(x) > 1000:
                limit("float() of a text longer than 1000 characters", "float()")
            try:
                return float(plain_str(x))
            except ValueError as e:
                fail(f"ValueError in float(): {e}", "float()")
        fail(f"float() of {tname(x)} is not possible", "float()")

    def _b_bool(self, x=False):
        return self.truth(x)

    def _b_list(self, x=()):
        return self.sized_list(x, "list()")

    def _b_tuple(self, x=()):
        return tuple(self.sized_list(x, "tuple()"))

    def _b_dict(self, x=None, **kwargs):
        out = {}
        if x is not None:
            if type(x) is dict:
                self.budget.work(len(x), "dict()")
                out.update(x)
            else:
                pairs = self.sized_list(x, "dict()")
                if not all(type(p) in (list, tuple) and len(p) == 2 for p in pairs):
                    fail("dict() needs a dict or a list of (key, value) pairs", "dict()")
                self.budget.guard_keys([p[0] for p in pairs], "dict()")
                out = dict(pairs)
        self.budget.check_container_len(len(out) + len(kwargs), "dict()")
        out.update(kwargs)
        return self.budget.held(out, ITEM * len(out))

    def _minmax(self, fn, args, default, what):
        if len(args) == 1:
            items = self.sized_list(args[0], what)
        elif len(args) == 0:
            fail(f"{what} expected at least one argument", what)
        else:
            items = list(args)
        self.budget.guard_sort(items, what)
        if not items:
            if default is NO_DEFAULT:
                fail(f"{what} of an empty sequence", what)
            return default
        try:
            return fn(items)
        except TypeError as e:
            fail(f"TypeError in {what}: {e}", what)

    def _b_min(self, *args, default=None):
        return self._minmax(min, args, default if default is not None else NO_DEFAULT, "min()")

    def _b_max(self, *args, default=None):
        return self._minmax(max, args, default if default is not None else NO_DEFAULT, "max()")

    def _b_sum(self, iterable=(), start=0):
        items = self.sized_list(iterable, "sum()")
        total = start
        if not is_number(start):
            fail("sum() only adds numbers (use ''.join() for texts, + for lists)", "sum()")
        for x in items:
            if not is_number(x):
                fail(f"sum() only adds numbers, found {tname(x)}", "sum()")
            total = self.binop(ast.Add(), total, x)
        return total

    def _b_sorted(self, iterable=(), reverse=False):
        items = self.sized_list(iterable, "sorted()")
        self.budget.guard_sort(items, "sorted()")
        try:
            items.sort(reverse=bool(reverse))
        except TypeError as e:
            fail(f"TypeError in sorted(): {e}", "sorted()")
        return items

    def _b_enumerate(self, iterable=(), start=0):
        if type(start) not in (int, bool):
            fail("enumerate() start must be an int", "enumerate()")
        items = self.sized_list(iterable, "enumerate()")
        self.budget.check_container_len(len(items), "enumerate()")  # the pairs
        big = int_bytes(abs(int(start)) + len(items))  # every index is a new int
        self.budget.charge(len(items) * big, "enumerate()")
        return self.budget.held([(start + i, x) for i, x in enumerate(items)],
                                (2 * ITEM + big) * len(items))

    def _b_zip(self, *iterables):
        lists = [self.sized_list(it, "zip()") for it in iterables]
        n = min((len(x) for x in lists), default=0)
        self.budget.check_container_len(n * max(len(lists), 1), "zip()")
        return [tuple(x[i] for x in lists) for i in range(n)]

    def _b_round(self, x=None, ndigits=None):
        if not is_number(x):
            fail(f"round() of {tname(x)} is not possible", "round()")
        if ndigits is None:
            try:
                return round(x)
            except (OverflowError, ValueError) as e:
                fail(f"{type(e).__name__} in round(): {e}", "round()")
        if type(ndigits) not in (int, bool) or abs(ndigits) > self.limits.max_round_digits:
            limit("round()'s ndigits must be an int of at most "
                  f"{self.limits.max_round_digits}", "round()")
        return round(x, ndigits)

    def _b_abs(self, x=None):
        if not is_number(x):
            fail(f"abs() of {tname(x)} is not possible", "abs()")
        return abs(x)

    def _b_any(self, iterable=()):
        return any(self.truth(x) for x in self.sized_list(iterable, "any()"))

    def _b_all(self, iterable=()):
        return all(self.truth(x) for x in self.sized_list(iterable, "all()"))

    def _b_reversed(self, iterable=()):
        items = self.sized_list(iterable, "reversed()")
        items.reverse()
        return items

"""The interpreter's budget: :class:`Limits` and the :class:`Budget` every path charges.

One :class:`Budget` lives for one :func:`~tfhf.agents.interpreter.evaluate` call. It counts
operations, loop iterations, time and the size of created values, and measures values before
C code walks them (hashing, comparisons, ``repr``) with a bounded iterative walk.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from .errors import fail, limit, refuse
from .values import ITEM, SCALAR_TYPES, Opaque, base_type, bulk_chars, scalar_chars, tname


@dataclass(frozen=True)
class Limits:
    """Bounds on one :func:`evaluate` call (all checked before the work is done).

    ``max_seconds`` counts the interpreter's own time: time spent inside tools is excluded
    (a tool bounds its own work, e.g. the text downloader's timeout).
    """

    max_operations: int = 1_000_000      # AST nodes evaluated
    max_iterations: int = 100_000        # loop and comprehension iterations, all loops together
    max_seconds: float = 5.0
    max_str_len: int = 5_000_000         # characters (or bytes) in one created string
    max_container_len: int = 1_000_000   # items in one created list/tuple/dict
    max_int_bits: int = 10_000           # about 3,000 decimal digits
    max_alloc: int = 100_000_000         # size of everything created: chars + 32 per item
    max_walk: int = 2_000_000            # items a recursive C-level operation may visit
    max_value_depth: int = 100           # nesting of lists/tuples/dicts in such operations
    max_ast_depth: int = 100
    max_ast_nodes: int = 50_000
    max_code_chars: int = 200_000
    max_print_chars: int = 1_000_000
    max_format_width: int = 1_000        # width and precision in format specs
    max_round_digits: int = 1_000

    def with_(self, **changes) -> "Limits":
        return replace(self, **changes)


DEFAULT_LIMITS = Limits()


class Budget:
    """Counters and checks for one evaluation; every check raises before the work is done."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.ops = 0
        self.iterations = 0
        self.alloc = 0
        self.tool_seconds = 0.0
        self.start = time.monotonic()

    # ----------------------------------------------------------------- accounting
    def tick(self):
        self.ops += 1
        if self.ops > self.limits.max_operations:
            limit(f"the program ran more than {self.limits.max_operations} operations",
                   "operations")
        if time.monotonic() - self.start - self.tool_seconds > self.limits.max_seconds:
            limit(f"the program ran longer than {self.limits.max_seconds:g} seconds",
                   "time")

    def iterate(self):
        self.iterations += 1
        if self.iterations > self.limits.max_iterations:
            limit(f"the program ran more than {self.limits.max_iterations} loop iterations "
                   "(an endless loop?)", "loop")
        self.tick()

    def charge(self, units, what):
        self.alloc += units
        if self.alloc > self.limits.max_alloc:
            limit(f"the program created too much data in total (over {self.limits.max_alloc} "
                   f"units) when building {what}", what)

    def refund(self, value):
        """Give back the size of a value the program dropped (so ``s += x`` in a loop is
        charged for the text it keeps, not for every copy)."""
        t = type(value)
        if t in (str, bytes):
            self.alloc = max(0, self.alloc - len(value))
        elif t in (list, tuple, dict):
            self.alloc = max(0, self.alloc - ITEM * len(value))

    def check_str_len(self, n, what="a string"):
        if n > self.limits.max_str_len:
            limit(f"{what} would have {n} characters (the limit is "
                   f"{self.limits.max_str_len})", what)
        self.charge(n, what)

    def check_container_len(self, n, what="a list"):
        if n > self.limits.max_container_len:
            limit(f"{what} would have {n} items (the limit is "
                   f"{self.limits.max_container_len})", what)
        self.charge(ITEM * n, what)

    def check_int_bits(self, bits, what="an integer"):
        if bits > self.limits.max_int_bits:
            limit(f"{what} would have about {bits} bits (the limit is "
                   f"{self.limits.max_int_bits})", what)

    # --------------------------------------------------------------- value walks
    def measure(self, value, what, *, chars=False):
        """Bounded iterative walk over a value before C code walks it recursively.

        Counts every occurrence of shared sub-values, refuses cycles and deep nesting, and
        returns an upper estimate of its text length when ``chars``.
        """
        t = type(value)
        if t in SCALAR_TYPES or t is Opaque:
            if chars:
                return scalar_chars(value)
            return 1
        budget = self.limits.max_walk
        max_depth = self.limits.max_value_depth
        max_chars = self.limits.max_str_len
        nodes = 0
        total = 0
        stack = [(value, 0, None)]
        path = []  # ids of containers on the current path (cycle detection)
        on_path = set()
        while stack:
            v, depth, exit_id = stack.pop()
            if exit_id is not None:
                on_path.discard(exit_id)
                continue
            nodes += 1
            if nodes > budget:
                limit(f"{what}: the value is too large to process (more than {budget} items "
                       "counting repeats)", what)
            vt = type(v)
            if vt in (list, tuple, dict, set, frozenset):
                if depth >= max_depth:
                    limit(f"{what}: the value is nested more than {max_depth} levels deep",
                           what)
                if id(v) in on_path:
                    refuse(f"{what}: the value contains itself", what)
                on_path.add(id(v))
                stack.append((None, 0, id(v)))
                parts = (v.keys(), v.values()) if vt is dict else (v,)
                total += 2 + (4 if vt is dict else 2) * len(v)
                for part in parts:
                    kinds = set(map(type, part))  # C speed: all-scalar parts are counted in bulk
                    if kinds <= SCALAR_TYPES:
                        nodes += len(part)
                        if chars:
                            total += bulk_chars(part, kinds)
                    else:
                        stack.extend((x, depth + 1, None) for x in part)
            elif vt is range:
                total += 30
            elif chars:
                total += scalar_chars(v)
            if chars and total > max_chars:
                limit(f"{what}: the text would have more than {max_chars} characters", what)
        del path
        return total if chars else nodes

    def guard_hash(self, key, what="a dict key"):
        t = type(key)
        if t in (tuple, frozenset):
            self.measure(key, what)
        elif t not in SCALAR_TYPES and base_type(key) is not str:
            fail(f"{what} must be a str, number, bool, None or tuple, not {tname(key)}", what)

    def guard_compare(self, *values, what="a comparison"):
        for v in values:
            if type(v) in (list, tuple, dict, set, frozenset):
                self.measure(v, what)


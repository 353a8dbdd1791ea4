"""The interpreter's budget: :class:`Limits` and the :class:`Budget` every path charges.

One :class:`Budget` lives for one :func:`~tfhf.agents.interpreter.evaluate` call. It counts
operations, loop iterations, time and the size of created values, and measures values before
C code walks them (hashing, comparisons, ``repr``) with a bounded iterative walk.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, replace

from .errors import fail, limit, refuse
from .values import (CHARS_PER_STEP, ITEM, REFUND_MIN, SCALAR_TYPES, Opaque, base_type,
                     bulk_chars, int_bytes, plain_chars, scalar_chars, tname)


@dataclass(frozen=True)
class Limits:
    """Bounds on one :func:`evaluate` call, each checked before the work it bounds is done.

    ``max_seconds`` counts the interpreter's own time (tool time excluded: a tool bounds its
    own work, e.g. the text downloader's timeout); ``max_wall_seconds`` counts everything,
    tools included, and ``max_tool_calls`` bounds how often tools run. ``max_work`` bounds
    the work of C-level calls the program starts (comparisons, searches, hashing, sorting,
    copying): one unit is one element visited or 32 characters scanned. ``max_alloc`` bounds
    the memory the program holds: characters of texts, bytes of big integers and 32 per
    container item, charged when a value is created and given back only when a value that
    was charged is dropped. See docs/interpreter.md.
    """

    max_operations: int = 1_000_000      # AST nodes evaluated
    max_iterations: int = 100_000        # loop and comprehension iterations, all loops together
    max_seconds: float = 5.0             # interpreter time (tools excluded)
    max_wall_seconds: float = 300.0      # everything, tools included
    max_tool_calls: int = 1_000
    max_work: int = 50_000_000           # C-level steps: 1 per element, 1 per 32 characters
    max_str_len: int = 5_000_000         # characters (or bytes) in one created string
    max_container_len: int = 1_000_000   # items in one created list/tuple/dict
    max_int_bits: int = 10_000           # about 3,000 decimal digits
    max_alloc: int = 100_000_000         # held data: chars + int bytes + 32 per item
    max_walk: int = 2_000_000            # items a recursive C-level operation may visit
    max_value_depth: int = 100           # nesting of lists/tuples/dicts in such operations
    max_colliding_keys: int = 64         # distinct dict keys sharing one hash value
    max_ast_depth: int = 100
    max_ast_nodes: int = 50_000
    max_code_chars: int = 200_000
    max_print_chars: int = 1_000_000
    max_format_width: int = 1_000        # width and precision in format specs
    max_round_digits: int = 1_000

    def with_(self, **changes) -> "Limits":
        return replace(self, **changes)


DEFAULT_LIMITS = Limits()


class _KeyGroup(list):
    """Distinct keys sharing one hash value: a list subclass, so a single stored key (never
    a list: lists are not hashable) is told apart from a group."""


_NO_KEY = object()


class Budget:
    """Counters and checks for one evaluation; every check raises before the work is done."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.ops = 0
        self.iterations = 0
        self.alloc = 0
        self.steps = 0
        self.tool_calls = 0
        self.tool_seconds = 0.0
        self.start = time.monotonic()
        self.ledger = {}      # id -> units, for charged values big enough to refund
        self.key_groups = {}  # hash -> distinct non-text dict keys seen with that hash
        self.key_sizes = {}   # id -> (tuple key, items) for big tuple keys

    # ----------------------------------------------------------------- accounting
    def tick(self):
        self.ops += 1
        if self.ops > self.limits.max_operations:
            limit(f"the program ran more than {self.limits.max_operations} operations",
                  "operations")
        self.check_time()

    def check_time(self):
        elapsed = time.monotonic() - self.start
        if elapsed - self.tool_seconds > self.limits.max_seconds:
            limit(f"the program ran longer than {self.limits.max_seconds:g} seconds", "time")
        if elapsed > self.limits.max_wall_seconds:
            limit(f"the program and its tools ran longer than "
                  f"{self.limits.max_wall_seconds:g} seconds", "time")

    def iterate(self):
        self.iterations += 1
        if self.iterations > self.limits.max_iterations:
            limit(f"the program ran more than {self.limits.max_iterations} loop iterations "
                  "(an endless loop?)", "loop")
        self.tick()

    def work(self, units, what):
        """Charge the work of a C-level call before it runs (1 unit per element visited or
        32 characters scanned)."""
        self.steps += int(units)
        if self.steps > self.limits.max_work:
            limit(f"{what}: the program asked for too much work in total (over "
                  f"{self.limits.max_work} steps of comparing, searching, hashing or copying)",
                  what)

    def charge(self, units, what):
        self.alloc += units
        if self.alloc > self.limits.max_alloc:
            limit(f"the program created too much data in total (over {self.limits.max_alloc} "
                  f"units) when building {what}", what)

    def hold(self, value, units):
        """Remember what ``value`` was charged, so dropping it gives exactly that back."""
        if units >= REFUND_MIN:
            self.ledger[id(value)] = self.ledger.get(id(value), 0) + units

    def held(self, value, units):
        """:meth:`hold` that returns the value (for ``return budget.held(a + b, n)``)."""
        self.hold(value, units)
        return value

    def charge_held(self, value, what):
        """Charge a value the program received (a tool's result, a method's result) for the
        memory it holds, and remember it for a refund."""
        units = self.held_units(value, what)
        self.charge(units, what)
        self.hold(value, units)

    def refund(self, value):
        """Give back what a value the program dropped was charged (so ``s += x`` in a loop is
        charged for the text it keeps, not for every copy). Values never charged give back
        nothing."""
        units = self.ledger.pop(id(value), 0)
        self.alloc = max(0, self.alloc - units)

    def check_str_len(self, n, what="a string", charge=True):
        if n > self.limits.max_str_len:
            limit(f"{what} would have {n} characters (the limit is "
                  f"{self.limits.max_str_len})", what)
        if charge:
            self.charge(n, what)

    def check_len(self, n, what="a list"):
        """The item limit of one container, without charging (the items are charged when
        they are added)."""
        if n > self.limits.max_container_len:
            limit(f"{what} would have {n} items (the limit is "
                  f"{self.limits.max_container_len})", what)

    def check_container_len(self, n, what="a list"):
        self.check_len(n, what)
        self.charge(ITEM * n, what)

    def check_int_bits(self, bits, what="an integer"):
        if bits > self.limits.max_int_bits:
            limit(f"{what} would have about {bits} bits (the limit is "
                  f"{self.limits.max_int_bits})", what)

    # --------------------------------------------------------------- value walks
    def walk(self, value, what, *, max_chars=None, escapes=False):
        """Measure a value before C code walks it recursively.

        Returns ``(items, characters)``: the items C code visits, counting a shared
        sub-value every time it occurs, and an upper bound of the value's text (``escapes``:
        texts written as ``repr`` writes them, as inside a container's text). Each container
        is looked at once (sizes of shared ones are remembered), cycles and deep nesting are
        refused, and the items are charged as work.
        """
        limits = self.limits
        memo = {}
        on_path = set()
        looked_at = [0]  # items of distinct containers: the walk's own work
        cap = max_chars if max_chars is not None else CHARS_PER_STEP * (limits.max_work + 1)

        def size(v, depth):
            vt = type(v)
            if vt not in (list, tuple, dict, set, frozenset):
                if vt is range:
                    return 1, 12 + sum(scalar_chars(x) for x in (v.start, v.stop, v.step))
                return 1, scalar_chars(v, escapes) if plain_chars(v) <= cap else plain_chars(v)
            if id(v) in memo:
                return memo[id(v)]
            if id(v) in on_path:
                refuse(f"{what}: the value contains itself", what)
            if depth >= limits.max_value_depth:
                limit(f"{what}: the value is nested more than {limits.max_value_depth} levels "
                      "deep", what)
            on_path.add(id(v))
            looked_at[0] += len(v) + 1
            nodes, chars = 1, 2 + (4 if vt is dict else 2) * len(v)
            for part in ((v.keys(), v.values()) if vt is dict else (v,)):
                kinds = set(map(type, part))  # C speed: all-scalar parts are counted in bulk
                if kinds <= SCALAR_TYPES:
                    nodes += len(part)
                    chars += bulk_chars(part, kinds, escapes, cap)
                    continue
                for x in part:
                    n, c = size(x, depth + 1)
                    nodes += n
                    chars += c
                    if nodes > limits.max_walk or chars > cap:
                        break
            on_path.discard(id(v))
            if nodes > limits.max_walk:
                limit(f"{what}: the value is too large to process (more than "
                      f"{limits.max_walk} items counting repeats)", what)
            if chars > cap:
                limit(f"{what}: the text would have more than {cap} characters", what)
            memo[id(v)] = nodes, chars
            return nodes, chars

        nodes, chars = size(value, 0)
        self.work(looked_at[0], what)
        if chars > cap:
            limit(f"{what}: the text would have more than {cap} characters", what)
        return nodes, chars

    def measure(self, value, what, *, chars=False, escapes=False):
        """The items a C-level walk visits, or (``chars``) an upper bound of the value's
        text, refusing more than ``max_str_len`` characters."""
        if type(value) is Opaque:
            return 32 if chars else 1
        nodes, total = self.walk(value, what, escapes=escapes or type(value) is not str,
                                 max_chars=self.limits.max_str_len if chars else None)
        return total if chars else nodes

    def units(self, value, what):
        """Work units of a C loop that visits every item of ``value`` and compares its texts
        (items + characters / 32, counting shared sub-values each time)."""
        t = type(value)
        if t in (str, bytes) or isinstance(value, str):
            return 1 + len(value) // CHARS_PER_STEP
        if t is int:
            return 1 + value.bit_length() // (8 * CHARS_PER_STEP)
        if t not in (list, tuple, dict, set, frozenset):
            return 1
        nodes, total = self.walk(value, what)
        return nodes + total // CHARS_PER_STEP

    def held_units(self, value, what):
        """Memory a value holds (texts, int bytes, 32 per item), each object counted once
        (a visited set), bounded by ``max_walk`` objects."""
        t = type(value)
        if t in (str, bytes) or isinstance(value, str):  # AgentText too
            return len(value)
        if t is int:
            return int_bytes(value)
        if t not in (list, tuple, dict, set, frozenset):
            return 0
        seen = set()
        stack = [value]
        total = nodes = 0
        while stack:
            v = stack.pop()
            nodes += 1
            if nodes > self.limits.max_walk:
                limit(f"{what}: the value is too large to process (more than "
                      f"{self.limits.max_walk} objects)", what)
            vt = type(v)
            if vt in (str, bytes) or isinstance(v, str):
                total += len(v)
            elif vt is int:
                total += int_bytes(v)
            elif vt in (list, tuple, dict, set, frozenset) and id(v) not in seen:
                seen.add(id(v))
                total += ITEM * len(v)
                stack.extend(v.items() if vt is dict else v)
            elif vt is tuple:  # a dict's (key, value) pair
                stack.extend(v)
        self.work(nodes, what)
        return total

    def guard_hash(self, key, what="a dict key"):
        """Before hashing a key: measure tuples, refuse unhashable values, and refuse many
        distinct keys sharing one hash value (each insertion would probe all of them)."""
        t = type(key)
        if t in (tuple, frozenset):
            self.work(self.key_size(key, what), what)  # hashing visits every item, every time
        elif t not in SCALAR_TYPES and base_type(key) is not str:
            fail(f"{what} must be a str, number, bool, None or tuple, not {tname(key)}", what)
        if t in (str, bytes) or isinstance(key, str):
            self.work(1 + len(key) // CHARS_PER_STEP, what)
            return  # text hashes are randomized: no collisions to plan
        self.note_key(key, what)

    def key_size(self, key, what):
        """Items a tuple key's hash visits; big keys are measured once (and kept alive, so
        their id stays theirs)."""
        known = self.key_sizes.get(id(key))
        if known is not None:
            return known[1]
        nodes = self.measure(key, what)
        if nodes >= 1000 and len(self.key_sizes) < 1000:
            self.key_sizes[id(key)] = (key, nodes)
        return nodes

    def note_key(self, key, what):
        """Track distinct non-text keys per hash value (one key, or a list once two share a
        hash) and refuse more than ``max_colliding_keys`` of them."""
        h = hash(key)
        group = self.key_groups.get(h, _NO_KEY)
        if group is _NO_KEY:
            self.key_groups[h] = key
            return
        if type(group) is not _KeyGroup:
            if group == key:
                return
            group = self.key_groups[h] = _KeyGroup((group,))
        self.work(1 + len(group), what)
        for k in group:
            if k == key:
                return
        group.append(key)
        if len(group) > self.limits.max_colliding_keys:
            limit(f"{what}: more than {self.limits.max_colliding_keys} different keys share "
                  "one hash value (a hash-collision attack would make every insertion slow)",
                  what)

    def guard_keys(self, keys, what):
        """Before C code builds a dict from many keys: the same checks as :meth:`guard_hash`,
        in bulk (keys of one hash value are counted as distinct unless sorting proves
        otherwise)."""
        kinds = set(map(type, keys))
        if not kinds <= SCALAR_TYPES:
            for k in keys:
                self.guard_hash(k, what)
            return
        self.work(len(keys), what)
        text = {str, bytes}
        if kinds <= text:
            self.work(sum(map(len, keys)) // CHARS_PER_STEP, what)
            return
        counts = Counter(map(hash, keys))
        cap = self.limits.max_colliding_keys
        if not counts or max(counts.values()) <= cap:
            return
        for h, n in counts.items():
            if n > cap:
                group = [k for k in keys if hash(k) == h]
                try:
                    group.sort()
                    distinct = 1 + sum(1 for a, b in zip(group, group[1:]) if not a == b)
                except TypeError:
                    distinct = n
                if distinct > cap:
                    limit(f"{what}: more than {cap} different keys share one hash value (a "
                          "hash-collision attack would make building the dict slow)", what)

    def guard_compare(self, *values, what="a comparison"):
        """Before C code compares values (``==``, ``<``, ``in``, ``.count()``...): charge the
        items and characters it may visit."""
        for v in values:
            self.work(self.units(v, what), what)

    def guard_sort(self, items, what):
        """Before sorting (or min/max): n log n comparisons of items of this size."""
        n = len(items)
        per = self.units(items, what) // max(n, 1) + 1
        self.work(n * max(1, n.bit_length()) * per, what)

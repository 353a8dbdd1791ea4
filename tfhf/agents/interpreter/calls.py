"""Calls: builtins, tools and the allowlisted methods with their guards.

Methods are looked up on the base type, never on the value. A guard ``_m_<type>_<method>``
checks sizes (and may compute the result itself); it returns :data:`CALL` to let the real
method run.
"""

from __future__ import annotations

import ast
import re
import time

from .allowlist import SAFE_BUILTINS, SAFE_METHODS
from .operators import search_work
from .sanitize import sanitize, unwrap_deep
from .errors import Refusal, fail, limit, refuse
from .values import CALL, CHARS_PER_STEP, ITEM, base_type, int_bytes, plain_str, tname


def _stripper(method):
    """The guard of ``str.strip``/``lstrip``/``rstrip``: with ``chars``, C code scans them
    for every character it looks at, so duplicates are dropped and the rest is charged."""
    def check(self, s, chars=None, *rest):
        if rest:
            fail(f"{method.__name__}() takes at most one argument", f".{method.__name__}()")
        if chars is None:
            return CALL
        if base_type(chars) is not str:
            fail(f"{method.__name__} arg must be None or str, not {tname(chars)}",
                 f".{method.__name__}()")
        what = f".{method.__name__}()"
        unique = chars
        if len(chars) > 64:
            self.budget.work(len(chars), what)  # one hash per character
            unique = "".join(dict.fromkeys(plain_str(chars)))
        self.budget.work(len(s) * len(unique) // CHARS_PER_STEP, what)
        return self.charge_result(str, method.__name__, method(s, plain_str(unique)))
    return check


class CallsMixin:
    """Calls of the evaluator."""

    # ------------------------------------------------------------------ calls
    def call(self, node):
        func = node.func
        if type(func) is ast.Attribute:
            obj = self.eval(func.value)
            args = [self.eval(a) for a in node.args]
            kwargs = {k.arg: self.eval(k.value) for k in node.keywords}
            return self.call_method(obj, func.attr, args, kwargs)
        name = func.id
        if name in self.builtins:
            args = [self.eval(a) for a in node.args]
            kwargs = {k.arg: self.eval(k.value) for k in node.keywords}
            return self.call_builtin(name, args, kwargs)
        if name in self.tools:
            args = [self.eval(a) for a in node.args]
            kwargs = {k.arg: self.eval(k.value) for k in node.keywords}
            return self.call_tool(name, args, kwargs)
        if name in self.state:
            fail(f"'{name}' is a variable ({tname(self.state[name])}), not a tool; it cannot "
                 "be called", f"call of '{name}'")
        available = ", ".join(sorted(self.tools)) or "none"
        raise Refusal(f"'{name}' is not a tool or an allowed function (tools: {available}; "
                      f"builtins: {', '.join(SAFE_BUILTINS)})", f"call of '{name}'",
                      "unknown_name")

    def call_builtin(self, name, args, kwargs):
        try:
            return self.builtins[name](*args, **kwargs)
        except Refusal:
            raise
        except TypeError as e:
            msg = re.sub(r"(\w+\.)?_b_", "", str(e))
            fail(f"TypeError in {name}(): {msg}", f"{name}()")

    def call_tool(self, name, args, kwargs):
        """Call a tool: counted, timed against the wall-clock limit, its arguments measured
        (shared values counted each time: a tool may turn them into text) and its result
        sanitized and charged for the memory it holds."""
        budget = self.budget
        budget.tool_calls += 1
        if budget.tool_calls > self.limits.max_tool_calls:
            limit(f"the program called tools more than {self.limits.max_tool_calls} times",
                  f"tool '{name}'")
        budget.check_time()
        what = f"the arguments of tool '{name}'"
        _, chars = budget.walk((args, kwargs), what, max_chars=self.limits.max_alloc)
        tool = self.tools[name]
        args = unwrap_deep(args, self.limits.max_walk)
        kwargs = unwrap_deep(kwargs, self.limits.max_walk)
        started = time.monotonic()
        try:
            result = tool(*args, **kwargs)
        except (Exception, SystemExit) as e:  # a tool's failure becomes the program's error
            msg = str(e).strip().splitlines()[0][:500] if str(e).strip() else ""
            raise Refusal(f"the tool '{name}' raised {type(e).__name__}"
                          f"{': ' + msg if msg else ''}", f"tool '{name}'", "tool_error") from e
        finally:
            budget.tool_seconds += time.monotonic() - started
        budget.check_time()
        output_type = getattr(tool, "output_type", None)
        result = sanitize(result, output_type=output_type, limits=self.limits)
        budget.charge_held(result, f"the result of tool '{name}'")
        return result

    def call_method(self, obj, name, args, kwargs):
        base = base_type(obj)
        allowed = SAFE_METHODS.get(base, ())
        if name not in allowed:
            if base is None:
                refuse(f"method '.{name}()' cannot be called on {tname(obj)} (methods are "
                       "only allowed on str, list, dict and tuple values)",
                       f"attribute '.{name}'")
            refuse(f"'{base.__name__}' values have no allowed method '.{name}()' (allowed: "
                   f"{', '.join(allowed) or 'none'})", f"attribute '.{name}'")
        check = getattr(self, f"_m_{base.__name__}_{name}", None)
        if base is str:
            obj = plain_str(obj)
        self.budget.work(self.method_work(obj, name, args), f".{name}()")
        try:
            if check is not None:
                out = check(obj, *args, **kwargs)
                if out is not CALL:
                    return out
            method = getattr(base, name)  # looked up on the base type, never on the value
            result = method(obj, *args, **kwargs)
        except Refusal:
            raise
        except (TypeError, ValueError, KeyError, IndexError, OverflowError, RecursionError) as e:
            fail(f"{type(e).__name__} in .{name}(): {e}", f".{name}()")
        return self.charge_result(base, name, result)

    def method_work(self, obj, name, args):
        """Work units of a method call, before it runs: texts are scanned (searches cost
        up to the text times the needle), lists shifted or copied; comparisons and sorts
        are charged by their guards."""
        what = f".{name}()"
        if type(obj) is str:
            units = 1 + len(obj) // CHARS_PER_STEP
            for a in args:
                units += self.budget.units(a, what)
            if name in SEARCH_METHODS and args and base_type(args[0]) is str:
                units += search_work(len(obj), len(args[0]))
            return units
        if name in LINEAR_METHODS or (name == "pop" and type(obj) is list and args
                                      and args[0] != -1):
            return 1 + len(obj) // 8
        return 1

    def charge_result(self, base, name, result):
        """Charge a method's new result for the memory it holds (methods that return an
        existing item, like .get() or .pop(), charge nothing)."""
        if base is str and type(result) in (str, list, tuple):
            self.budget.charge_held(result, f".{name}()")
        elif name in COPYING_METHODS:
            if type(result) in (type({}.keys()), type({}.values()), type({}.items())):
                result = list(result)
            self.budget.charge(ITEM * len(result), f".{name}()")
            self.budget.hold(result, ITEM * len(result))
        return result

    # ---- method checks: return CALL to let the real method run, or the result
    def _m_str_join(self, s, iterable=None, *rest):
        if rest or iterable is None:
            fail("str.join() takes exactly one argument", ".join()")
        items = self.sized_list(iterable, "str.join()")
        total = len(s) * max(len(items) - 1, 0)
        for x in items:
            if base_type(x) is not str:
                fail(f"str.join() needs str items, found {tname(x)}", ".join()")
            total += len(x)
        self.budget.check_str_len(total, "the result of str.join()")
        return s.join([plain_str(x) for x in items])

    def _m_str_replace(self, s, old=None, new=None, count=-1):
        if base_type(old) is not str or base_type(new) is not str or \
                type(count) not in (int, bool):
            fail("str.replace(old, new[, count]) needs two strings and an int", ".replace()")
        n = (len(s) + 1) if old == "" else s.count(old)
        if count >= 0:
            n = min(n, count)
        self.budget.check_str_len(len(s) + n * (len(new) - len(old)),
                                  "the result of str.replace()", charge=False)
        return CALL

    def _pad_check(self, s, width=None, *rest, **kw):
        if type(width) not in (int, bool):
            fail("the width must be an int", "padding")
        self.budget.check_str_len(max(len(s), int(width)), "a padded text", charge=False)
        return CALL

    _m_str_center = _m_str_ljust = _m_str_rjust = _m_str_zfill = _pad_check

    def _case_check(self, s, *args, **kwargs):
        self.budget.check_str_len(3 * len(s), "a case-converted text", charge=False)
        return CALL

    _m_str_upper = _m_str_lower = _m_str_casefold = _m_str_title = _m_str_capitalize = \
        _m_str_swapcase = _case_check

    def _split_check(self, s, sep=None, maxsplit=-1):
        if sep is not None and base_type(sep) is not str:
            fail("the separator must be a str", ".split()")
        if type(maxsplit) not in (int, bool):
            fail("maxsplit must be an int", ".split()")
        if sep is None:
            n = (len(s) + 1) // 2 + 1
        elif sep == "":
            fail("empty separator", ".split()")
        else:
            n = s.count(sep) + 1
        if maxsplit >= 0:
            n = min(n, maxsplit + 1)
        self.budget.check_len(n, "the result of .split()")
        return CALL

    _m_str_split = _m_str_rsplit = _split_check

    def _m_str_splitlines(self, s, *args, **kwargs):
        self.budget.check_len(len(s) + 1, "the result of .splitlines()")
        return CALL

    def _m_str_format(self, s, *args, **kwargs):
        return self.safe_format(s, args, kwargs)

    _m_str_strip = _stripper(str.strip)
    _m_str_lstrip = _stripper(str.lstrip)
    _m_str_rstrip = _stripper(str.rstrip)

    def _m_list_append(self, lst, *args):
        self.budget.check_len(len(lst) + 1, "a list")  # the list grows by one item
        self.budget.charge(ITEM + sum(map(int_bytes, args)), "a list")
        return CALL

    _m_list_insert = _m_list_append

    def _m_list_extend(self, lst, other=None, *rest):
        items = self.sized_list(other, "list.extend()")
        self.budget.check_len(len(lst) + len(items), "a list")  # items charged by sized_list
        lst.extend(items)
        return None

    def _compare_all(self, lst, *args, **kwargs):
        self.budget.guard_compare(lst, *args, what=f"a {tname(lst)} search or sort")
        return CALL

    _m_list_remove = _m_list_index = _m_list_count = _m_tuple_index = _m_tuple_count = \
        _compare_all

    def _m_list_sort(self, lst, *args, reverse=False, **kwargs):
        if args or kwargs:
            refuse("list.sort() only takes reverse= (key functions are not available)",
                   ".sort()")
        self.budget.guard_sort(lst, "sorting")
        lst.sort(reverse=bool(reverse))
        return None

    def _m_list_copy(self, lst):
        self.budget.check_len(len(lst), "a list copy")
        return CALL

    def _key_check(self, d, *args, **kwargs):
        if args:
            self.budget.guard_hash(args[0])
        return CALL

    _m_dict_get = _m_dict_pop = _key_check

    def _m_dict_setdefault(self, d, key=None, *rest):
        self.budget.guard_hash(key)
        if key not in d:
            self.budget.check_len(len(d) + 1, "a dict")
            self.budget.charge(ITEM + int_bytes(key), "a dict")
        return CALL

    def _m_dict_update(self, d, other=None, **kwargs):
        if other is not None:
            other = self._b_dict(other)
        else:
            other = {}
        self.budget.check_len(len(d) + len(other) + len(kwargs), "a dict")  # charged by dict()
        d.update(other)
        d.update(kwargs)
        return None

    def _view_check(self, d):
        self.budget.check_len(len(d), "a list of dict keys/values/items")
        return CALL

    _m_dict_keys = _m_dict_values = _m_dict_items = _m_dict_copy = _view_check


# str methods that search their first argument in the text
SEARCH_METHODS = frozenset({"count", "find", "rfind", "index", "rindex", "replace", "split",
                            "rsplit", "partition", "rpartition"})
# list/dict methods whose C code visits every item (pop with an index: see method_work)
LINEAR_METHODS = frozenset({"insert", "reverse", "clear", "copy", "keys", "values", "items"})
# list/dict methods that return a new container (charged 32 per item)
COPYING_METHODS = frozenset({"copy", "keys", "values", "items"})

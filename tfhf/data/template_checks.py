"""Size checks a bounded chat-template rendering runs *before* an operation that can build a
large value from small ones: ``*``, ``**``, ``%`` and ``~``, ``str`` methods and calls
(``format``, ``replace``, ``join``, ``center``, ``range``...), and the text filters.

Each check takes the rendering's budget (:mod:`tfhf.data.template_limits`), which refuses with
an :class:`~tfhf.errors.InvalidInputError` naming the template; the entry points are
:func:`check_call`, :func:`check_binop` and :func:`check_filter`.
"""

from __future__ import annotations

import builtins
import re
import string

__all__ = ["check_call", "check_binop", "check_filter"]


def _str_arg(budget, value, what):
    """The text a filter will work on, sized (a non-string is turned into text first)."""
    if isinstance(value, str):
        return value
    budget.size(value, what)
    return str(value)


def _replace_size(s, old, new, count=None):
    if not isinstance(old, str) or not isinstance(new, str):
        return len(s)
    hits = s.count(old) if old else len(s) + 1
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    return len(s) + hits * max(0, len(new) - len(old))


_PRINTF = re.compile(r"%(?:\(([^)]*)\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?([a-zA-Z%])")


def _check_printf(budget, fmt, right):
    """``fmt % right`` (and the ``format`` filter): widths and the result's size."""
    specs = [m for m in _PRINTF.findall(fmt) if m[3] != "%"]
    numbers = [n for _, w, p, _ in specs for n in (w, p) if n and n != "*"]
    if any(len(n) > 9 or int(n) > budget.limits.max_output_chars for n in numbers):
        budget.refuse(f"a % format asks for a width over max_output_chars="
                      f"{budget.limits.max_output_chars}")
    args = right if isinstance(right, tuple) else (right,)
    if any("*" in (w, p) for _, w, p, _ in specs):
        budget.small_ints(args, "a % format's * width")
    widths = sum(int(n) for n in numbers)
    if isinstance(right, dict):
        each = builtins.max([budget.size(v) for v in right.values()] or [0])
        size = len(fmt) + widths + len(specs) * each
    elif isinstance(right, tuple):
        size = len(fmt) + widths + sum(budget.size(v) for v in right)
    else:
        size = len(fmt) + widths + len(specs) * budget.size(right)
    budget.value(size, "a % format")


def _check_format(budget, fmt, args, kwargs):
    """``fmt.format(*args, **kwargs)``: widths and the result's size."""
    try:
        fields = list(string.Formatter().parse(fmt))
    except ValueError:
        return  # str.format raises its own error
    size, auto = len(fmt), 0
    for _, field, spec, _ in fields:
        if field is None:
            continue
        for number in re.findall(r"\d+", spec or ""):
            if len(number) > 9 or int(number) > budget.limits.max_output_chars:
                budget.refuse("a format() field asks for a width over max_output_chars="
                              f"{budget.limits.max_output_chars}")
            size += int(number)
        if spec and "{" in spec:
            budget.small_ints(list(args) + list(kwargs.values()), "a format() nested width")
        key = re.split(r"[.\[]", field, maxsplit=1)[0]
        if key == "":
            key, auto = auto, auto + 1
        arg = (args[int(key)] if int(key) < len(args) else None) if str(key).isdigit() \
            else kwargs.get(key)
        size += budget.size(arg)
        if size > budget.limits.max_output_chars:
            break
    budget.value(size, "a format() result")


def _check_str_method(budget, name, s, args, kwargs):
    """Methods of strings that can build much more text than they are given."""
    budget.small_ints(list(args) + list(kwargs.values()), f"str.{name}()")
    if name in ("strip", "lstrip", "rstrip") and args:
        _check_strip(budget, s, args[0])
    elif name == "striptags":
        _check_striptags(budget, s)
    elif name == "replace" and len(args) >= 2:
        budget.value(_replace_size(s, *args[:3]), "str.replace()")
    elif name == "expandtabs":
        tab = (args or [kwargs.get("tabsize", 8)])[0]
        budget.value(len(s) + s.count("\t") * (tab if isinstance(tab, int) else 8),
                     "str.expandtabs()")
    elif name == "translate" and args and isinstance(args[0], dict):
        longest = builtins.max([len(v) for v in args[0].values() if isinstance(v, str)] or [1])
        budget.value(len(s) * longest, "str.translate()")


def check_call(budget, obj, args, kwargs):
    """Checks a call from the template; returns its (possibly materialized) arguments."""
    name = getattr(obj, "__name__", "")
    owner = getattr(obj, "__self__", None)
    if isinstance(owner, str) and not isinstance(owner, type):
        if name == "join" and args:
            items = args[0] if isinstance(args[0], (list, tuple)) else list(args[0])
            budget.value(sum(budget.size(i) for i in items) + len(owner) * len(items),
                         "str.join()")
            return (items,) + tuple(args[1:])
        _check_str_method(budget, name, owner, args, kwargs)
    elif name in ("format", "format_map") and \
            isinstance(getattr(getattr(obj, "__wrapped__", None), "__self__", None), str):
        fmt = obj.__wrapped__.__self__
        if name == "format_map":
            _check_format(budget, fmt, (), args[0] if args and isinstance(args[0], dict) else {})
        else:
            _check_format(budget, fmt, args, kwargs)
    elif name == "strftime_now" and args and isinstance(args[0], str):
        budget.value(16 * len(args[0]), "strftime_now()")
    elif name == "safe_range":  # jinja2's range (at most 100,000 items)
        if any(isinstance(a, int) and abs(a) > 2**53 for a in args):
            # ints that far apart can share a hash (n mod 2**61-1): unique / dict.fromkeys
            # over them would take quadratic time
            budget.refuse("range() bounds over 2**53")
    return args


def _check_striptags(budget, s):
    """markupsafe's striptags copies the rest of the text for every tag it removes."""
    if len(s) * s.count("<") > 10**9:
        budget.refuse(f"striptags of {len(s)} characters with {s.count('<')} tags")


def _check_strip(budget, s, chars):
    """``s.strip(chars)`` scans ``chars`` for every character it removes."""
    if isinstance(chars, str) and len(chars) > 64 and len(s) * len(chars) > 10**8:
        budget.refuse(f"strip() of {len(s)} characters with {len(chars)} characters to remove")


def _int_bits(v):
    return v.bit_length() if isinstance(v, int) else 0


def check_binop(budget, operator, left, right):
    limits = budget.limits
    if operator == "*":
        if isinstance(left, int) and isinstance(right, int):
            if _int_bits(left) + _int_bits(right) > limits.max_int_bits:
                budget.refuse(f"an integer product over max_int_bits={limits.max_int_bits}")
            return
        seq, n = (left, right) if isinstance(right, int) else (right, left)
        if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and n > 1:
            budget.small_ints((n,), "a * repetition")
            size = len(seq) if isinstance(seq, str) else budget.size(seq)
            budget.value(size * n, "a * repetition")
    elif operator == "**":
        if isinstance(left, int) and isinstance(right, int) and right > 0 and \
                abs(left) > 1 and _int_bits(left) * right > limits.max_int_bits:
            budget.refuse(f"an integer power over max_int_bits={limits.max_int_bits}")
    elif operator == "%" and isinstance(left, str):
        _check_printf(budget, left, right)


# Filters whose numeric arguments are not sizes (everything else refuses numbers over
# max_output_chars: widths, counts, indents).
_NUMBER_FILTERS = frozenset(("default", "d", "round", "int", "float", "abs", "attr", "min",
                             "max", "sum", "select", "reject", "selectattr", "rejectattr",
                             "map", "items", "dictsort", "sort", "unique", "groupby"))
# Filters that turn their value into text.
_TEXT_FILTERS = frozenset((
    "string", "trim", "upper", "lower", "title", "capitalize", "center", "indent", "truncate",
    "wordcount", "wordwrap", "e", "escape", "forceescape", "safe", "striptags", "urlencode",
    "urlize", "xmlattr", "pprint", "replace", "format", "list", "reverse"))


def check_filter(budget, name, value, params, kwargs):
    """Returns the value to pass on (``join`` materializes an iterator once)."""
    if name not in _NUMBER_FILTERS:
        budget.small_ints(list(params) + list(kwargs.values()), f"the {name} filter")
    if name == "join":
        items = value if isinstance(value, (list, tuple, str)) else list(value)
        sep = params[0] if params else kwargs.get("d", "")
        budget.value(budget.size(items) + len(str(sep)) * len(items), "the join filter")
        return items
    start = kwargs.get("start", params[1] if len(params) > 1 else 0)
    if name == "sum" and not isinstance(start, (int, float)):
        budget.refuse("the sum filter may only add numbers (start= must be a number)")
    if name not in _TEXT_FILTERS or (name in ("list", "reverse") and not isinstance(value, str)):
        return value
    s = _str_arg(budget, value, f"the value of the {name} filter")
    if name == "trim":
        _check_strip(budget, s, params[0] if params else kwargs.get("chars"))
    elif name == "striptags":
        _check_striptags(budget, s)
    elif name == "replace" and len(params) >= 2:
        budget.value(_replace_size(s, *params[:3]), "the replace filter")
    elif name == "indent":
        width = params[0] if params else kwargs.get("width", 4)
        width = len(width) if isinstance(width, str) else width if isinstance(width, int) else 4
        budget.value(len(s) + (s.count("\n") + 1) * width, "the indent filter")
    elif name == "wordwrap":
        wrap = params[2] if len(params) > 2 else kwargs.get("wrapstring") or "\n"
        budget.value(len(s) * (1 + len(str(wrap))), "the wordwrap filter")
    elif name == "format":
        _check_printf(budget, s, tuple(params) if params else kwargs)
    return value

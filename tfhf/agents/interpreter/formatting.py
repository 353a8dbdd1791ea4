"""Values as text: ``str()``/``repr()``/``ascii()``, format specs and ``str.format``.

Each conversion measures the value first (a bounded walk with a character estimate), so a
huge or self-containing value is refused before C code builds its text.
"""

from __future__ import annotations

import re
import string

from .errors import fail, limit, refuse
from .values import agent_text_class, agent_type_class, tname

SPEC_RE = re.compile(
    r"^(?:(?P<fill>.)?(?P<align>[<>=^]))?(?P<sign>[-+ ])?z?#?0?(?P<width>\d+)?[,_]?"
    r"(?:\.(?P<prec>\d+))?(?P<type>[bcdeEfFgGnosxX%])?$", re.DOTALL)


class FormattingMixin:
    """Text conversions of the evaluator (``self.budget`` and ``self.limits`` come from it)."""

    # ----------------------------------------------------------- conversions
    def to_str(self, value, conversion="s"):
        AgentType = agent_type_class()
        t = type(value)
        if conversion == "s" and t is str:
            return value
        if conversion == "s" and isinstance(value, AgentType):
            out = value.to_string()
            return out if type(out) is str else str.__str__(out)
        if t is int:
            self.budget.check_int_bits(value.bit_length(), "the text of an integer")
        self.budget.measure(value, "converting a value to text", chars=True,
                            escapes=conversion != "s")
        if conversion == "s":
            out = str(value)
        elif conversion == "r":
            out = repr(value)
        else:
            out = ascii(value)
        self.budget.check_str_len(len(out), "the text of a value")
        return out

    def format_value(self, value, spec):
        if spec == "":
            return self.to_str(value)
        m = SPEC_RE.match(spec)
        if not m:
            refuse(f"the format spec {spec!r} is not allowed (use simple specs like '>10', "
                   "'.2f', ',d')", "format spec")
        for group in ("width", "prec"):
            n = m.group(group)
            if n is not None and (len(n) > 6 or int(n) > self.limits.max_format_width):
                limit(f"the format spec {spec!r} asks for a {group} over "
                      f"{self.limits.max_format_width}", "format spec")
        t = type(value)
        AgentText = agent_text_class()
        if t is AgentText:
            value, t = str.__str__(value), str
        if t not in (str, int, float, bool, type(None)):
            refuse(f"format specs only apply to str and numbers, not {tname(value)}",
                   "format spec")
        if t is int:
            self.budget.check_int_bits(value.bit_length(), "the text of an integer")
        if t is str:
            self.budget.check_str_len(len(value) + self.limits.max_format_width,
                                      "a formatted text")
        out = format(value, spec)
        self.budget.check_str_len(len(out), "a formatted text")
        return out

    def safe_format(self, template, args, kwargs):
        """``str.format`` without attribute/index lookups or nested fields."""
        try:
            parsed = list(string.Formatter().parse(template))
        except ValueError as e:
            fail(f"bad format string: {e}", "str.format")
        parts = []
        total = 0
        auto = 0
        manual = False
        for literal, field, spec, conv in parsed:
            parts.append(literal)
            total += len(literal)
            if field is None:
                continue
            if "." in field or "[" in field:
                refuse(f"format fields with attribute or index access ({{{field}}}) are not "
                       "allowed", "str.format field")
            if spec and ("{" in spec or "}" in spec):
                refuse("nested fields in format specs are not allowed in str.format",
                       "str.format spec")
            if conv not in (None, "s", "r", "a"):
                refuse(f"unknown conversion !{conv}", "str.format")
            if field == "":
                if manual:
                    fail("cannot switch from manual field numbering to automatic", "str.format")
                if auto >= len(args):
                    fail(f"str.format needs more than {len(args)} positional arguments",
                         "str.format")
                value = args[auto]
                auto += 1
            elif field.isdigit():
                manual = True
                i = int(field)
                if i >= len(args):
                    fail(f"str.format has no positional argument {i}", "str.format")
                value = args[i]
            else:
                if field not in kwargs:
                    fail(f"str.format has no keyword argument '{field}'", "str.format")
                value = kwargs[field]
            if conv is not None:
                value = self.to_str(value, conv)
            piece = self.format_value(value, spec or "")
            total += len(piece)
            self.budget.check_str_len(total, "a formatted text")
            parts.append(piece)
            self.budget.tick()
        return "".join(parts)

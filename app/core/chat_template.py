"""A model file's chat template, rendered within a budget of time and text.

The template is Jinja code written by whoever made the file. Jinja's sandbox keeps it
from reaching Python objects but not from running for ever (two nested loops over
range(99999)) or from building gigabytes ('x' * 10**9). So:

- the render runs on the calling thread under a tracer that is active only in the
  template's own compiled frames (code named "<template>") and raises once the
  deadline passes; everything else the thread runs is not traced;
- repetition, concatenation, %-formatting, calls and filters refuse to build text
  past the size budget before they build it, and the output is counted as it comes.

The environment matches llama-cpp-python's Jinja2ChatFormatter (itself transformers'):
trim_blocks, lstrip_blocks, loop controls, {% generation %} passed through, and a
tojson that keeps non-ASCII text.
"""

from __future__ import annotations

import functools
import json
import re
import sys
import threading
import time
from datetime import datetime
from typing import ClassVar

import jinja2
import jinja2.ext
from jinja2.nodes import EvalContext
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter

RENDER_SECONDS = 2.0
MAX_TEMPLATE_CHARS = 256 << 10  # real templates are a few kilobytes, tool-use ones tens
# Output allowed beyond the conversation's own text: a template adds role markers and
# perhaps a tool list, never megabytes.
EXTRA_CHARS = 4 << 20
_TEMPLATE_FILE = "<template>"

# A width or precision of seven digits or more in a %-format, or in a {} field's spec.
_HUGE_FORMAT = re.compile(r"%(\([^)]*\))?[^a-zA-Z%]*\d{7}")
_HUGE_SPEC = re.compile(r"\d{7}")


class TemplateProblem(Exception):
    """The template cannot be used: `kind` is "slow", "large" or "error"."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


class _OutOfTime(BaseException):
    """Raised inside the template's frames. Not an Exception: nothing on the way out
    may swallow it (tracing is already off for the thread once a tracer raises)."""


class _TooLarge(Exception):
    """Raised before building text past the budget. An Exception, so Jinja's constant
    folding at compile time simply leaves such an expression to run time."""


_budget = threading.local()


def _limit() -> int:
    return getattr(_budget, "limit", EXTRA_CHARS)


def _refuse(what: str) -> _TooLarge:
    _budget.large = True
    return _TooLarge(what)


def _size(value, depth: int = 0) -> int:
    """Characters `value` stands for: a string's length, or a sequence's items summed."""
    if isinstance(value, (str, bytes)):
        return len(value)
    if isinstance(value, (list, tuple)) and depth < 2:
        total = len(value)
        for item in value:
            total += _size(item, depth + 1)
            if total > _limit():
                break
        return total
    return 0


def _check_args(args, kwargs) -> None:
    limit = _limit()
    for a in (*args, *kwargs.values()):
        if isinstance(a, int) and not isinstance(a, bool) and abs(a) > limit:
            raise _refuse(f"a count of {a}")
        if _size(a) > limit:
            raise _refuse("an argument over the size budget")


def _check_growth(name: str, target, args) -> None:
    """Calls whose output can be far larger than their inputs."""
    if not isinstance(target, str):
        if name == "join" and isinstance(target, (list, tuple)) and args and isinstance(args[0], str):
            # sep.join is checked as a method below; |join(sep) has the list first
            grown = _size(target) + len(args[0]) * len(target)
        else:
            return
    elif name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        hits = target.count(args[0]) if args[0] else len(target) + 1
        grown = len(target) + hits * max(len(args[1]) - len(args[0]), 0)
    elif name == "indent" and args and isinstance(args[0], (int, str)):
        width = args[0] if isinstance(args[0], int) else len(args[0])
        grown = len(target) + (target.count("\n") + 1) * width
    elif name == "expandtabs" and args and isinstance(args[0], int):
        grown = len(target) + target.count("\t") * args[0]
    elif name == "join" and args:
        grown = _size(args[0]) + len(target) * (len(args[0]) if hasattr(args[0], "__len__") else 0)
    elif name == "format" and _HUGE_FORMAT.search(target):  # the |format filter: %-style
        raise _refuse("a format with a huge width")
    else:
        return
    if grown > _limit():
        raise _refuse(f"{name} would build {grown} characters")


def _guard(name: str, func):
    @functools.wraps(func)  # keeps jinja_pass_arg, so context-taking filters still get it
    def guarded(*args, **kwargs):
        _check_args(args, kwargs)
        plain = [a for a in args if not isinstance(a, (Context, EvalContext, jinja2.Environment))]
        if plain:
            _check_growth(name, plain[0], plain[1:])
        return func(*args, **kwargs)

    return guarded


def _bounded_join(seq) -> str:
    parts = [str(x) for x in seq]
    if sum(map(len, parts)) > _limit():
        raise _refuse("a concatenation over the size budget")
    return "".join(parts)


class _GenerationTag(jinja2.ext.Extension):
    """transformers' {% generation %}...{% endgeneration %}: only marks text, renders it as is."""

    tags: ClassVar[set[str]] = {"generation"}

    def parse(self, parser):
        parser.stream.skip(1)
        return parser.parse_statements(("name:endgeneration",), drop_needle=True)


def _tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False) -> str:
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


def _raise_exception(message: str):
    raise ValueError(message)


class _Formatter(SandboxedFormatter):
    """str.format in templates: a field's spec ("{:>1000000000}", nested fields filled
    in) is checked before the field is padded out."""

    def format_field(self, value, format_spec: str):
        if _HUGE_SPEC.search(format_spec):
            raise _refuse("a format with a huge width")
        return super().format_field(value, format_spec)


class _Environment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self) -> None:
        super().__init__(loader=jinja2.BaseLoader(), trim_blocks=True, lstrip_blocks=True,
                         extensions=[_GenerationTag, jinja2.ext.loopcontrols])
        self.filters["tojson"] = _tojson
        self.filters = {name: _guard(name, f) for name, f in self.filters.items()}

    def call_binop(self, context, operator, left, right):
        limit = _limit()
        if operator in ("*", "**") and all(isinstance(v, int) for v in (left, right)):
            bits = left.bit_length() * (right if operator == "**" else 1) + right.bit_length()
            if bits > limit:
                raise _refuse(f"a number of {bits} bits")
        elif operator == "*":
            seq, n = (left, right) if isinstance(right, int) else (right, left)
            if isinstance(n, int) and _size(seq) * max(n, 0) > limit:
                raise _refuse("a repetition over the size budget")
        elif operator == "+":
            if _size(left) + _size(right) > limit:
                raise _refuse("a concatenation over the size budget")
        elif operator == "%" and isinstance(left, str):
            if _HUGE_FORMAT.search(left):
                raise _refuse("a format with a huge width")
            _check_args(right if isinstance(right, tuple) else (right,), {})
        return super().call_binop(context, operator, left, right)

    def wrap_str_format(self, value):
        # Jinja's own wrapper, with _Formatter in place of SandboxedFormatter.
        if super().wrap_str_format(value) is None:
            return None
        text, is_map, formatter = value.__self__, value.__name__ == "format_map", _Formatter(self)

        def wrapper(*args, **kwargs):
            if is_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                args, kwargs = (), args[0]
            return str(formatter.vformat(text, args, kwargs))

        return functools.update_wrapper(wrapper, value)

    def call(self, context, obj, /, *args, **kwargs):
        _check_args(args, kwargs)
        target = getattr(obj, "__self__", None)
        if isinstance(target, str):
            _check_growth(getattr(obj, "__name__", ""), target, args)
        return super().call(context, obj, *args, **kwargs)


class ChatTemplate:
    """A compiled chat template. Raises TemplateProblem("error") if it does not compile."""

    def __init__(self, source: str, bos_token: str = "", eos_token: str = "") -> None:
        if len(source) > MAX_TEMPLATE_CHARS:
            raise TemplateProblem("error", f"the template is {len(source):,} characters long")
        self.bos_token, self.eos_token = bos_token, eos_token
        try:
            self._template = _Environment().from_string(source)
        except Exception as exc:  # syntax errors, and recursion in a deeply nested one
            raise TemplateProblem("error", f"it does not compile: {exc}") from exc
        # `~` becomes a call to str_join in the compiled module: route it through the budget.
        module = self._template.root_render_func.__globals__
        module["str_join"] = module["markup_join"] = _bounded_join

    def render(self, messages: list[dict], seconds: float = RENDER_SECONDS) -> str:
        """The prompt text for `messages` (dicts with role and content), ending with the
        assistant's turn. Raises TemplateProblem when over time, over size, or failing."""
        content = sum(len(str(m.get("content", ""))) for m in messages)
        limit = EXTRA_CHARS + 2 * content
        variables = {"messages": messages, "bos_token": self.bos_token, "eos_token": self.eos_token,
                     "add_generation_prompt": True, "raise_exception": _raise_exception,
                     "strftime_now": _strftime_now, "functions": None, "function_call": None, "tools": None,
                     "tool_choice": None}
        deadline = time.monotonic() + seconds

        def in_template(frame, event, arg):
            if event == "line" and time.monotonic() > deadline:
                raise _OutOfTime
            return in_template

        def tracer(frame, event, arg):
            return in_template if frame.f_code.co_filename == _TEMPLATE_FILE else None

        saved = (getattr(_budget, "limit", None), getattr(_budget, "large", False))
        _budget.limit, _budget.large = limit, False
        previous = sys.gettrace()
        parts, total = [], 0
        sys.settrace(tracer)
        try:
            for piece in self._template.generate(**variables):
                total += len(piece)
                if total > limit:
                    raise _refuse("the output is over the size budget")
                parts.append(piece)
        except _OutOfTime:
            raise TemplateProblem("slow", f"it ran for over {seconds:g} s") from None
        except Exception as exc:
            if _budget.large:
                raise TemplateProblem("large", f"it built too much text ({exc})") from None
            raise TemplateProblem("error", f"{type(exc).__name__}: {exc}") from exc
        finally:
            sys.settrace(previous)
            _budget.limit, _budget.large = saved
        return "".join(parts)

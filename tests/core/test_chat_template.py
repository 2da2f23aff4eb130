"""A model's chat template is untrusted code: each render has a time and size budget, and a
template that runs over or fails gives way to the built-in format with a reason to show."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.core import chat_template, prompt
from app.core.chat_template import ChatTemplate, TemplateProblem
from app.core.prompt import PROBLEMS, PromptRenderer, render_builtin
from app.core.types import Message

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = [Message("system", "Be brief."), Message("user", "Hi <b>there</b>"), Message("assistant", "Hello."),
            Message("user", "And now?")]
NESTED_LOOP = "{% for a in range(99999) %}{% for b in range(99999) %}{% endfor %}{% endfor %}"
CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] | trim }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
# The shape of Phi-4-reasoning's template: {% generation %}, a system default, bos/eos.
PHI4_LIKE = (
    "{{ bos_token }}{% if messages[0]['role'] != 'system' %}<|im_start|>system<|im_sep|>default<|im_end|>{% endif %}"
    "{% for m in messages %}{% if m['role'] == 'assistant' %}<|im_start|>assistant<|im_sep|>"
    "{% generation %}{{ m['content'] }}{{ eos_token }}{% endgeneration %}"
    "{% else %}<|im_start|>{{ m['role'] }}<|im_sep|>{{ m['content'] }}<|im_end|>{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant<|im_sep|>{% endif %}"
    "{{ {'n': messages|length, 'u': 'ü'}|tojson }}{{ '%s/%d'|format('a', 1) }}{{ '{:>3}'.format('z') }}"
)


@pytest.fixture(autouse=True)
def forget_unusable(monkeypatch):
    monkeypatch.setattr(prompt, "_unusable", {})


def run_child(code: str) -> subprocess.CompletedProcess:
    """Python in a child with 1 GB of address space: a hang meets the timeout, a runaway
    allocation a MemoryError, and neither touches the test process."""
    limited = "import resource; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30)); "
    return subprocess.run([sys.executable, "-c", limited + code], cwd=ROOT, env=dict(os.environ),
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("template", [CHATML, PHI4_LIKE], ids=["chatml", "phi4-like"])
def test_a_working_template_renders_as_llama_cpp_python_does(template):
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    renderer = PromptRenderer(template, "<s>", "</s>")
    rendered = renderer.render(MESSAGES)
    theirs = Jinja2ChatFormatter(template, "</s>", "<s>")(
        messages=[{"role": m.role, "content": m.content} for m in MESSAGES]).prompt
    assert rendered.template == "gguf" and rendered.text == theirs
    assert "Hi <b>there</b>" in rendered.text  # the conversation's own text, untouched
    assert renderer.template_problem is None


def test_a_nested_loop_template_is_abandoned_and_remembered(monkeypatch):
    code = (f"from app.core.prompt import PromptRenderer; from app.core.types import Message; "
            f"r = PromptRenderer({NESTED_LOOP!r}); p = r.render([Message('user', 'hi')]); "
            f"print(p.template); print(r.template_problem)")
    done = run_child(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["builtin", PROBLEMS["slow"]]
    # In this process, with a short budget: after the first overrun the template is not run
    # again, by this renderer or by the next one made for the same template (a reload).
    monkeypatch.setattr(chat_template, "RENDER_SECONDS", 0.05)
    runs = []
    real = ChatTemplate.render
    monkeypatch.setattr(ChatTemplate, "render", lambda self, *a, **k: runs.append(1) or real(self, *a, **k))
    renderer = PromptRenderer(NESTED_LOOP)
    assert renderer.template_problem == PROBLEMS["slow"]
    assert len(runs) == 1  # the probe at load
    for _ in range(3):  # the context meter counting, then a send
        rendered = renderer.render(MESSAGES)
        assert rendered.template == "builtin" and rendered.text == render_builtin(MESSAGES)
    again = PromptRenderer(NESTED_LOOP)
    assert again.template_problem == PROBLEMS["slow"] and again.render(MESSAGES).template == "builtin"
    assert len(runs) == 1


@pytest.mark.parametrize(
    "template",
    [
        "{{ 'x' * 10**9 }}",
        "{{ 'x' * 1000000000 }}",
        "{% for i in range(99999) %}{{ range(99999)|join }}{% endfor %}",
        "{{ 'x'|center(1000000000) }}",
        "{{ '%1000000000s'|format('x') }}",
        "{{ '{:>1000000000}'.format('x') }}",
        "{{ 'x'.ljust(1000000000) }}",
        "{% set s = 'a' * 1000000 %}{{ s|replace('a', 'b' * 100) }}",
        "{% set s = '\n' * 1000000 %}{{ s|indent(1000) }}",
        "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
        "{{ (['x' * 1000000] * 1000)|join }}",
        "{{ 2 ** 10000000000 }}",
    ],
)
def test_a_template_that_builds_huge_text_is_refused_before_building_it(template):
    code = (f"import json; from app.core.prompt import PromptRenderer; from app.core.types import Message; "
            f"r = PromptRenderer({template!r}); p = r.render([Message('user', 'hi')]); "
            f"print(json.dumps([p.template, r.template_problem]))")
    done = run_child(code)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["builtin", PROBLEMS["large"]]


@pytest.mark.parametrize(
    "template, kind",
    [
        ("{{ raise_exception('Only user and assistant roles are supported') }}", "error"),
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "error"),
        ("{% for m in messages %}", "error"),  # does not compile
        ("{{ x }}" * (chat_template.MAX_TEMPLATE_CHARS // 7 + 1), "error"),
    ],
    ids=["raises", "recursion", "syntax", "too-long"],
)
def test_a_failing_template_falls_back_with_a_reason(template, kind):
    renderer = PromptRenderer(template)
    assert renderer.template_problem == PROBLEMS[kind]
    assert renderer.render(MESSAGES).text == render_builtin(MESSAGES)


def test_a_template_failing_only_for_some_conversations_falls_back_from_then_on():
    template = "{% if messages|length > 1 %}{{ raise_exception('no') }}{% endif %}" + CHATML
    renderer = PromptRenderer(template)
    assert renderer.template_problem is None
    assert renderer.render(MESSAGES[1:2]).template == "gguf"
    assert renderer.render(MESSAGES).template == "builtin"
    assert renderer.template_problem == PROBLEMS["error"]
    assert renderer.render(MESSAGES[1:2]).template == "builtin"


def test_a_long_conversation_is_not_mistaken_for_a_runaway_template():
    big = [Message("user", "word " * 2_000_000)]  # 10 MB: over the fixed allowance, not over the budget
    renderer = PromptRenderer(CHATML)
    assert renderer.render(big).template == "gguf" and renderer.template_problem is None


def test_the_render_leaves_the_threads_tracer_as_it_was():
    seen = []

    def tracer(frame, event, arg):
        seen.append(event)

    sys.settrace(tracer)
    try:
        with pytest.raises(TemplateProblem):
            ChatTemplate(NESTED_LOOP).render([], seconds=0.01)
        ChatTemplate(CHATML).render([])
        assert sys.gettrace() is tracer
    finally:
        sys.settrace(None)

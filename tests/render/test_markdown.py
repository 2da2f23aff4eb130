"""render_markdown: the HTML's structure for QTextDocument, code blocks, safety, themes."""

from __future__ import annotations

import re

from app.render.markdown import render_markdown
from app.render.theme import DARK, LIGHT

CODE = "```python\ndef f(x):\n    return x + 1\n```\n"


def test_headings_lists_quotes_and_emphasis():
    html = render_markdown("## Title\n\n- one\n- two\n\n1. first\n\n> quoted *em* **strong** ~~gone~~\n").html
    assert "<h2>Title</h2>" in html
    assert html.count("<li>") == 3 and "<ul>" in html and "<ol>" in html
    assert "<blockquote" in html and "<em>em</em>" in html and "<strong>strong</strong>" in html
    assert "<s>gone</s>" in html


def test_table_gets_border_and_padding_attributes_and_cell_alignment():
    html = render_markdown("| a | b | c |\n|:--|--:|:-:|\n| 1 | 2 | 3 |\n").html
    assert '<table border="1" cellpadding="4" cellspacing="0"' in html
    assert '<th align="left">a</th>' in html and '<th align="right">b</th>' in html
    assert '<td align="center">3</td>' in html
    assert "text-align" not in html  # Qt ignores it on cells: moved into align=


def test_fenced_code_is_highlighted_with_inline_styles_and_has_a_copy_link():
    r = render_markdown("Intro\n\n" + CODE)
    assert r.code_blocks == ["def f(x):\n    return x + 1"]
    pre = re.search(r"<pre style=\"([^\"]*)\">(.*?)</pre>", r.html, re.S)
    assert pre and "background-color:" in pre[1]
    assert re.search(r'<span style="color: #[0-9A-Fa-f]{3,6}[^"]*">def</span>', pre[2])
    assert 'class="' not in r.html  # no style sheet classes: QTextDocument would not apply them
    # The Copy link comes just before the code.
    assert r.html.index('<a href="copy:0">Copy</a>') < r.html.index("<pre")


def test_copy_links_number_code_blocks_in_order_from_code_base():
    text = CODE + "\nbetween\n\n    indented code\n\n~~~\nplain\n~~~\n"
    r = render_markdown(text)
    assert r.code_blocks == ["def f(x):\n    return x + 1", "indented code", "plain"]
    assert [int(n) for n in re.findall(r'href="copy:(\d+)"', r.html)] == [0, 1, 2]
    shifted = render_markdown(text, code_base=5)
    assert [int(n) for n in re.findall(r'href="copy:(\d+)"', shifted.html)] == [5, 6, 7]
    assert shifted.code_blocks == r.code_blocks


def test_code_keeps_raw_text_for_copy_and_escapes_it_for_display():
    r = render_markdown('```\nif a < b && c > "d":\n\tpass\n```')
    assert r.code_blocks == ['if a < b && c > "d":\n\tpass']
    assert "a &lt; b &amp;&amp; c &gt;" in r.html
    assert "\t" not in r.html  # tabs expanded for display


def test_unknown_language_is_plain_but_still_a_code_block():
    r = render_markdown("```nosuchlang\nx = 1\n```")
    assert r.code_blocks == ["x = 1"] and "<pre" in r.html and "nosuchlang" in r.html


def test_inline_code_is_monospace_with_a_background():
    html = render_markdown("Use `a<b` here").html
    assert re.search(r'<code style="background-color:#[0-9a-f]{6}">a&lt;b</code>', html)


def test_raw_html_is_escaped_never_rendered():
    html = render_markdown('<script>alert(1)</script>\n\nHi <b onclick="x()">there</b>\n\n<img src=x>').html
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b " not in html and "&lt;b onclick=" in html
    assert "<img src=x" not in html


def test_only_web_links_and_images_become_links():
    # The view opens only http(s) links (after asking), so nothing else looks like one.
    html = render_markdown(
        "[a](https://example.org) [b](javascript:alert(1)) [c](file:///etc/passwd) [d](mailto:x@y.z) "
        "<mailto:x@y.z> <x@y.z> [e](data:text/html,x) ![pic](https://example.org/p.png)"
    ).html
    assert '<a href="https://example.org">a</a>' in html
    assert "javascript:" not in html.replace("[b](javascript:alert(1))", "")
    assert 'href="file:' not in html and 'href="javascript:' not in html
    assert 'href="mailto:' not in html and 'href="data:' not in html and "[d](mailto:x@y.z)" in html
    assert "<img" not in html and '<a href="https://example.org/p.png">pic</a>' in html


def test_light_and_dark_pick_different_code_and_text_colours():
    light, dark = render_markdown(CODE + "\n$x$"), render_markdown(CODE + "\n$x$", dark=True)
    assert LIGHT.code_bg in light.html and DARK.code_bg in dark.html
    assert LIGHT.code_bg not in dark.html
    # Math is drawn in the theme's text colour, so it is a different image.
    assert set(light.images).isdisjoint(dark.images)


def test_dollar_amounts_stay_text():
    r = render_markdown("It costs $5 and $10, or $ 3 $.")
    assert not r.images and "$5 and $10" in r.html

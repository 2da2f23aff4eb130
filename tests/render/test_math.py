"""Math: every syntax becomes a math: image, \\boxed gets a frame, bad TeX shows its source."""

from __future__ import annotations

import io
import re

import pytest

from app.render import math as rmath
from app.render.markdown import render_markdown

IMG = re.compile(r'<img src="math:([0-9a-f]+)" width="(\d+)" height="(\d+)"( style="vertical-align: middle")? />')


def images(html: str) -> list[tuple[str, int, int, bool]]:
    return [(k, int(w), int(h), bool(inline)) for k, w, h, inline in IMG.findall(html)]


def alpha(png: bytes):
    from matplotlib.image import imread

    return imread(io.BytesIO(png), format="png")[:, :, 3]


@pytest.mark.parametrize(
    ("text", "inline"),
    [
        ("The value $x^2$ here.", True),
        (r"The value \(x^2\) here.", True),
        ("The value $$x^2$$ here.", True),  # display math inside a line stays in the line
        (r"The value \[x^2\] here.", True),
        ("$$\nx^2\n$$", False),
        ("$$x^2$$", False),
        ("\\[\nx^2\n\\]", False),
        ("Text before\n\\[ x^2 \\]", False),
        (r"So $\boxed{42}$.", True),
        ("$$\n\\boxed{x = 3}\n$$", False),
    ],
)
def test_each_math_syntax_becomes_an_image(text, inline):
    r = render_markdown(text)
    found = images(r.html)
    assert len(found) == 1, r.html
    key, _, _, is_inline = found[0]
    assert is_inline == inline
    assert r.images[key].startswith(b"\x89PNG")
    assert "$" not in r.html and "\\[" not in r.html and "\\(" not in r.html
    if not inline:
        assert '<p align="center"><img' in r.html


def test_display_math_is_larger_than_inline():
    inline = images(render_markdown(r"$\frac{a}{b}$").html)[0]
    display = images(render_markdown("$$\n\\frac{a}{b}\n$$").html)[0]
    assert display[1] > inline[1]


def test_size_attributes_are_half_the_png_pixels():
    image = rmath.render_tex(r"\sum_{i=1}^n i", 15, "#000000")
    png_w, png_h = alpha(image.png).shape[::-1]
    assert (png_w, png_h) == (2 * image.width, 2 * image.height)


def test_boxed_draws_a_frame():
    def has_frame_column(png: bytes) -> bool:
        a = alpha(png)
        return bool(((a > 0.5).mean(axis=0) > 0.8).any())  # a column opaque nearly top to bottom

    plain = rmath.render_tex("42", 15, "#000000", display=True)
    boxed = rmath.render_tex(r"\boxed{42}", 15, "#000000", display=True)
    assert boxed.width > plain.width and boxed.height > plain.height
    assert has_frame_column(boxed.png) and not has_frame_column(plain.png)
    # Also inside a larger expression, and \fbox as a synonym.
    assert has_frame_column(rmath.render_tex(r"x = \boxed{\frac{1}{2}} + y", 15, "#000000", display=True).png)
    assert has_frame_column(rmath.render_tex(r"\fbox{7}", 15, "#000000", display=True).png)


@pytest.mark.parametrize("tex", [r"\frac{1}{", r"\nosuchcommand x", "}", "\\", r"\begin{pmatrix} a \end{pmatrix}", " "])
def test_bad_tex_gives_none_never_raises(tex):
    assert rmath.render_tex(tex, 15, "#000000") is None


def test_bad_tex_falls_back_to_monospace_source():
    r = render_markdown(r"Bad $\frac{1}{$ and fine $y$.")
    assert r"<code>$\frac{1}{$</code>" in r.html
    assert len(r.images) == 1  # only $y$
    block = render_markdown("$$\n\\nosuchcommand{x}\n$$").html
    assert "<pre" in block and "\\nosuchcommand{x}" in block and "<img" not in block


def test_unclosed_display_math_shows_its_source():
    html = render_markdown("$$\n\\frac{a}{b}").html
    assert "<img" not in html and "$$\n\\frac{a}{b}</pre>" in html


def test_common_latex_that_mathtext_lacks_still_renders():
    for tex in [r"a \le b \ge c", r"\tfrac{1}{2}", r"\displaystyle\sum\limits_{i}", r"\bigl( x \bigr)", r"p \implies q",
                r"x \equiv 1 \pmod{3}", r"\lvert x \rvert", r"\textbf{Answer: } 5",
                r"\begin{aligned} a &= b \\ &= c \end{aligned}", r"a = b \tag{1}"]:
        assert rmath.render_tex(tex, 15, "#000000", display=True) is not None, tex


def test_renders_are_cached_by_tex_size_colour_and_dpi():
    tex = r"\alpha + \beta = \gamma_{cache}"
    first = rmath.render_tex(tex, 15, "#123456")
    hits = rmath.cache_info().hits
    assert rmath.render_tex(tex, 15, "#123456") is first
    assert rmath.cache_info().hits == hits + 1
    other = [rmath.render_tex(tex, 16, "#123456"), rmath.render_tex(tex, 15, "#654321"),
             rmath.render_tex(tex, 15, "#123456", dpi=216)]
    assert len({first.key, *(o.key for o in other)}) == 4
    assert other[2].png != first.png and other[2].width == first.width


def test_same_math_twice_in_a_message_is_one_image():
    r = render_markdown("$x$ and $x$ again")
    assert len(r.images) == 1 and len(images(r.html)) == 2


def test_math_in_a_heading_is_set_at_the_heading_size():
    def height(html: str) -> int:
        return int(html.split('height="', 1)[1].split('"', 1)[0])

    body = render_markdown("The sum $n$ here.").html
    h2 = render_markdown("## The sum $n$ here").html
    h1 = render_markdown("# The sum $n$ here").html
    assert height(body) < height(h2) < height(h1)
    assert round(height(h2) / height(body), 1) in (1.4, 1.5, 1.6)
    after = render_markdown("## Title $n$\n\nBody $n$.").html
    assert height(after.split("Body", 1)[1]) == height(body)  # the size ends with the heading

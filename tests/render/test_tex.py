"""TeX reshaping for mathtext: boxes, rows and cells, commands it lacks."""

from __future__ import annotations

from app.render.tex import Segment, normalize, split_boxed, split_top, to_grid


def test_top_level_boxed_becomes_a_framed_segment():
    assert split_boxed(r"\boxed{42}") == (Segment("42", boxed=True),)
    assert split_boxed(r"x = \boxed{\frac{1}{2}} + y") == (
        Segment("x ={}"),
        Segment(r"\frac{1}{2}", boxed=True),
        Segment("{}+ y"),
    )


def test_nested_or_unclosed_boxed_loses_only_its_frame():
    assert split_boxed(r"\frac{\boxed{a}}{b}") == (Segment(r"\frac{{a}}{b}"),)
    assert split_boxed(r"\boxed{a") == (Segment("{a"),)


def test_split_top_ignores_separators_inside_braces_and_escapes():
    assert split_top(r"a & b \& c & {d & e}", "&") == ["a ", r" b \& c ", " {d & e}"]
    assert split_top(r"a \\ b {\\} c", "\\\\") == ["a ", r" b {\\} c"]


def test_aligned_environment_becomes_rows_of_cells():
    grid = to_grid(r"\begin{aligned} a &= b \\ &= c \\[2pt] d &\le e \end{aligned}", display=True)
    assert [len(row) for row in grid] == [2, 2, 2]
    assert grid[0][1] == (Segment("{}= b"),)
    assert grid[2][1] == (Segment(r"{}\leq e"),)


def test_display_sets_outer_fractions_full_size():
    assert to_grid(r"\frac{a}{\frac{b}{c}}", display=True)[0][0] == (Segment(r"\dfrac{a}{\frac{b}{c}}"),)
    assert to_grid(r"\frac{a}{b}", display=False)[0][0] == (Segment(r"\frac{a}{b}"),)


def test_normalize_maps_missing_commands():
    assert normalize(r"a \le b \ge c \left( x \right)") == r"a \leq b \geq c \left( x \right)"
    assert normalize(r"\bigl( \tfrac{1}{2} \bigr)") == r"( \frac{1}{2} )"
    assert normalize(r"x \pmod{3}") == r"x \;(\mathrm{mod}\;3)"
    assert normalize(r"\textbf{so} $5") == r"\text{so} \$5"


def test_normalize_joins_lines_and_drops_comments():
    assert normalize("a + b % the sum\n= c \\% d") == r"a + b  = c \% d"

"""TeX as models write it, reshaped for matplotlib's mathtext (a subset of LaTeX).

Pure string work: commands mathtext lacks become their nearest equivalent, aligned
environments and `\\\\` become rows of `&` cells, and `\\boxed{...}` becomes a segment
flagged for a frame (math.py draws it, as mathtext has no boxes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Commands mathtext does not know -> what it does know (or nothing: sizing hints).
_WORDS = {
    "le": r"\leq", "ge": r"\geq", "lt": "<", "gt": ">",
    "tfrac": r"\frac", "cfrac": r"\dfrac", "dbinom": r"\binom", "tbinom": r"\binom",
    "displaystyle": "", "textstyle": "", "limits": "", "nolimits": "", "middle": "",
    "notag": "", "nonumber": "",
    "lvert": "|", "rvert": "|", "lVert": r"\Vert", "rVert": r"\Vert",
    "lbrack": "[", "rbrack": "]",
    "implies": r"\Longrightarrow", "impliedby": r"\Longleftarrow", "iff": r"\Longleftrightarrow",
    "land": r"\wedge", "lor": r"\vee", "gets": r"\leftarrow", "square": r"\Box", "qed": r"\blacksquare",
    "dotsc": r"\ldots", "dotsb": r"\cdots", "dotsm": r"\cdots", "dotsi": r"\cdots", "dotso": r"\ldots",
    # Text-mode styles: \text keeps the spaces that math-mode styles would drop.
    "textbf": r"\text", "textit": r"\text", "textrm": r"\text", "textsf": r"\text",
    "texttt": r"\mathtt", "textnormal": r"\text", "mbox": r"\text", "hbox": r"\text", "emph": r"\text",
    "bm": r"\boldsymbol", "bmod": r"\;\mathrm{mod}\;", "mod": r"\;\mathrm{mod}\;",
    "coloneqq": ":=", "fbox": r"\boxed",
}
_WORD = re.compile(r"\\([a-zA-Z]+)")
_BIG = re.compile(r"\\[Bb]ig{1,2}[lrm]?(?![a-zA-Z])")  # \big( -> (: mathtext sizes only \left/\right
_WITH_ARG = [  # (pattern, replacement) for commands taking a simple {argument}
    (re.compile(r"\\pmod\s*\{([^{}]*)\}"), r"\\;(\\mathrm{mod}\\;\1)"),
    (re.compile(r"\\tag\*?\s*\{([^{}]*)\}"), r"\\qquad(\1)"),
    (re.compile(r"\\(?:label|color|hspace\*?|vspace\*?)\s*\{[^{}]*\}"), ""),
    (re.compile(r"\\textcolor\s*\{[^{}]*\}"), ""),
    (re.compile(r"\\xrightarrow\s*\{([^{}]*)\}"), r"\\overset{\1}{\\longrightarrow}"),
    (re.compile(r"\\xleftarrow\s*\{([^{}]*)\}"), r"\\overset{\1}{\\longleftarrow}"),
    (re.compile(r"\\stackrel(?![a-zA-Z])"), r"\\overset"),
    (re.compile(r"\\operatorname\*"), r"\\operatorname"),
]
# Environments that are just rows (and & columns) of ordinary math.
_ROW_ENVS = {"aligned", "align", "align*", "alignat", "alignat*", "gathered", "gather", "gather*",
             "split", "equation", "equation*", "multline", "multline*", "eqnarray", "eqnarray*"}
_ENV = re.compile(r"\s*\\begin\{([a-zA-Z]+\*?)\}(?:\{\d+\})?(.*)\\end\{\1\}\s*", re.DOTALL)
_ROW_SKIP = re.compile(r"^\s*\[[^\]]*\]")  # "\\[4pt]": extra row spacing, ignored
_BOXED = re.compile(r"\\boxed(?![a-zA-Z])")
_UNESCAPED_DOLLAR = re.compile(r"(?<!\\)\$")
_COMMENT = re.compile(r"(?<!\\)%.*")


@dataclass(frozen=True, slots=True)
class Segment:
    tex: str  # a complete mathtext expression, without the $ delimiters
    boxed: bool = False


Cell = tuple[Segment, ...]
Grid = tuple[tuple[Cell, ...], ...]  # rows of cells


def normalize(tex: str) -> str:
    # mathtext reads one line: drop % comments, then join the lines.
    tex = " ".join(_COMMENT.sub("", line) for line in tex.splitlines())
    tex = _BIG.sub("", tex)
    for pattern, repl in _WITH_ARG:
        tex = pattern.sub(repl, tex)
    tex = _WORD.sub(lambda m: _WORDS.get(m[1], m[0]), tex)
    # mathtext reads a bare $ as the end of math.
    return _UNESCAPED_DOLLAR.sub(r"\\$", tex).strip()


def split_top(tex: str, sep: str) -> list[str]:
    """Split at `sep` outside braces (escapes such as \\& or \\{ never split)."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(tex):
        if depth == 0 and tex.startswith(sep, i):
            parts.append(tex[start:i])
            i = start = i + len(sep)
            continue
        c = tex[i]
        if c == "\\":
            i += 2
            continue
        depth += (c == "{") - (c == "}")
        i += 1
    parts.append(tex[start:])
    return parts


def _group_end(tex: str, i: int) -> int:
    """Index just past the brace group opening at tex[i], or -1 if it never closes."""
    depth = 0
    while i < len(tex):
        c = tex[i]
        if c == "\\":
            i += 2
            continue
        depth += (c == "{") - (c == "}")
        i += 1
        if depth == 0:
            return i
    return -1


def split_boxed(tex: str) -> Cell:
    """Top-level \\boxed{X} become framed segments; nested or unclosed ones lose the frame."""
    out: list[Segment] = []
    depth, start, i = 0, 0, 0
    while i < len(tex):
        c = tex[i]
        m = _BOXED.match(tex, i) if c == "\\" and depth == 0 else None
        if m:
            j = m.end()
            while j < len(tex) and tex[j].isspace():
                j += 1
            end = _group_end(tex, j) if j < len(tex) and tex[j] == "{" else -1
            if end > 0:
                out.append(Segment(tex[start:i]))
                out.append(Segment(tex[j + 1 : end - 1], boxed=True))
                i = start = end
                continue
        if c == "\\":
            i += 2
            continue
        depth += (c == "{") - (c == "}")
        i += 1
    out.append(Segment(tex[start:]))
    segs = [Segment(_BOXED.sub("", s.tex).strip(), s.boxed) for s in out if s.tex.strip() or s.boxed]
    # "{}" on the side facing a box keeps "x = \boxed{1} + y" spaced as binary/relation.
    return tuple(
        s if s.boxed else Segment(
            ("{}" if k > 0 else "") + s.tex + ("{}" if k < len(segs) - 1 else "")
        )
        for k, s in enumerate(segs)
    )


def display_fracs(tex: str) -> str:
    """Top-level \\frac -> \\dfrac: display math sets its outer fractions full size."""
    parts, depth, i = [], 0, 0
    while i < len(tex):
        c = tex[i]
        if c == "\\":
            word = _WORD.match(tex, i)
            step = word.end() - i if word else 2
            parts.append(r"\dfrac" if depth == 0 and word and word[1] == "frac" else tex[i : i + step])
            i += step
            continue
        depth += (c == "{") - (c == "}")
        parts.append(c)
        i += 1
    return "".join(parts)


def to_grid(tex: str, display: bool) -> Grid:
    """Rows of `&`-separated cells of segments, ready for layout."""
    tex = normalize(tex)
    env = _ENV.fullmatch(tex)
    if env and env[1] in _ROW_ENVS:
        tex = env[2]
    rows = []
    for n, row in enumerate(split_top(tex, "\\\\")):
        row = _ROW_SKIP.sub("", row, count=1) if n else row
        if not row.strip():
            continue
        cells = split_top(row, "&")
        # "{}" before a cell's leading relation gives it the spacing it has after a symbol.
        cells = [cells[0], *("{}" + c for c in cells[1:])]
        row_cells = (split_boxed(c) for c in cells)
        if display:
            row_cells = (tuple(Segment(display_fracs(s.tex), s.boxed) for s in c) for c in row_cells)
        rows.append(tuple(row_cells))
    return tuple(rows)

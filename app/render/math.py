"""LaTeX to PNG with matplotlib's mathtext: no TeX installation needed.

Each expression is laid out as rows of cells of segments (see tex.py); every segment
is one mathtext string drawn on a Figure with the Agg canvas (never pyplot, which
would pick a GUI backend), and `\\boxed` segments get a drawn frame.

Sizes are device-independent pixels: 1 pt at 72 dpi is 1 px, so the font size in
points equals the size in px, and rendering at `dpi` = 72 * scale gives a PNG `scale`
times larger than the `width`/`height` the HTML asks for (crisp on HiDPI screens).
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import math
import struct
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from app.render.tex import Grid, to_grid

log = logging.getLogger(__name__)

# Of mathtext's font sets, DejaVu Serif sets superscripts and primes tightest ("cm" and
# "stix" leave gaps in x^2 or f'(x)).
FONTSET = "dejavuserif"
DEFAULT_DPI = 144  # 2x: the PNG has twice the pixels of the size it is shown at
_PAD = 0.25  # frame padding around a \boxed segment, in em
_GAP = 0.15  # between the segments of a cell, in em
_ROW_GAP = 0.45  # between rows, in em
_COL_GAP = 1.0  # between aligned column pairs, in em
_MARGIN = 1.0  # px around everything, so antialiased edges are not clipped
# Inline images are aligned `vertical-align: middle`, which Qt (QTextDocumentLayout)
# centres a quarter x-height above the text baseline. Padding the image so its centre
# sits there puts the math baseline on the text baseline. x-height ~ 0.5 em.
_MIDDLE_ABOVE_BASELINE = 0.125
# mathtext's parser and font caches are not thread-safe.
_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class MathImage:
    key: str  # names the image in the HTML: <img src="math:KEY">
    png: bytes
    width: int  # device-independent px to show it at (the PNG is dpi/72 times larger)
    height: int


@dataclass(slots=True)
class _Item:  # one measured segment, in px (pt at 72 dpi)
    tex: str
    boxed: bool
    width: float
    ascent: float
    descent: float
    x: float = 0.0
    baseline: float = 0.0  # from the top


# matplotlib is not thread-safe; the lock lets warm_up() run on a helper thread.
_LOCK = threading.Lock()


def render_tex(tex: str, size: float, color: str, *, display: bool = False, dpi: int = DEFAULT_DPI) -> MathImage | None:
    """PNG of `tex` at font size `size` px, or None if mathtext cannot typeset it."""
    args = formula_key(tex, size, color, display=display, dpi=dpi)
    with _LOCK:
        image = _render(*args)
    with _done_lock:
        _done[args] = image
        if len(_done) > 4096:
            _done.pop(next(iter(_done)))
    return image


PENDING = object()  # render_tex_later's answer for a formula still being typeset


def render_tex_later(tex: str, size: float, color: str, notify: Callable[[], None], *,
                     display: bool = False, dpi: int = DEFAULT_DPI) -> MathImage | None | object:
    """The image if this formula was typeset before; otherwise PENDING, and `notify()`
    is called (on the typesetting thread) once it is ready.

    A new formula costs 5-20 ms of mathtext; done here, a window that shows a reply
    never waits for it: the view shows the source until the image arrives.
    """
    args = formula_key(tex, size, color, display=display, dpi=dpi)
    with _done_lock:
        if args in _done:
            return _done[args]
        waiting = _waiting.get(args)
        listeners = _waiting.setdefault(args, [])
        # A view renders a block again at every token while it streams: one call per
        # listener, or a formula would wake the view once per render that saw it pending.
        if notify not in listeners:
            listeners.append(notify)
    if waiting is None:
        _executor().submit(_typeset, args)
    return PENDING


def formula_key(tex: str, size: float, color: str, *, display: bool = False, dpi: int = DEFAULT_DPI) -> tuple:
    """What names a formula's image among those typeset (see any_ready)."""
    return tex.strip(), float(size), color, int(dpi), bool(display)


def any_ready(keys) -> bool:
    """Whether any of these formulas (formula_key) has been typeset since it was asked for."""
    with _done_lock:
        return any(key in _done for key in keys)


def wait_idle(timeout: float = 30.0) -> bool:
    """Block until no formula is waiting (for screenshots and tests); False on timeout."""
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with _done_lock:
            if not _waiting:
                return True
        time.sleep(0.005)
    return False


_done: dict[tuple, MathImage | None] = {}  # formulas typeset so far, oldest first
_waiting: dict[tuple, list[Callable[[], None]]] = {}  # formulas queued, and who to tell
_done_lock = threading.Lock()


@functools.cache
def _executor() -> ThreadPoolExecutor:
    # One thread: mathtext runs under a lock anyway, and a queue keeps formulas in the
    # order a reply wrote them.
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="typeset")


def _typeset(args: tuple) -> None:
    tex, size, color, dpi, display = args
    try:
        render_tex(tex, size, color, display=display, dpi=dpi)
    except Exception:  # never lose the listeners: they fall back to the source
        log.exception("typesetting failed")
        with _done_lock:
            _done[args] = None
    with _done_lock:
        listeners = _waiting.pop(args, [])
    for notify in listeners:
        try:
            notify()
        except RuntimeError:  # the view that asked was closed meanwhile
            log.debug("math listener gone", exc_info=True)
        except Exception:
            log.exception("math listener failed")


def warm_up() -> None:
    """Import matplotlib and typeset once (~0.4 s), so the first formula in an answer
    does not freeze the window. Meant for a background thread at start-up. Both the
    text and the display sizes are set once: mathtext builds its font caches per size.

    Then what start-up has loaded (Qt's bindings, matplotlib, Pygments: ~100,000
    objects that live as long as the process) is frozen out of the garbage collector's
    reach: a full collection that walks it takes 50-150 ms on a 2-core machine, and
    parsing long answers sets one off every few seconds, each a visible stall."""
    import gc

    from app.render import theme

    for display in (False, True):
        size = theme.DEFAULT_TEXT_PX * (1.25 if display else 1.0)
        render_tex(r"\sum_{k=1}^{n} \frac{a_k}{2} = \sqrt{x^2}", size, "#000000", display=display)
    gc.freeze()


def cache_info():
    return _render.cache_info()


def image_key(tex: str, size: float, color: str, dpi: int, display: bool) -> str:
    return hashlib.sha1(repr((tex, size, color, dpi, display)).encode()).hexdigest()[:20]


@functools.lru_cache(maxsize=2048)
def _render(tex: str, size: float, color: str, dpi: int, display: bool) -> MathImage | None:
    if not tex:
        return None
    try:
        grid = to_grid(tex, display)
        if not grid:
            return None
        with _lock:
            png = _draw(grid, size, color, dpi, display)
    except Exception as exc:  # mathtext raises ValueError on bad TeX; no TeX may break a view
        log.debug("mathtext cannot render %r: %s", tex, exc)
        return None
    w, h = struct.unpack(">II", png[16:24])  # the PNG's IHDR chunk
    scale = dpi / 72
    return MathImage(image_key(tex, size, color, dpi, display), png, round(w / scale), round(h / scale))


@functools.cache
def _mathtext():
    # Imported on first use: matplotlib costs ~0.5 s to import, and many answers have no math.
    from matplotlib.font_manager import FontProperties
    from matplotlib.mathtext import MathTextParser

    return MathTextParser("path"), FontProperties


def _layout(grid: Grid, size: float, display: bool) -> tuple[list[_Item], float, float]:
    """Measure and place every segment; returns the items and the total width, height."""
    parser, font = _mathtext()
    prop = font(size=size, math_fontfamily=FONTSET)
    pad, gap = _PAD * size, _GAP * size
    rows: list[list[list[_Item]]] = []
    for row in grid:
        cells = []
        for cell in row:
            items = []
            for seg in cell:
                w = h = d = 0.0
                if seg.tex:
                    w, h, d, _, _ = parser.parse(f"${seg.tex}$", dpi=72, prop=prop)
                e = pad if seg.boxed else 0.0
                items.append(_Item(seg.tex, seg.boxed, w + 2 * e, h - d + e, d + e))
            cells.append(items)
        rows.append(cells)
    ncols = max(len(r) for r in rows)
    cell_w = [[sum(i.width for i in c) + gap * max(len(c) - 1, 0) for c in r] for r in rows]
    col_w = [max((r[k] for r in cell_w if k < len(r)), default=0.0) for k in range(ncols)]
    # Aligned columns come in (right-aligned, left-aligned) pairs, like LaTeX's align.
    col_x = [_MARGIN + sum(col_w[:k]) + _COL_GAP * size * (k // 2) for k in range(ncols)]
    width = col_x[-1] + col_w[-1] + _MARGIN
    items, top = [], _MARGIN
    for r, cells in enumerate(rows):
        ascent = max((i.ascent for c in cells for i in c), default=0.0)
        descent = max((i.descent for c in cells for i in c), default=0.0)
        if not display and len(rows) == 1:
            # Pad so the image's centre is where Qt's "middle" puts it (see above).
            lift = ascent - descent - 2 * _MIDDLE_ABOVE_BASELINE * size
            ascent, descent = ascent - min(lift, 0.0), descent + max(lift, 0.0)
        for k, cell in enumerate(cells):
            if ncols == 1:
                x = col_x[k] + (col_w[k] - cell_w[r][k]) / 2
            else:
                x = col_x[k] + (col_w[k] - cell_w[r][k] if k % 2 == 0 else 0.0)
            for item in cell:
                item.x, item.baseline = x, top + ascent
                x += item.width + gap
                items.append(item)
        top += ascent + descent + (_ROW_GAP * size if r < len(rows) - 1 else 0.0)
    return items, width, top + _MARGIN


def _draw(grid: Grid, size: float, color: str, dpi: int, display: bool) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    _, font = _mathtext()
    prop = font(size=size, math_fontfamily=FONTSET)
    items, width, height = _layout(grid, size, display)
    # Whole px, so that the PNG is exactly dpi/72 times the size the HTML asks for.
    width, height = math.ceil(width), math.ceil(height)
    fig = Figure(figsize=(width / 72, height / 72), dpi=dpi)
    FigureCanvasAgg(fig)
    pad = _PAD * size
    for item in items:
        y = 1 - item.baseline / height  # figure fractions run bottom-up
        inset = pad if item.boxed else 0.0
        if item.tex:
            fig.text((item.x + inset) / width, y, f"${item.tex}$", fontproperties=prop, color=color)
        if item.boxed:
            frame = Rectangle(
                (item.x / width, 1 - (item.baseline + item.descent) / height),
                item.width / width,
                (item.ascent + item.descent) / height,
                transform=fig.transFigure,
                fill=False,
                edgecolor=color,
                linewidth=max(0.6, size / 20),
            )
            fig.add_artist(frame)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, transparent=True, metadata={"Software": None})
    return buf.getvalue()

"""Figures of a Report: cost per layer, a unit's receptive field, the volume diagram, a comparison.

matplotlib is an optional extra (``pip install 'convcalc[plot]'``) imported only here and only
when a figure is made. Figures are built on the Agg canvas directly (never pyplot), so nothing
opens a window and the caller's backend is left alone. Like every renderer, this module draws
the numbers a Report holds; it computes none of them.
"""
from __future__ import annotations

import math
import os
from fractions import Fraction

from ..errors import ConvcalcError
from ..rf import sees_nothing
from ..units import human_bytes, human_count, rf_text, shape_text

MISSING = "plotting needs matplotlib: pip install 'convcalc[plot]'"
EXTENSIONS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
KINDS = ("cost", "rf", "volumes", "compare")
COLOURS = {"params": "#4C72B0", "macs": "#DD8452", "memory": "#55A868", "field": "#E24A33", "grid": "#348ABD"}


# -- matplotlib, files ---------------------------------------------------------------------------------
def require_matplotlib():
    """The matplotlib module, or the one-line error naming the extra."""
    try:
        import matplotlib
    except ImportError:
        raise ConvcalcError(MISSING) from None
    return matplotlib


def new_figure(figsize, dpi: int = 100):
    """A Figure on the Agg canvas (headless)."""
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def output_format(path: str) -> str:
    """``png``, ``svg`` or ``pdf`` from the file's extension; a writable directory is required."""
    ext = os.path.splitext(str(path))[1].lower()
    if ext not in EXTENSIONS:
        raise ConvcalcError(f"cannot write {path}: unknown extension {ext or '(none)'!r}; "
                            f"use .png, .svg or .pdf")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ConvcalcError(f"cannot write {path}: no directory {folder}")
    if not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise ConvcalcError(f"cannot write {path}: permission denied")
    return EXTENSIONS[ext]


def save(fig, path: str, dpi=None) -> str:
    """Write ``fig`` as PNG, SVG or PDF by the extension of ``path``; returns the format."""
    fmt = output_format(path)
    try:
        fig.savefig(path, format=fmt, dpi=dpi, metadata=_metadata(fmt))
    except OSError as e:
        raise ConvcalcError(f"cannot write {path}: {e.strerror or e}") from None
    return fmt


def _metadata(fmt: str) -> dict:
    # No timestamps, so the same report gives the same file.
    return {"svg": {"Date": None}, "pdf": {"CreationDate": None}, "png": {"Software": "convcalc"}}[fmt]


def svg_text(fig) -> str:
    """The figure as an ``<svg>`` element to inline in HTML (no XML prolog, no DOCTYPE)."""
    import io

    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    start, end = text.find("<metadata>"), text.find("</metadata>")
    if 0 <= start < end:  # the RDF block names matplotlib's web site; a page needs none of it
        text = text[:start] + text[end + len("</metadata>"):]
    return text


def png_size(path: str) -> tuple:
    """(width, height) in pixels of a PNG file, read from its header."""
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        raise ConvcalcError(f"{path} is not a PNG file")
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def _numeric(report) -> None:
    if report.symbolic:
        raise ConvcalcError("plots need numbers: give --input with sizes (e.g. 3x224x224), not symbols")


def _count_axis(ax, fmt) -> None:
    from matplotlib.ticker import FuncFormatter

    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: fmt(int(v)) if v >= 1 else ("0" if v == 0 else "")))


def _bytes_axis(ax, top: int) -> None:
    """Ticks at round numbers of KiB / MiB / GiB (not 195 KiB, 391 KiB, ...)."""
    from matplotlib.ticker import FuncFormatter, Locator, MaxNLocator

    scale = next((s for s in (2**30, 2**20, 2**10) if top >= s), 1)
    inner = MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10])

    class Scaled(Locator):
        def __call__(self):
            return self.tick_values(*self.axis.get_view_interval())

        def tick_values(self, vmin, vmax):
            return [t * scale for t in inner.tick_values(vmin / scale, vmax / scale)]

    if ax.get_xscale() == "linear":
        ax.xaxis.set_major_locator(Scaled())
    else:  # powers of 16 bytes: 1 KiB, 16 KiB, 256 KiB, 4 MiB, ...
        from matplotlib.ticker import LogLocator, NullFormatter

        ax.xaxis.set_major_locator(LogLocator(base=16))
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: human_bytes(int(v)) if v >= 1 else
                                               ("0" if v == 0 else "")))


def _title(report) -> str:
    t = report.totals
    return (f"{report.model} · input {shape_text(report.input)} · batch {report.batch} · {report.dtype} · "
            f"params {human_count(t['params'])} · MACs {human_count(t['macs'])}")


# -- --kind cost ---------------------------------------------------------------------------------------
def cost_rows(report) -> list:
    """Rows worth a bar: those with parameters or MACs, or that change the shape (pooling,
    flatten). Activations, dropout and the like repeat their input's numbers and are left out."""
    keep = [r for r in report.rows if r.params or r.macs or tuple(r.output) != tuple(r.input)]
    return keep or list(report.rows)


MAX_BARS = 60  # a cost plot with more rows is collapsed by name depth until it has at most this many


def readable_depth(report, limit: int = MAX_BARS):
    """The deepest ``--depth`` whose cost plot has at most ``limit`` bars (None: no collapse needed)."""
    if len(cost_rows(report)) <= limit:
        return None
    deepest = max((r.name.count(".") + 1 for r in report.rows), default=1)
    for depth in range(deepest, 0, -1):
        if len(cost_rows(report.collapse(depth))) <= limit:
            return depth
    return 1


def cost_figure(report, log: bool = False, figsize=None, dpi: int = 100):
    """Three bar charts sharing the layer axis: parameters, MACs and activation memory. More than
    ``MAX_BARS`` bars are collapsed by name depth (as ``--depth``) so every label stays readable."""
    _numeric(report)
    depth = readable_depth(report)
    if depth is not None:
        report = report.collapse(depth)
    rows = cost_rows(report)
    n = len(rows)
    fig = new_figure(figsize or (13, max(3.2, 1.3 + 0.26 * n)), dpi)
    axes = fig.subplots(1, 3, sharey=True)
    ys = list(range(n))
    series = [
        ("Parameters", "params", [int(r.params) for r in rows], human_count),
        ("MACs", "macs", [int(r.macs) for r in rows], human_count),
        (f"Activation memory ({report.dtype}, batch {report.batch})", "memory",
         [int(r.activation_bytes) for r in rows], human_bytes),
    ]
    for ax, (title, key, values, fmt) in zip(axes, series):
        ax.barh(ys, values, height=0.72, color=COLOURS[key], label=title)
        ax.set_title(title, fontsize=10)
        if log:
            ax.set_xscale("log")
        if key == "memory":
            _bytes_axis(ax, max(values) if values else 0)
        else:
            _count_axis(ax, fmt)
        ax.grid(axis="x", alpha=0.3)
        ax.set_axisbelow(True)
        top = max(values) if any(values) else 1
        ax.set_xlim(right=top * (4 if log else 1.28))
        if log:
            ax.set_xlim(left=max(1, min((v for v in values if v), default=1)) / 2)
        for y, v in zip(ys, values):
            if v:
                ax.text(v, y, " " + fmt(v), va="center", ha="left", fontsize=7)
        ax.tick_params(axis="x", labelsize=8)
    axes[0].set_yticks(ys)
    axes[0].set_yticklabels([r.name for r in rows], fontsize=8)
    axes[0].invert_yaxis()
    fig.suptitle(_title(report) + (" · log scale" if log else "")
                 + (f" · collapsed to depth {depth}" if depth is not None else ""), fontsize=11)
    return fig


# -- --kind rf -----------------------------------------------------------------------------------------
def rf_row(report, layer=None):
    """The row whose unit is drawn: ``layer`` by name, or the last layer that still has a spatial map."""
    if layer is not None:
        try:
            row = report.row(layer)
        except KeyError:
            import difflib

            close = difflib.get_close_matches(layer, [r.name for r in report.rows], n=3, cutoff=0.5)
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            raise ConvcalcError(f"no layer {layer!r} in {report.model}{hint}") from None
        if row.rf is None:
            raise ConvcalcError(f"{layer}: no receptive field (the input has no spatial axes)")
        return row
    for row in reversed(report.rows):
        if row.rf and not any(a.is_global for a in row.rf) and len(row.output) == len(report.input):
            return row
    raise ConvcalcError(f"{report.model}: no layer with a spatial output to draw")


def read_image(path: str):
    """An image array read by matplotlib (PNG natively, JPEG and others through Pillow)."""
    if not os.path.isfile(path):
        raise ConvcalcError(f"cannot read image {path}: no such file")
    require_matplotlib()
    import matplotlib.image as mpimg

    try:
        img = mpimg.imread(path)
    except Exception as e:  # Pillow and matplotlib raise many kinds
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConvcalcError(f"cannot read image {path}: {reason}") from None
    if getattr(img, "ndim", 0) not in (2, 3):
        raise ConvcalcError(f"cannot read image {path}: not a 2-D image")
    return img


def _f(x) -> float:
    return float(Fraction(x)) if isinstance(x, Fraction) else float(x)


def _num(x) -> str:
    x = _f(x)
    return str(int(x)) if x == int(x) else f"{x:g}"


def _input_background(ax, img, H: int, W: int) -> None:
    """The image stretched to the input, or a grey input with its pixel grid when pixels are big enough."""
    from matplotlib.patches import Rectangle

    if img is not None:
        ax.imshow(img, extent=(0, W, H, 0), interpolation="bilinear", zorder=0)
        return
    ax.add_patch(Rectangle((0, 0), W, H, facecolor="#f2f2f2", edgecolor="none", zorder=0))
    if max(H, W) <= 64:
        for x in range(W + 1):
            ax.plot([x, x], [0, H], color="#d0d0d0", lw=0.5, zorder=1)
        for y in range(H + 1):
            ax.plot([0, W], [y, y], color="#d0d0d0", lw=0.5, zorder=1)


def rf_figure(report, layer=None, image=None, figsize=None, dpi: int = 100):
    """The field of one unit of ``layer`` (default: the centre unit of the last spatial layer)
    as a square on the input grid, with every unit's centre (the jump grid) and the first
    unit's centre (the start). ``image`` (a path or an array) is shown stretched to the input."""
    _numeric(report)
    if len(report.input) != 3:
        raise ConvcalcError(f"--kind rf draws 2-D inputs (CxHxW); {report.model} has input "
                            f"{shape_text(report.input)}")
    row = rf_row(report, layer)
    if any(sees_nothing(a) for a in row.rf):
        raise ConvcalcError(f"{row.name}: every unit sees no input pixel (a stride keeps only a transposed "
                            "conv's gaps): no field to draw")
    img = read_image(image) if isinstance(image, (str, os.PathLike)) else image
    H, W = (int(d) for d in report.input[1:])
    ry, rx = row.rf
    whole = ry.is_global or rx.is_global
    if whole or len(row.output) != 3:
        Ho = Wo = 1
        i = j = 0
    else:
        Ho, Wo = int(row.output[1]), int(row.output[2])
        i, j = (Ho - 1) // 2, (Wo - 1) // 2
    cy = _f(ry.start) + (0 if whole else i * _f(ry.jump))
    cx = _f(rx.start) + (0 if whole else j * _f(rx.jump))
    sy, sx = _f(ry.size), _f(rx.size)

    from matplotlib.patches import FancyArrowPatch, Rectangle

    fig = new_figure(figsize or (8, 8), dpi)
    ax = fig.subplots()
    _input_background(ax, img, H, W)
    ax.add_patch(Rectangle((0, 0), W, H, fill=False, edgecolor="black", lw=1.2, zorder=2,
                           label=f"input {H}x{W}"))
    ax.add_patch(Rectangle((cx - sx / 2, cy - sy / 2), sx, sy, facecolor=COLOURS["field"], alpha=0.22,
                           edgecolor="none", zorder=3))
    ax.add_patch(Rectangle((cx - sx / 2, cy - sy / 2), sx, sy, fill=False, edgecolor=COLOURS["field"], lw=2,
                           zorder=4, label=f"field {_num(sy)}x{_num(sx)} px"))
    if not whole:
        jy, jx = _f(ry.jump), _f(rx.jump)
        ys = [_f(ry.start) + k * jy for k in range(Ho)]
        xs = [_f(rx.start) + k * jx for k in range(Wo)]
        step = max(1, math.ceil(max(Ho, Wo) / 80))  # keep the grid readable on big maps
        gx = [x for x in xs[::step] for _ in ys[::step]]
        gy = [y for _ in xs[::step] for y in ys[::step]]
        ms = max(1.5, min(5.0, 160 / max(Ho, Wo)))
        ax.plot(gx, gy, ".", color=COLOURS["grid"], ms=ms, zorder=5,
                label=f"unit centres (jump grid, {_num(jy)}x{_num(jx)} px)" + (f", every {step}th" if step > 1 else ""))
        ax.plot([_f(rx.start)], [_f(ry.start)], marker="s", ms=8, color="#8E44AD", ls="none", zorder=6,
                label=f"start: first unit's centre ({_num(ry.start)}, {_num(rx.start)})")
        if Wo > 1:
            nx = cx + jx if j + 1 < Wo else cx - jx
            ax.add_patch(FancyArrowPatch((cx, cy), (nx, cy), arrowstyle="-|>", mutation_scale=12,
                                         color="black", lw=1.2, zorder=7))
            ax.annotate(f"jump {_num(jx)}", ((cx + nx) / 2, cy), xytext=(0, 5), textcoords="offset points",
                        ha="center", va="bottom", fontsize=8, zorder=8)
    ax.plot([cx], [cy], marker="*", ms=14, color=COLOURS["field"], markeredgecolor="black", ls="none", zorder=7,
            label=f"this unit ({i}, {j}) of {Ho}x{Wo}, centre ({_num(cy)}, {_num(cx)})")
    pad = max(2.0, 0.04 * max(H, W))
    ax.set_xlim(min(0.0, cx - sx / 2) - pad, max(float(W), cx + sx / 2) + pad)
    ax.set_ylim(max(float(H), cy + sy / 2) + pad, min(0.0, cy - sy / 2) - pad)  # image rows go down
    ax.set_aspect("equal")
    ax.set_xlabel("x (input pixels)")
    ax.set_ylabel("y (input pixels)")
    notes = []
    if whole:
        notes.append("every unit sees the whole input")
    if not (ry.exact and rx.exact):
        notes.append("largest field (uneven adaptive pooling)")
    if ry.period > 1 or rx.period > 1:
        notes.append("average field (upsampled: fields repeat periodically)")
    title = (f"{report.model}: receptive field of {row.name} ({row.desc})\n"
             f"size/jump {rf_text(row.rf)}" + (f" · {'; '.join(notes)}" if notes else "")
             + (" · image stretched to the input" if img is not None else ""))
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(0, -0.08), fontsize=8, frameon=False, ncol=1)
    return fig


# -- --kind volumes ------------------------------------------------------------------------------------
def volume_items(report) -> list:
    """What the diagram draws: the input, each conv / pool output (and any other change of a
    spatial shape), then each fully connected layer. Dicts: name, desc, shape, kernel."""
    if any(r.merge for r in report.rows):
        raise ConvcalcError(f"--kind volumes draws sequential networks; {report.model} has branches "
                            f"(add/concat): try --kind cost")
    if len(report.input) != 3:
        raise ConvcalcError(f"--kind volumes draws 2-D networks (CxHxW input); {report.model} has input "
                            f"{shape_text(report.input)}")
    items = [{"name": "input", "desc": "", "shape": tuple(int(d) for d in report.input), "kernel": None}]
    for r in report.rows:
        kernel = getattr(r.layer, "kernel_size", None)
        shape = tuple(int(d) for d in r.output)
        if len(shape) == 3 and (kernel is not None or shape != items[-1]["shape"]):
            items.append({"name": r.name, "desc": r.desc, "shape": shape,
                          "kernel": tuple(kernel) if kernel is not None else None})
        elif len(shape) == 1 and r.macs:  # a fully connected layer
            items.append({"name": r.name, "desc": r.desc, "shape": shape, "kernel": None})
    return items


def _side(n: int) -> float:
    return max(0.5, 0.6 * math.sqrt(n))


def _depth(c: int) -> float:
    return 0.3 + 0.35 * math.log2(max(c, 1))


def volumes_figure(report, kernels: bool = True, figsize=None, dpi: int = 100):
    """Boxes in oblique perspective like the AlexNet paper's figure: height H, width W drawn
    receding, thickness growing with the channels C, sizes written on the edges."""
    _numeric(report)
    items = volume_items(report)
    from matplotlib.patches import Polygon

    ang = math.radians(40)
    gap = 1.6
    x = 0.0
    boxes = []
    for it in items:
        if len(it["shape"]) == 3:
            C, H, W = it["shape"]
            t, h, w = _depth(C), _side(H), _side(W)
        else:
            (N,) = it["shape"]
            t, h, w = 0.35, 0.55 * math.log2(N + 1), 0.35
        dx, dy = 0.5 * w * math.cos(ang), 0.5 * w * math.sin(ang)
        boxes.append({**it, "x": x, "t": t, "h": h, "dx": dx, "dy": dy})
        x += t + dx + gap + max(0.0, 1.4 - t)
    top = max(b["h"] / 2 + b["dy"] for b in boxes)
    low = -max(b["h"] / 2 for b in boxes) - 0.4
    xlim, ylim = (-1.2, x - gap + 1.2), (low - 2.6, top + 0.4)
    span_x, span_y = xlim[1] - xlim[0], ylim[1] - ylim[0]
    inch = min(0.42, 26.0 / span_x)  # inches per drawing unit: one scale for both axes
    fig = new_figure(figsize or (span_x * inch + 0.4, span_y * inch + 0.7), dpi)
    ax = fig.subplots()
    for k, b in enumerate(boxes):
        x0, t, h, dx, dy = b["x"], b["t"], b["h"], b["dx"], b["dy"]
        yb = -h / 2
        dense = len(b["shape"]) == 1
        colour = ("#F4D03F" if b["name"] == "input" else "#F5B7B1" if dense
                  else "#AED6F1" if "pool" not in b["desc"] else "#A9DFBF")
        front = [(x0, yb), (x0 + t, yb), (x0 + t, yb + h), (x0, yb + h)]
        top = [(x0, yb + h), (x0 + t, yb + h), (x0 + t + dx, yb + h + dy), (x0 + dx, yb + h + dy)]
        side = [(x0 + t, yb), (x0 + t + dx, yb + dy), (x0 + t + dx, yb + h + dy), (x0 + t, yb + h)]
        for poly, shade in ((front, 1.0), (top, 0.85), (side, 0.7)):
            ax.add_patch(Polygon(poly, closed=True, facecolor=_shade(colour, shade), edgecolor="#333333",
                                 lw=0.8, zorder=2 + 3 * k, gid=f"volume-{b['name']}"))
        z = 3 + 3 * k
        if dense:
            ax.text(x0 + t / 2, yb - 0.25, str(b["shape"][0]), ha="center", va="top", fontsize=8, zorder=z)
        else:
            C, H, W = b["shape"]
            ax.text(x0 - 0.12, yb + h / 2, str(H), ha="right", va="center", fontsize=8, zorder=z)
            ax.text(x0 + t + dx / 2 + 0.12, yb + dy / 2 - 0.05, str(W), ha="left", va="top", fontsize=8,
                    zorder=z)
            ax.text(x0 + t / 2, yb - 0.25, str(C), ha="center", va="top", fontsize=8, zorder=z)
        label = b["name"] + ("\n" + b["desc"] if b["desc"] else "")
        ax.text(x0 + (t + dx) / 2, low - 0.6 - (0.9 if k % 2 else 0), label, ha="center", va="top",
                fontsize=7, color="#222222", zorder=z)
        if kernels and b["kernel"] and k > 0 and len(boxes[k - 1]["shape"]) == 3:
            _kernel_window(ax, boxes[k - 1], b, z)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(_title(report), fontsize=10)
    return fig


def _kernel_window(ax, prev, cur, z) -> None:
    """The kernel as a small window on the previous volume's H x W face, with lines to the one
    unit it produces in the next volume."""
    from matplotlib.patches import Polygon

    _, Hp, Wp = prev["shape"]
    kh, kw = cur["kernel"][0], cur["kernel"][-1]
    x0, t, h, dx, dy = prev["x"], prev["t"], prev["h"], prev["dx"], prev["dy"]
    fh, fw = min(1.0, kh / Hp), min(1.0, kw / Wp)
    # window on the side face: rows from 55% of the height, columns from 30% of the depth
    u0, v0 = 0.3 * (1 - fw), 0.55 * (1 - fh)
    base = (x0 + t, -h / 2)

    def face(u, v):
        return base[0] + u * dx, base[1] + v * h + u * dy

    quad = [face(u0, v0), face(u0 + fw, v0), face(u0 + fw, v0 + fh), face(u0, v0 + fh)]
    ax.add_patch(Polygon(quad, closed=True, facecolor="#E74C3C", alpha=0.55, edgecolor="#922B21", lw=0.8,
                         zorder=z))
    # the unit it produces: on the next volume's front, at the same relative height
    xn, hn, dxn, dyn = cur["x"], cur["h"], cur["dx"], cur["dy"]
    target = (xn + 0.35 * dxn, -hn / 2 + (v0 + fh / 2) * hn + 0.35 * dyn)
    for p in quad:
        ax.plot([p[0], target[0]], [p[1], target[1]], color="#922B21", lw=0.6, zorder=z)
    kx = max(p[0] for p in quad)
    ky = max(p[1] for p in quad)
    ax.text(kx + 0.05, ky + 0.05, "x".join(str(k) for k in (kh, kw)), fontsize=6.5, color="#922B21",
            ha="left", va="bottom", zorder=z)


def _shade(colour: str, factor: float) -> tuple:
    from matplotlib.colors import to_rgb

    return tuple(min(1.0, c * factor) for c in to_rgb(colour))


# -- --kind compare ------------------------------------------------------------------------------------
PALETTE = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C", "#CCB974",
           "#64B5CD")


def family(name: str) -> str:
    """A model's family: the letters its name starts with (resnet50 -> resnet, vgg16_bn -> vgg)."""
    import re

    m = re.match(r"[A-Za-z]+", name)
    return m.group().lower() if m else name


def _human_axis(axis) -> None:
    """One unit system on a log axis: 1k, 10M, 1G at the decades, no 6x10^9 minor labels."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    axis.set_major_formatter(FuncFormatter(lambda v, _pos: human_count(int(round(v))) if v >= 1 else ""))
    axis.set_minor_formatter(NullFormatter())


def _place_labels(ax, points, texts, fontsize=8) -> list:
    """Annotations beside each point, each moved to the first of several offsets where its box
    overlaps no label placed before it (nor its own point's neighbours' labels)."""
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    offsets = [(6, 4), (6, -12), (-6, 4), (-6, -12), (6, 14), (6, -22), (-6, 14), (-6, -22), (14, 24),
               (14, -32), (-14, 24), (-14, -32)]
    from matplotlib.transforms import Bbox

    placed = []
    boxes = [Bbox.from_bounds(px - 5, py - 5, 10, 10) for px, py in ax.transData.transform(points)]  # the markers
    order = sorted(range(len(points)), key=lambda i: (points[i][1], points[i][0]))
    for i in order:
        (x, y), text = points[i], texts[i]
        chosen = None
        for dx, dy in offsets:
            ann = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=fontsize,
                              ha="left" if dx > 0 else "right",
                              arrowprops=dict(arrowstyle="-", lw=0.5, color="0.5") if abs(dy) > 12 else None)
            box = ann.get_window_extent(renderer).expanded(1.05, 1.1)
            if not any(box.overlaps(b) for b in boxes):
                chosen = ann
                break
            ann.remove()
        if chosen is None:  # every spot taken: the first one, drawn anyway
            chosen = ax.annotate(text, (x, y), xytext=offsets[0], textcoords="offset points", fontsize=fontsize)
            box = chosen.get_window_extent(renderer)
        boxes.append(box)
        placed.append(chosen)
    return placed


def compare_figure(reports, figsize=None, dpi: int = 100):
    """Several models: parameters against MACs, both on log scales in one unit system (1k, 1M, 1G),
    a colour per family, each point named by a label that overlaps no other."""
    if not reports:
        raise ConvcalcError("--kind compare needs at least one model")
    for r in reports:
        _numeric(r)
    fig = new_figure(figsize or (8, 6), dpi)
    ax = fig.subplots()
    xs = [int(r.totals["params"]) for r in reports]
    ys = [int(r.totals["macs"]) for r in reports]
    families = []
    for r in reports:
        if family(r.model) not in families:
            families.append(family(r.model))
    for n, fam in enumerate(families):
        idx = [i for i, r in enumerate(reports) if family(r.model) == fam]
        ax.scatter([xs[i] for i in idx], [ys[i] for i in idx], s=40, color=PALETTE[n % len(PALETTE)],
                   edgecolor="black", zorder=3, label=fam)
    ax.set_xscale("log")
    ax.set_yscale("log")
    _human_axis(ax.xaxis)
    _human_axis(ax.yaxis)
    lo_x, hi_x = min(xs), max(xs)
    lo_y, hi_y = min(ys), max(ys)
    ax.set_xlim(lo_x / 2, hi_x * 4)
    ax.set_ylim(lo_y / 2, hi_y * 2)
    ax.set_xlabel("parameters")
    ax.set_ylabel(f"MACs (batch {reports[0].batch})")
    ax.grid(True, which="major", alpha=0.3)
    ax.set_title("parameters vs MACs", fontsize=11)
    if len(families) > 1:
        ax.legend(fontsize=8, loc="upper left", title="family", title_fontsize=8)
    fig.canvas.draw()  # the layout, so label boxes are measured where they will be
    _place_labels(ax, list(zip(xs, ys)), [f"{r.model} ({shape_text(r.input)})" for r in reports])
    return fig


def sweep_figure(model: str, what: str, points, figsize=None, dpi: int = 100):
    """Params, MACs and activation memory against the swept input side or width multiplier."""
    fig = new_figure(figsize or (11, 3.6), dpi)
    from matplotlib.ticker import FuncFormatter

    axes = fig.subplots(1, 3)
    xs = [float(p.value) for p in points]
    series = [("Parameters", "params", [int(p.params) for p in points]),
              ("MACs", "macs", [int(p.macs) for p in points]),
              ("Activation memory", "memory", [int(p.activation_bytes) for p in points])]
    for ax, (title, key, values) in zip(axes, series):
        ax.plot(xs, values, marker="o", color=COLOURS[key])
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("input side" if what == "input" else "width multiplier")
        fmt = human_bytes if key == "memory" else human_count
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos, fmt=fmt: fmt(int(v)) if v >= 0 else ""))
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=8)
    fig.suptitle(f"{model} · sweep over the {'input size' if what == 'input' else 'width'}", fontsize=11)
    return fig


def figure(kind: str, reports, **options):
    """Dispatch on ``kind``: cost, rf, volumes (one report) or compare (several)."""
    if kind not in KINDS:
        raise ConvcalcError(f"unknown plot kind {kind!r}: expected one of {', '.join(KINDS)}")
    if kind == "compare":
        return compare_figure(reports, **options)
    if len(reports) != 1:
        raise ConvcalcError(f"--kind {kind} draws one model, got {len(reports)}; --kind compare takes several")
    return {"cost": cost_figure, "rf": rf_figure, "volumes": volumes_figure}[kind](reports[0], **options)

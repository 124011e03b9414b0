"""The one place rich consoles are made, and the layer table printed through them.

Piped output has a fixed width (so files and tests do not depend on the terminal) and no
colour; on a terminal rich takes the terminal's width and colours.
"""
from __future__ import annotations

import io
import sys

WIDE = 400       # layer, verify, list and rf tables when piped
SYMBOLIC = 160   # symbolic tables when piped (their formulas wrap)
CHECK = 120      # graded homework when piped
NOTEBOOK = 160   # str(report)
_CHUNK = 2000    # lines written at a time when a long table is streamed


def terminal_console(file=None, width: int = WIDE, soft_wrap: bool = False):
    """A console on ``file`` (stdout): ``width`` columns and no colour unless it is a terminal;
    ``soft_wrap`` when piped leaves long lines whole (the layer table)."""
    from rich.console import Console

    out = file if file is not None else sys.stdout
    tty = out.isatty()
    return Console(file=out, width=None if tty else width, no_color=not tty or None, highlight=False,
                   soft_wrap=soft_wrap and not tty)


def text_console(width: int = NOTEBOOK):
    """A console writing plain text (no colour, never a terminal) into a buffer: ``.file.getvalue()``."""
    from rich.console import Console

    return Console(file=io.StringIO(), width=width, no_color=True, highlight=False, force_terminal=False,
                   color_system=None)


def print_layer_table(console, report, layout: str = "chw", verified=None, bars: bool = False,
                      columns=None) -> None:
    """The layer table on ``console``. Without colour, and when it fits, the text is built once
    and streamed (rich's layout, without its per-row cost); otherwise rich prints it."""
    from .grid import lines
    from .table import layer_grid, layer_table

    if console.is_terminal and not console.record:  # a terminal: fit its width (render/fit.py)
        return print_fitted(console, report, layout, verified, bars, columns)
    print_plain_or_rich(console,
                        lambda: lines(layer_grid(report, layout, verified, bars, columns)[0], console.width,
                                      pad_title=not console.soft_wrap),
                        lambda: layer_table(report, layout, verified, bars=bars, columns=columns))


def print_plain_or_rich(console, plain, rich) -> None:
    """On a console without colour that records nothing, the lines ``plain()`` builds as rich
    would print them (streamed); else, or where they raise ``grid.Unsupported``, rich prints
    the renderable ``rich()``."""
    from .grid import Unsupported

    if console.color_system is None and not console.record:
        try:
            out = plain()
        except Unsupported:
            pass
        else:
            write_lines(console.file, out)
            return
    console.print(rich())


def print_fitted(console, report, layout="chw", verified=None, bars=False, columns=None) -> None:
    """The layer table at the console's width: columns dropped or abbreviated in render/fit.py's
    order, a note naming them; never a cut cell (too wide even then: plain lines the terminal wraps)."""
    from .fit import fit, table_width
    from .grid import _lines, _visible, _width
    from .table import layer_grid, layer_table

    grid, roles = layer_grid(report, layout, verified, bars, columns)
    grid, roles, note = fit(grid, roles, report, console.width)
    if table_width(grid) <= console.width:
        console.print(layer_table(report, layout, verified, bars=bars, columns=columns, grid=(grid, roles)))
    else:
        headers = [_visible(h) for h in grid.headers]
        rows = [[_visible(c) for c in row] for row in grid.rows]
        widths = [max([_width(h)] + [_width(r[i]) for r in rows]) for i, h in enumerate(headers)]
        write_lines(console.file, _lines(grid, _visible(grid.title), headers, rows, widths,
                                         sum(widths) + 3 * len(widths) + 1, False))
    if note:
        print_text(console, note)


def write_lines(file, lines) -> None:
    chunk = []
    for line in lines:
        chunk.append(line)
        if len(chunk) >= _CHUNK:
            file.write("\n".join(chunk) + "\n")
            chunk = []
    if chunk:
        file.write("\n".join(chunk) + "\n")
    file.flush()


def print_text(console, text: str) -> None:
    """A line of plain text as rich prints ``Text(text)`` (wrapped only when wider than the console)."""
    from .grid import _width

    if console.color_system is None and not console.record and text.isprintable() \
            and _width(text) <= console.width:
        console.file.write(text + "\n")
        return
    from rich.text import Text

    console.print(Text(text))


def print_grid(console, grid, notes=()) -> None:
    """A :class:`grid.Grid` on ``console`` (streamed when plain and it fits, else through rich),
    then ``notes`` (references, formulas) one per line."""
    from .grid import lines

    def rich():
        from .compare import rich_table

        return rich_table(grid)

    print_plain_or_rich(console, lambda: lines(grid, console.width), rich)
    for note in notes:
        print_text(console, note)

"""The plain layer table (render/grid.py) against rich itself: the same characters, or a refusal."""
import functools
import io

import pytest
from rich.console import Console

import convcalc as cc
from convcalc import zoo
from convcalc.render.console import print_layer_table, print_text
from convcalc.render.grid import Grid, Unsupported, lines
from convcalc.render.table import layer_table


def rich_text(renderable, width, soft_wrap=False) -> str:
    buf = io.StringIO()
    Console(file=buf, width=width, no_color=True, highlight=False, color_system=None,
            soft_wrap=soft_wrap).print(renderable)
    return buf.getvalue()


def fast_text(report, width, soft_wrap=False, **options) -> str:
    buf = io.StringIO()
    console = Console(file=buf, width=width, no_color=True, highlight=False, color_system=None, soft_wrap=soft_wrap)
    print_layer_table(console, report, **options)
    return buf.getvalue()


REPORTS = {
    "alexnet": lambda: cc.analyze(zoo.get("alexnet")),
    "shufflenet": lambda: cc.analyze(zoo.get("shufflenet_v2_x1_0")),  # "channels 0:58" cells
    "googlenet-d2": lambda: cc.analyze(zoo.get("googlenet")).collapse(2),
    "hwc-batch": lambda: cc.analyze(zoo.get("lenet5"), batch=8, dtype="fp16"),
    "markup": lambda: cc.analyze(cc.Sequential(cc.Conv2d(3, 4, 3)), (3, 8, 8), name="[bold]net[/bold] :smile: x"),
    "wide-title": lambda: cc.analyze(cc.Sequential(cc.ReLU()), (3, 8, 8), name="n" * 150),
}
OPTIONS = [{}, {"layout": "hwc"}, {"bars": True}, {"columns": "layer,params,macs,flops,input,buffers"},
           {"verified": "some"}, {"bars": True, "columns": "kind,params,macs"}]


WIDTHS = [(400, True), (160, False), (100, False), (60, True)]
# The big tables are wider than 100 columns and the wide title than any: there the plain layout
# refuses and rich prints both sides, so those reports run at the widths where it does not (the
# fallback itself: the wide title at 160, and test_refuses_what_would_wrap_or_hold_control_characters).
REPORT_WIDTHS = {"hwc-batch": WIDTHS, "markup": WIDTHS, "wide-title": WIDTHS[1:2]}
CASES = [(name, options, width, soft) for name in REPORTS for options in OPTIONS
         for width, soft in REPORT_WIDTHS.get(name, WIDTHS[:2])]


@pytest.mark.parametrize("name, options, width, soft_wrap", CASES,
                         ids=[f"{n}-{o}-{w}" for n, o, w, _ in CASES])
def test_plain_table_is_rich_table(name, options, width, soft_wrap):
    report = REPORTS[name]()
    if options.get("verified") == "some":
        options = {**options, "verified": {r.name: i % 3 != 0 for i, r in enumerate(report.rows)}}
    expected = rich_text(layer_table(report, **options), width, soft_wrap)
    assert fast_text(report, width, soft_wrap, **options) == expected


def test_str_report_is_table_and_summary_as_rich_prints_them():
    from rich.console import Group
    from rich.text import Text

    from convcalc.render.text import summary_line

    for name in ("alexnet", "markup", "wide-title"):
        report = REPORTS[name]()
        expected = rich_text(Group(layer_table(report), Text(summary_line(report))), 160)
        assert str(report) == expected


def test_summary_wider_than_the_console_wraps_like_rich():
    from rich.text import Text

    text = "word " * 50
    buf = io.StringIO()
    console = Console(file=buf, width=40, no_color=True, color_system=None)
    print_text(console, text)
    assert buf.getvalue() == rich_text(Text(text), 40)


def test_refuses_what_would_wrap_or_hold_control_characters():
    grid = Grid("t", ["A", "B"], ["left", "right"], [["x" * 50, "1"]])
    with pytest.raises(Unsupported):
        lines(grid, 40)
    with pytest.raises(Unsupported):
        lines(Grid("t", ["A"], ["left"], [["a\tb"]]), 80)
    assert list(lines(grid, 80))[2].startswith("  A")


def test_long_chain_has_one_line_per_row():
    n = 2000
    report = cc.analyze(cc.Sequential(*[cc.ReLU() for _ in range(n)]), (3, 4, 4))
    text = str(report)
    # title, top edge, header, rule, n rows, section line, total, bottom edge, summary line
    assert text.count("\n") == 1 + 1 + 1 + 1 + n + 1 + 1 + 1 + 1


# -- the symbolic table, whose formulas fold or are cut: render/flow.py against rich -------------------
from hypothesis import given, settings, strategies as st  # noqa: E402

from convcalc.render import flow  # noqa: E402
from convcalc.render.symbolic import fitted_symbolic_table, print_fitted_table  # noqa: E402
from convcalc.sym import dims  # noqa: E402


@functools.lru_cache(maxsize=None)  # (each report is read by five widths)
def _symbolic(name, layout="chw", batch=1):
    H, W = dims("H W")
    return cc.analyze(zoo.get(name), (3, H, W), batch=batch), layout


SYMBOLIC = {
    "alexnet": lambda: _symbolic("alexnet"),
    "densenet121": lambda: _symbolic("densenet121"),
    "googlenet-hwc": lambda: _symbolic("googlenet", "hwc"),
    "tinyconv": lambda: _symbolic("tinyconv"),
    "vit-batch-N": lambda: _symbolic("vit_b_16", batch=dims("N")),
}


# At 30 columns the plain layout refuses (rich folds the cells) and rich prints both sides: the
# small tables keep that width, for the fallback; the large ones skip seconds of rich against rich.
SYMBOLIC_CASES = [(name, width) for name in SYMBOLIC
                  for width in [160, 80, 200, 300] + ([30] if name in ("alexnet", "tinyconv") else [])]


@pytest.mark.parametrize("name, width", SYMBOLIC_CASES)
def test_plain_symbolic_table_is_rich_table(name, width):
    report, layout = SYMBOLIC[name]()
    buf = io.StringIO()
    notes = print_fitted_table(Console(file=buf, width=width, no_color=True, highlight=False, color_system=None),
                               report, layout)
    table, rich_notes = fitted_symbolic_table(report, layout, width)
    assert buf.getvalue() == rich_text(table, width) and notes == rich_notes


WORDS = st.text(alphabet="abH+*()/1  ", max_size=70)
COLUMN = st.builds(flow.Column, st.sampled_from(["A", "Bb", "Ccc dd", ""]), st.sampled_from(["left", "right"]),
                   st.booleans(), st.one_of(st.none(), st.integers(0, 50)))


@settings(max_examples=300, deadline=None)
@given(columns=st.lists(COLUMN, min_size=1, max_size=6), data=st.data(), width=st.integers(8, 140),
       title=st.sampled_from(["", "t", "model · input 3 x H x W"]))
def test_flow_lines_are_what_rich_prints(columns, data, width, title):
    """Random tables: the same characters as rich's Table, or a refusal (then rich prints it)."""
    from rich import box
    from rich.table import Table

    rows = data.draw(st.lists(st.lists(WORDS, min_size=len(columns), max_size=len(columns)), max_size=6))
    t = Table(title=title or None, box=box.SIMPLE_HEAD, title_justify="left")
    for c in columns:
        t.add_column(c.header, justify=c.justify, no_wrap=c.no_wrap, overflow="ellipsis" if c.no_wrap else "fold",
                     min_width=c.min_width)
    for row in rows:
        t.add_row(*row)
    try:
        got = "".join(line + "\n" for line in flow.lines(title, columns, rows, width))
    except Unsupported:
        return
    assert got == rich_text(t, width)


def test_flow_refuses_markup_and_wide_characters():
    cols = [flow.Column("A")]
    for cell in ("x\ty", "日本"):
        with pytest.raises(Unsupported):
            list(flow.lines("t", cols, [[cell]], 80))
    with pytest.raises(Unsupported):  # a title wider than the table wraps in rich
        list(flow.lines("a long title " * 5, cols, [["x"]], 80))
    with pytest.raises(Unsupported):  # two cells a character: rich's cell arithmetic
        list(flow.lines("日本", cols, [["x"]], 80))
    with pytest.raises(Unsupported):
        list(flow.lines("t", [], [], 80))


@pytest.mark.parametrize("name", ["densenet121", "inception_v3", "resnet18"])
def test_piped_symbolic_table_keeps_every_column_and_cuts_nothing(run, name):
    """Piped (160 columns), the symbolic table still has all six columns and no cell cut with
    "…": formulas too long to fit are numbered and written out in full below the table."""
    out = run(name, "--input", "3xHxW").stdout.splitlines()
    header = next(line for line in out if line.strip().startswith("Layer"))
    assert header.split() == ["Layer", "Kind", "Output", "Params", "MACs", "RF"]
    table = out[:out.index(next(line for line in out if line.startswith("params:")))]
    assert "…" not in "\n".join(table)
    assert max(len(line) for line in table if not line.startswith("[")) <= 160
    refs = {tok for line in table if not line.startswith("[") for tok in line.split() if tok.startswith("[")}
    notes = {line.split()[0] for line in table if line.startswith("[")}
    assert refs <= notes  # every reference is written out

"""Output formats people paste somewhere: the Rich table's --bars and --columns, LaTeX (booktabs),
the standalone HTML page (checked with html.parser, and in headless Chromium where installed)."""
import io
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser

import pytest
from hypothesis import given, strategies as st

import convcalc as cc
from convcalc import zoo
from convcalc.analyze import analyze
from conftest import run  # the shared in-process CLI runner
from convcalc.errors import ConvcalcError
from convcalc.render.html import report_html, to_html
from convcalc.render.latex import escape, number, to_latex
from convcalc.render.table import bar_text, layer_table, parse_columns

ALEXNET_PARAMS = (11 * 11 * 3 * 96 + 96) + (5 * 5 * 96 * 256 + 256) + (3 * 3 * 256 * 384 + 384) \
    + (3 * 3 * 384 * 384 + 384) + (3 * 3 * 384 * 256 + 256) + (9216 * 4096 + 4096) + (4096 * 4096 + 4096) \
    + (4096 * 1000 + 1000)  # 62,378,344


@pytest.fixture(scope="module")
def alexnet():
    return analyze(zoo.get("alexnet"))


def render(table, width=250) -> str:
    from rich.console import Console

    buf = io.StringIO()
    Console(file=buf, width=width, no_color=True, highlight=False).print(table)
    return buf.getvalue()


# -- the Rich table: --bars, --columns ----------------------------------------------------------------
def test_old_call_signature_still_works(alexnet):
    text = render(layer_table(alexnet, "chw", None))
    assert "62,378,344" in text and "Params" in text and "%" not in text
    assert "Verified" in render(layer_table(alexnet, "chw", {r.name: True for r in alexnet.rows}))


def test_bars_show_each_layers_share(alexnet):
    text = render(layer_table(alexnet, bars=True))
    fc6 = next(line for line in text.splitlines() if line.strip().startswith("classifier.1 "))
    share = (9216 * 4096 + 4096) / ALEXNET_PARAMS
    assert f"{100 * share:.1f}%" in fc6                       # 60.5%: the FC layers dominate
    assert "█" * int(share * 10) in fc6
    relu = next(line for line in text.splitlines() if line.strip().startswith("features.1 "))
    assert "%" not in relu                                    # no bar for a layer with nothing


def test_bar_text_ends():
    assert bar_text(1.0) == "█" * 10 + " 100.0%"
    assert bar_text(0.5) == "█" * 5 + " " * 5 + "  50.0%"
    assert bar_text(0.0004).endswith("<0.1%")
    assert bar_text(None) == ""


@given(st.fractions(min_value=0, max_value=1))
def test_bar_text_is_fixed_width_and_proportional(f):
    text = bar_text(float(f))
    assert len(text) == 10 + 1 + 6
    eighths = " ▏▎▍▌▋▊▉█"
    drawn = sum(8 if c == "█" else eighths.index(c) for c in text[:10])
    assert drawn == round(float(f) * 80)


def test_columns_choose_and_order(alexnet):
    text = render(layer_table(alexnet, columns="layer,macs,params"))
    header = next(line for line in text.splitlines() if "Layer" in line)
    assert re.search(r"Layer\s+MACs\s+Params\s*$", header)
    assert "Kind" not in header and "RF" not in header
    with_bars = render(layer_table(alexnet, columns=("params", "layer"), bars=True))
    assert re.search(r"Params\s+Params %\s+Layer", with_bars)


def test_parse_columns_errors():
    assert parse_columns(None) == ("layer", "kind", "output", "params", "macs", "rf", "memory")
    assert parse_columns(" Layer , FLOPs ") == ("layer", "flops")
    with pytest.raises(ConvcalcError, match="unknown column 'size'"):
        parse_columns("layer,size")
    with pytest.raises(ConvcalcError, match="named twice"):
        parse_columns("layer,layer")
    with pytest.raises(ConvcalcError, match="no column"):
        parse_columns(",")


def test_cli_bars_and_columns():
    r = run("alexnet", "--bars", "--columns", "layer,params,macs")
    assert r.exit_code == 0
    assert "Params %" in r.stdout and "MACs %" in r.stdout and "60.5%" in r.stdout
    assert "Kind" not in r.stdout.splitlines()[2]
    r = run("alexnet", "--columns", "layer,bogus")
    assert r.exit_code == 2 and "unknown column 'bogus'" in r.stderr and r.stdout == ""
    r = run("alexnet", "--columns", "layer", "--format", "csv")
    assert r.exit_code == 2 and "--columns applies to" in r.stderr
    r = run("layer", "conv2d", "--input", "3x32x32", "--out", "8", "-k", "3", "--bars")
    assert r.exit_code == 0 and "100.0%" in r.stdout


# -- LaTeX ---------------------------------------------------------------------------------------------
def test_latex_booktabs_exact_thin_space_integers(alexnet):
    tex = to_latex(alexnet)
    for cmd in (r"\begin{tabular}{lllrrrr}", r"\toprule", r"\midrule", r"\bottomrule", r"\end{table}"):
        assert cmd in tex
    assert r"62\,378\,344" in tex and ALEXNET_PARAMS == 62378344
    body = tex[tex.index(r"\midrule"):tex.index(r"\bottomrule")]
    rows = [line for line in body.splitlines() if line.endswith(r"\\")]
    assert len(rows) == len(alexnet.rows) + 1                        # layers + total
    assert all(line.count(" & ") == 6 for line in rows)              # 7 columns
    assert r"features.0 & conv 11x11/4, 96 & $96\times 55\times 55$ & 34\,944 & 105\,415\,200 &" in tex
    assert 11 * 11 * 3 * 96 + 96 == 34944 and 96 * 55 * 55 * 3 * 11 * 11 == 105415200


def test_latex_escapes_names():
    net = cc.Sequential(("conv_1", cc.Conv2d(3, 4, 3)), ("a&b%#$", cc.ReLU()))
    tex = to_latex(analyze(net, (3, 8, 8), name="my_net"))
    assert r"conv\_1 &" in tex and r"a\&b\%\#\$ &" in tex and r"my\_net" in tex
    assert escape("x^2~{y}\\") == r"x\textasciicircum{}2\textasciitilde{}\{y\}\textbackslash{}"


@given(st.integers(min_value=0, max_value=10**15))
def test_latex_number_grouping(n):
    text = number(n)
    assert text.replace(r"\,", "") == str(n)
    groups = text.split(r"\,")
    assert 1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])


def test_latex_columns_and_symbols():
    from convcalc.sym import dims

    H, W = dims("H W")
    tex = to_latex(analyze(cc.Sequential(cc.Conv2d(3, 8, 3)), (3, H, W)), columns="layer,output,params")
    assert r"\begin{tabular}{llr}" in tex and "Layer & Output & Params" in tex
    assert r"$8\times \left(H - 2\right)\times \left(W - 2\right)$" in tex


def test_cli_latex():
    r = run("tinyconv", "--format", "latex")
    assert r.exit_code == 0 and r.stdout.startswith("% convcalc tinyconv") and r"\toprule" in r.stdout


# -- HTML ----------------------------------------------------------------------------------------------
class Page(HTMLParser):
    """Collects tables, cells per section and every resource reference."""

    def __init__(self):
        super().__init__()
        self.tags, self.refs, self.section, self.rows, self.cells = [], [], None, {}, []
        self.text = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        a = dict(attrs)
        for key in ("src", "href", "xlink:href", "data"):
            if a.get(key):
                self.refs.append(a[key])
        if tag in ("thead", "tbody", "tfoot"):
            self.section = tag
        if tag == "tr":
            self.rows.setdefault(self.section, []).append([])
        if tag in ("td", "th"):
            self.text = []

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.rows[self.section][-1].append("".join(self.text).strip())

    def handle_data(self, data):
        self.text.append(data)


def parse(page: str) -> Page:
    p = Page()
    p.feed(page)
    p.close()
    return p


def test_html_page_table_and_no_network(alexnet):
    page = to_html(alexnet, bars=True)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    p = parse(page)
    assert p.tags.count("table") == 1
    assert p.rows["thead"][0][:3] == ["Layer", "Kind", "Output"] and "Params share" in p.rows["thead"][0]
    body = p.rows["tbody"]
    assert len(body) == len(alexnet.rows)
    assert body[0][:4] == ["features.0", "conv 11x11/4, 96", "96x55x55", "34,944"]
    assert p.rows["tfoot"][0][0] == "total" and "62,378,344 (62.4M)" in p.rows["tfoot"][0]
    # self-contained: no scripts, stylesheets or fetched resources; in-document references only
    assert "script" not in p.tags and "link" not in p.tags and "iframe" not in p.tags
    assert all(ref.startswith("#") for ref in p.refs), p.refs
    assert "@import" not in page and page.count("url(") == page.count("url(#")


def test_html_inlines_the_cost_figure_when_matplotlib_is_there(alexnet, monkeypatch):
    pytest.importorskip("matplotlib")
    page = to_html(alexnet)
    assert page.count("<svg") == 1 and 'id="cost"' in page and "<?xml" not in page
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    bare = to_html(alexnet)
    assert "<svg" not in bare and "<table>" in bare


def test_html_escapes_and_symbolic():
    from convcalc.sym import dims

    net = cc.Sequential(("<b>x</b>", cc.Conv2d(3, 4, 3)))
    page = to_html(analyze(net, (3, 8, 8)))
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page
    H, W = dims("H W")
    sym = to_html(analyze(cc.Sequential(cc.Conv2d(3, 8, 3)), (3, H, W)))
    assert "<svg" not in sym and "H - 2" in sym


def test_report_html_fragment_and_jupyter(alexnet):
    frag = report_html(alexnet, columns="layer,params")
    p = parse(frag)
    assert p.rows["thead"][0] == ["Layer", "Params"]
    assert "<html" not in frag
    assert "<table" in alexnet._repr_html_()


def test_cli_html(tmp_path):
    r = run("lenet5", "--format", "html", "--columns", "layer,output,params")
    assert r.exit_code == 0
    assert parse(r.stdout).rows["thead"][0] == ["Layer", "Output", "Params"]


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.mark.skipif(_chromium() is None, reason="no chromium (CI: apt-get install -y chromium)")
def test_html_page_renders_in_headless_chromium(alexnet, tmp_path):
    """A real browser lays the table out: a script added to a copy of the page measures it."""
    page = to_html(alexnet, bars=True, figure=False)
    probe = ("<script>addEventListener('load', () => { const t = document.querySelector('table');"
             " const b = t.getBoundingClientRect(); const d = document.body.dataset;"
             " d.rows = t.rows.length; d.cols = t.rows[0].cells.length;"
             " d.width = Math.round(b.width); d.height = Math.round(b.height);"
             " d.first = t.tBodies[0].rows[0].cells[0].getBoundingClientRect().height > 0; });</script>")
    path = tmp_path / "page.html"
    path.write_text(page.replace("</body>", probe + "</body>"), encoding="utf-8")
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           f"--user-data-dir={tmp_path / 'profile'}", "--host-resolver-rules=MAP * ~NOTFOUND",
           "--virtual-time-budget=2000", "--dump-dom", path.as_uri()]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "HOME": str(tmp_path)}).stdout
    body = re.search(r"<body([^>]*)>", out)
    assert body, out[:500]
    attrs = dict(re.findall(r'data-(\w+)="([^"]*)"', body.group(1)))
    assert int(attrs["rows"]) == 1 + len(alexnet.rows) + 1          # header, layers, total
    assert int(attrs["cols"]) == 7 + 2                               # 7 columns + 2 share bars
    assert int(attrs["width"]) > 300 and int(attrs["height"]) > 10 * len(alexnet.rows)
    assert attrs["first"] == "true"
    assert "62,378,344" in out

"""Building blocks of the HTML reports: one self-contained page per report.

A :class:`Page` holds sections of HTML (tables, key-value lists, paragraphs, charts) and renders
one document with its styles and plotly.js inline (once, only when the page has a chart), so the
file opens with no network. Charts are plotly figures written as JSON inside the page and drawn
by ``Plotly.newPlot`` into a ``div`` whose id the caller names.

Output is deterministic: ids come from the caller, figures (:mod:`reports.figspec`) are written
by the standard library's JSON encoder, and nothing records a time.
"""

from __future__ import annotations

import html
import re

CSS = """
:root { --fg: #1f1f1f; --muted: #5f5f5f; --line: #d9d9d9; --head: #4d4d4d; --zebra: #f5f5f5;
        --warn: #8a1c1c; --warnbg: #fbeeee; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; color: var(--fg); margin: 0;
       background: #fafafa; font-size: 14px; line-height: 1.45; }
header.top { background: #fff; border-bottom: 1px solid var(--line); padding: 18px 28px 10px; }
header.top h1 { font-size: 24px; margin: 0 0 4px; }
header.top p.sub { color: var(--muted); margin: 0 0 8px; }
nav { display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 13px; }
nav a { color: #1f5f9f; text-decoration: none; }
nav a:hover { text-decoration: underline; }
main { max-width: 1240px; margin: 0 auto; padding: 8px 24px 40px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px; margin: 18px 0;
          padding: 14px 20px 18px; overflow-x: auto; }
section > h2 { font-size: 19px; margin: 2px 0 10px; }
h3 { font-size: 15px; margin: 16px 0 6px; }
p { margin: 6px 0; }
.muted { color: var(--muted); font-size: 12.5px; }
.mono { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12px; word-break: break-all; }
.cols { display: flex; flex-wrap: wrap; gap: 8px 36px; }
.cols > div { flex: 1 1 420px; min-width: 0; }
.tables { display: flex; flex-wrap: wrap; gap: 4px 36px; align-items: flex-start; }
.tables > div { flex: 0 1 auto; max-width: 100%; overflow-x: auto; }
td.nw { white-space: nowrap; }
table { border-collapse: collapse; margin: 4px 0 8px; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 3px 8px; vertical-align: top; }
thead th { background: var(--head); color: #fff; text-align: left; font-weight: bold; }
tbody tr:nth-child(even) { background: var(--zebra); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.key { white-space: nowrap; }
.scroll { max-height: 560px; overflow: auto; border: 1px solid var(--line); display: inline-block;
          max-width: 100%; }
.scroll table { margin: 0; }
.scroll thead th { position: sticky; top: 0; }
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 4px 0 8px; }
dl.kv dt { color: var(--muted); }
dl.kv dd { margin: 0; }
.warn { background: var(--warnbg); border-left: 4px solid var(--warn); color: var(--warn); padding: 8px 14px;
        margin: 8px 0; }
.warn ul { margin: 4px 0; padding-left: 18px; }
.verdict { border-left: 4px solid #1f5f9f; background: #eef4fa; padding: 8px 14px; margin: 8px 0; }
.verdict strong { font-size: 15px; }
.swatch { display: inline-block; width: 11px; height: 11px; margin-right: 6px; border-radius: 2px;
          vertical-align: baseline; }
.chart { width: 100%; margin: 6px 0 14px; }
li { break-inside: avoid; }
footer { color: var(--muted); font-size: 12px; text-align: center; padding: 10px 0 30px; }
"""

#: plotly's modebar without the selection tools (nothing here uses a selection), no logo link.
CHART_CONFIG = '{"displaylogo": false, "responsive": true, "modeBarButtonsToRemove": ["select2d", "lasso2d"]}'


def esc(x) -> str:
    """``x`` as HTML text (quotes escaped too)."""
    return html.escape(str(x), quote=True)


def _num(text: str) -> bool:
    """A cell that reads as a number (right-aligned): 1,234.5 / -3.20% / n/a / 545 / 460 / -."""
    return bool(re.fullmatch(r"[-+]?[\d,.]+\s*(%|%/yr| %/yr|x| d| days)?|n/a|-|[\d,]+ ?/ ?[\d,]+", text.strip()))


def _breakable(text) -> str:
    """Escaped text that may break after '_' and '|' (long registry keys in narrow headers)."""
    return re.sub(r"([_|])", r"\1<wbr>", esc(text))


def table(header: list, rows: list[list], *, tid: str | None = None, align: list[str] | None = None,
          header_colors: dict | None = None, cell_colors: dict | None = None, scroll: bool = False) -> str:
    """An HTML table of preformatted strings. ``align``: "left"/"right"/"mono" per column (default:
    the first column left, numbers right); ``header_colors``: ``{column: css color}`` of header
    cells; ``cell_colors``: ``{(row, column): css color}`` of cell text (bold); ``scroll``: inside a
    scrolling box with a sticky header."""
    hc, cc = header_colors or {}, cell_colors or {}
    kinds = []
    for j in range(len(header)):
        a = align[j] if align else None
        if a is None:
            a = "left" if j == 0 else ("right" if rows and all(_num(str(r[j])) for r in rows) else "left")
        kinds.append(a)
    head_cls = [' class="num"' if k == "right" else "" for k in kinds]
    # short text columns (dates, names) on one line; long ones wrap
    short = [max((len(str(r[j])) for r in rows), default=0) <= 44 for j in range(len(header))]
    cell_cls = [{"right": ' class="num"', "mono": ' class="mono"'}.get(k, ' class="nw"' if short[j] else "")
                for j, k in enumerate(kinds)]
    out = [f'<table id="{esc(tid)}">' if tid else "<table>", "<thead><tr>"]
    out += [f"<th{head_cls[j]}" + (f' style="background:{hc[j]}"' if j in hc else "") + f">{_breakable(h)}</th>"
            for j, h in enumerate(header)]
    out.append("</tr></thead><tbody>")
    for i, row in enumerate(rows):
        out.append("<tr>" + "".join(
            f"<td{cell_cls[j]}" + (f' style="color:{cc[(i, j)]};font-weight:bold"' if (i, j) in cc else "")
            + f">{esc(v)}</td>" for j, v in enumerate(row)) + "</tr>")
    out.append("</tbody></table>")
    body = "".join(out)
    return f'<div class="scroll">{body}</div>' if scroll else body


def kv(rows) -> str:
    """Aligned ``key  value`` lines."""
    return '<dl class="kv">' + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in rows) + "</dl>"


def para(text: str, cls: str | None = None) -> str:
    attr = f' class="{cls}"' if cls else ""
    return f"<p{attr}>{esc(text)}</p>"


def heading(text: str) -> str:
    return f"<h3>{esc(text)}</h3>"


def cols(*parts: str) -> str:
    """Side-by-side blocks that wrap on narrow screens."""
    return '<div class="cols">' + "".join(f"<div>{p}</div>" for p in parts) + "</div>"


def tables(*parts: str) -> str:
    """Blocks side by side at their own width (tables), wrapping when the page is too narrow."""
    return '<div class="tables">' + "".join(f"<div>{p}</div>" for p in parts if p) + "</div>"


def warnings_block(lines: list[str], title: str = "Read before trusting the numbers") -> str:
    if not lines:
        return ""
    return (f'<div class="warn" id="warnings"><strong>{esc(title)}</strong><ul>'
            + "".join(f"<li>{esc(w)}</li>" for w in lines) + "</ul></div>")


def verdict_block(verdict) -> str:
    """A verdict dict as a box: the verdict, its sentence and (folded) the decision rule."""
    if not verdict:
        return ""
    if not isinstance(verdict, dict):
        return f'<div class="verdict" id="verdict"><strong>{esc(verdict)}</strong></div>'
    out = ['<div class="verdict" id="verdict">']
    if verdict.get("verdict"):
        out.append(f"<strong>Verdict: {esc(verdict['verdict'])}</strong>")
    if verdict.get("sentence"):
        out.append(f"<p>{esc(verdict['sentence'])}</p>")
    if isinstance(verdict.get("rule"), str):
        out.append(f'<details><summary class="muted">How the verdict is decided</summary>'
                   f'<p class="muted">{esc(verdict["rule"])}</p></details>')
    out.append("</div>")
    return "".join(out)


def swatch(color: str) -> str:
    return f'<span class="swatch" style="background:{esc(color)}"></span>'


def plotly_js() -> str:
    """plotly.js, as the installed plotly package ships it (read from its files: the package's
    Python side is not needed)."""
    from rotationlab.provenance import package_file
    return package_file("plotly", "package_data", "plotly.min.js").read_text(encoding="utf-8")


class Page:
    """Sections and charts of one report page; :meth:`render` gives the whole document."""

    def __init__(self, title: str, subtitle: str = "", footer: str = ""):
        self.title, self.subtitle, self.footer = title, subtitle, footer
        self.sections: list[tuple[str, str, str]] = []
        self.scripts: list[str] = []
        self._ids: set[str] = set()

    def _id(self, name: str) -> str:
        if name in self._ids:
            raise ValueError(f"duplicate element id {name!r} in the page")
        self._ids.add(name)
        return name

    def section(self, sid: str, heading_text: str, *parts: str) -> None:
        self.sections.append((self._id(sid), heading_text, "".join(p for p in parts if p)))

    def chart(self, fig, cid: str) -> str:
        """A ``div`` for figure ``fig`` (a :class:`reports.figspec.Figure`; height from its
        layout), drawn on load."""
        cid = self._id(cid)
        height = fig.height
        spec = fig.to_json().replace("</", "<\\/")
        self.scripts.append(f'(function(){{var f={spec};Plotly.newPlot("{cid}",f.data,f.layout,{CHART_CONFIG});}})();')
        return f'<div class="chart" id="{cid}" style="height:{height}px"></div>'

    def render(self) -> str:
        nav = "".join(f'<a href="#{sid}">{esc(h)}</a>' for sid, h, _ in self.sections)
        body = "".join(f'<section id="{sid}"><h2>{esc(h)}</h2>{content}</section>' for sid, h, content in self.sections)
        head = [
            "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{esc(self.title)}</title>", f"<style>{CSS}</style>",
        ]
        if self.scripts:
            head.append(f'<script type="text/javascript">{plotly_js()}</script>')
        head.append("</head>")
        doc = [
            *head, "<body>", '<header class="top">', f"<h1>{esc(self.title)}</h1>",
            f'<p class="sub">{esc(self.subtitle)}</p>' if self.subtitle else "", f"<nav>{nav}</nav>", "</header>",
            f"<main>{body}</main>",
            f"<footer>{esc(self.footer)}</footer>" if self.footer else "",
        ]
        if self.scripts:
            doc.append("<script>" + "\n".join(self.scripts) + "</script>")
        doc += ["</body>", "</html>", ""]
        return "\n".join(d for d in doc if d)


__all__ = ["CSS", "Page", "cols", "esc", "heading", "kv", "para", "swatch", "table", "tables", "verdict_block",
           "warnings_block"]

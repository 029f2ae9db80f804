"""The report's HTML pieces: escaping, numbers, tables, a page around a body, and the pages' scripts.

Static pages, no library: the scripts sort tables, filter their rows and seek the
annotated video to a time; a few dozen lines that a table or charting library
would replace with hundreds of KB per page.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any, Iterable, Sequence
from urllib.parse import quote

from vidseg.core.atomic import atomic_path

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1100px;padding:0 1em;color:#222}
h1{margin-bottom:.2em} h2{margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9em;margin:.5em 0} th,td{padding:.25em .6em;border-bottom:1px solid #eee}
th{text-align:left;background:#f4f4f4} td.n{text-align:right;font-variant-numeric:tabular-nums}
table.kv td.n{text-align:left} table.sortable th{cursor:pointer} table.sortable th:hover{background:#e6e6e6}
.cards{display:flex;flex-wrap:wrap;gap:1em} .card{border:1px solid #ddd;border-radius:6px;padding:.6em 1em}
.card b{display:block;font-size:1.5em} .failed{color:#b00} .note{color:#846300}
figure{margin:1em 0} figcaption{font-size:.9em;color:#555} img{max-width:100%}
video{width:720px;max-width:100%;background:#000}
.scroll{overflow-x:auto} h1,h2,h3,p,figcaption{overflow-wrap:anywhere}
.swatch{display:inline-block;width:.8em;height:.8em;border-radius:2px;margin-right:.35em;vertical-align:-.05em}
[data-seek]{cursor:pointer} tr[data-seek]:hover{background:#eef4ff} svg.timeline{width:100%;height:auto;font-size:11px}
svg.timeline rect[data-seek]:hover{opacity:.7} label{margin-right:1em;font-size:.9em}
img[data-time-axis]{cursor:crosshair} img.poster{width:96px;max-width:none;display:block}
"""
# The pages' script. Sorting a table by the clicked column (numbers by their data-sort value):
SCRIPT = """
for (const th of document.querySelectorAll("table.sortable th")) {
  th.addEventListener("click", () => {
    const body = th.closest("table").tBodies[0], col = th.cellIndex;
    const up = th.dataset.dir !== "up"; th.dataset.dir = up ? "up" : "down";
    const key = row => { const cell = row.cells[col]; return cell.dataset.sort ?? cell.textContent; };
    const rows = [...body.rows].sort((a, b) => {
      const x = key(a), y = key(b), nx = parseFloat(x), ny = parseFloat(y);
      const order = !isNaN(nx) && !isNaN(ny) ? nx - ny : x.localeCompare(y);
      return up ? order : -order;
    });
    for (const row of rows) body.appendChild(row);
  });
}
// Seeking the annotated video: an element with data-seek (seconds), or a plot with data-time-axis
// ("left,right,end": the plot area's edges as fractions of the image's width and the time at its right edge).
function seek(t) {
  const video = document.querySelector("video[data-fps]");
  if (!video || !isFinite(t)) return;
  video.pause();
  video.currentTime = Math.max(0, t + 0.5 / parseFloat(video.dataset.fps));  // within the frame, not on its edge
  video.scrollIntoView({block: "nearest"});
}
document.addEventListener("click", event => {
  if (event.target.closest("a, select, input")) return;
  const mark = event.target.closest("[data-seek]");
  if (mark) { seek(parseFloat(mark.dataset.seek)); return; }
  const plot = event.target.closest("img[data-time-axis]");
  if (plot) {
    const [left, right, end] = plot.dataset.timeAxis.split(",").map(parseFloat);
    const x = (event.offsetX / plot.clientWidth - left) / (right - left);
    if (x >= 0 && x <= 1) seek(x * end);
  }
});
// A checkbox with data-video-src plays that video instead (checked) at the same moment, or the page's own.
for (const box of document.querySelectorAll("input[data-video-src]")) {
  box.addEventListener("change", () => {
    const video = document.querySelector("video[data-fps]");
    const time = video.currentTime, playing = !video.paused;
    video.addEventListener("loadedmetadata", () => { video.currentTime = time; if (playing) video.play(); },
                           {once: true});
    video.src = box.checked ? box.dataset.videoSrc : video.dataset.src;
  });
}
// Filtering a table's rows: controls with data-filter (the table's id) and data-key (the rows' data-<key>);
// a select keeps equal values ("" keeps all), an input with data-min keeps values at least its own.
for (const control of document.querySelectorAll("[data-filter]")) {
  control.addEventListener("input", () => {
    const controls = [...document.querySelectorAll(`[data-filter="${control.dataset.filter}"]`)];
    for (const row of document.getElementById(control.dataset.filter).tBodies[0].rows) {
      row.hidden = controls.some(c => c.dataset.min ? parseFloat(row.dataset[c.dataset.key]) < parseFloat(c.value || "0")
                                                    : c.value !== "" && row.dataset[c.dataset.key] !== c.value);
    }
  });
}
"""


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def number(value: Any, digits: int = 3) -> str:
    """A cell's text: integers with thousands separators, other numbers with `digits` decimals, '' for missing."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, (int,)) or (isinstance(value, float) and value.is_integer() and abs(value) >= 1000):
        return f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def cell(value: Any, check: str | None = None, digits: int = 3) -> str:
    """A table cell; numbers (numpy's too) align right, sort by value and show `digits` decimals; `check` names it for
    tests (data-check)."""
    attrs = f' data-check="{esc(check)}"' if check else ""
    value = value.item() if hasattr(value, "item") and not isinstance(value, str) else value  # numpy scalars
    if value is None:
        return f"<td{attrs}></td>"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        sort = "" if value != value else f' data-sort="{value}"'
        return f'<td class="n"{sort}{attrs}>{esc(number(value, digits))}</td>'
    if isinstance(value, Markup):
        return f"<td{attrs}>{value}</td>"
    return f"<td{attrs}>{esc(value)}</td>"


class Markup(str):
    """HTML that `cell` inserts as it is (links)."""


def link(href: str, text: str) -> Markup:
    return Markup(f'<a href="{esc(href)}">{esc(text)}</a>')


def table(headers: Sequence[str] | None, rows: Iterable[Sequence[Any]], sortable: bool = True,
          check: str | None = None) -> str:
    """An HTML table (`headers` None: a key-value table); cells are `cell` values, or (value, check-name) pairs."""
    head = "" if headers is None else "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(cell(*c) if isinstance(c, tuple) else cell(c) for c in row) + "</tr>"
                   for row in rows)
    classes = " ".join(name for name, on in (("sortable", sortable), ("kv", headers is None)) if on)
    attrs = (f' class="{classes}"' if classes else "") + (f' data-check="{esc(check)}"' if check else "")
    thead = f"<thead><tr>{head}</tr></thead>" if head else ""
    return f'<div class="scroll"><table{attrs}>{thead}<tbody>{body}</tbody></table></div>'


def page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link rel="icon" href="data:,"><style>{STYLE}</style></head>\n<body>\n{body}\n'
            f'<script>{SCRIPT}</script>\n</body></html>\n')


def write_text(path: Path, text: str) -> None:
    with atomic_path(path, suffix=".html") as tmp:
        Path(tmp).write_text(text, encoding="utf-8")


def href(from_file: str, to_file: str) -> str:
    """A relative URL from one report file to another file of the results (both relative to the run's root)."""
    return quote(os.path.relpath(to_file, os.path.dirname(from_file)).replace(os.sep, "/"), safe="/=")



"""The one writer: renders a Report to index.html (images beside it), report.md, CSV per table, PNG per figure.

Everything is rendered in memory first; only then is each file written, through a temporary file and a
rename, so a failed run leaves an earlier report as it was.
"""

from __future__ import annotations

import html
import io
import math
from pathlib import Path

import pandas as pd

from rnnbench.files import replace_folder
from rnnbench.paths import REPORT_DIR
from rnnbench.reports.build import Report

CSS = """body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1200px;color:#222}
table{border-collapse:collapse;font-size:13px;margin:.5rem 0 1.5rem}th,td{border:1px solid #ccc;padding:3px 8px}
th{background:#f3f3f3}td{text-align:right}img{max-width:100%;border:1px solid #eee}
#broken{display:none;background:#fdd;padding:.5rem;border:1px solid #c00}.env td{text-align:left}"""

# Marks every image as loaded or broken, and shows a banner if one is broken (tests read the marks).
IMAGE_CHECK = """<script>
function mark(img, ok){
  img.dataset.loaded = ok ? "yes" : "no";
  if (!ok) document.getElementById("broken").style.display = "block";
}
for (const img of document.images){
  if (img.complete) mark(img, img.naturalWidth > 0);
  else { img.addEventListener("load", () => mark(img, true)); img.addEventListener("error", () => mark(img, false)); }
}
</script>"""


def markdown_table(table: pd.DataFrame) -> str:
    """A GitHub-flavoured table; missing values are blank."""
    def cell(v) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA or v is pd.NaT:
            return ""
        return str(v).replace("|", "\\|")

    lines = ["| " + " | ".join(map(str, table.columns)) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def render(report: Report) -> dict[str, bytes]:
    """Every output file's name and contents, in memory."""
    files: dict[str, bytes] = {}
    md = ["# rnnbench report", "", "Sources: " + ", ".join(f"`{s}`" for s in report.sources), "",
          "## Environment", "", markdown_table(report.environment), ""]
    body = ["<h1>rnnbench report</h1><div id='broken'>Some images failed to load.</div>",
            "<p>Sources: " + ", ".join(html.escape(s) for s in report.sources) + "</p>",
            "<h2>Environment</h2>", report.environment.to_html(index=False, na_rep="", classes="env", border=0)]
    files["environment.csv"] = report.environment.to_csv(index=False).encode()
    for s in report.sections:
        md += [f"## {s.title}", "", s.description, ""]
        body += [f"<h2 id='{s.key}'>{html.escape(s.title)}</h2>", f"<p>{html.escape(s.description)}</p>"]
        if s.figure is not None:
            png = io.BytesIO()
            s.figure.savefig(png, format="png", dpi=100)
            files[f"{s.key}.png"] = png.getvalue()
            md += [f"![{s.title}]({s.key}.png)", ""]
            body.append(f"<img src='{s.key}.png' alt='{html.escape(s.title)}'>")
        if s.table is not None:
            files[f"{s.key}.csv"] = s.table.to_csv(index=False).encode()
            md += [markdown_table(s.table), ""]
            body.append(s.table.to_html(index=False, na_rep="", border=0))
    files["report.md"] = "\n".join(md).encode()
    files["index.html"] = (
        "<!doctype html><html><head><meta charset='utf-8'><title>rnnbench report</title>"
        f"<style>{CSS}</style></head><body>{''.join(body)}{IMAGE_CHECK}</body></html>"
    ).encode()
    return files


def write_report(report: Report, out_dir: str | Path = REPORT_DIR) -> Path:
    """Write the report as ``out_dir``, whole: rendered into a new folder beside it, then swapped in, so that no
    file of an older report survives and a failure leaves the older one as it was. Returns index.html's path."""
    files = render(report)
    out_dir = Path(out_dir)
    replace_folder(out_dir, lambda staging: [(staging / name).write_bytes(data) for name, data in files.items()])
    return out_dir / "index.html"

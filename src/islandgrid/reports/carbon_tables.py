"""HTML tables, the report's style sheet and the XLSX writer of the carbon report."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd

CSS = """
body{font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1200px;
color:#1d2733;padding:0 16px}
h1{font-size:26px;margin-bottom:4px}
h2{font-size:19px;margin-top:34px;border-bottom:1px solid #dde3ea;padding-bottom:4px}
.muted{color:#6b7785}.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.card{border:1px solid #dde3ea;border-radius:8px;padding:10px 14px;min-width:160px;flex:1}
.card .t{font-size:12px;color:#6b7785}.card .v{font-size:22px;font-weight:600}.card .s{font-size:12px;color:#6b7785}
table{border-collapse:collapse;font-size:13px;margin:8px 0}th,td{padding:4px 10px;border-bottom:1px solid #eef1f4;
text-align:left;vertical-align:top}td.n{text-align:right;font-variant-numeric:tabular-nums}
.note{background:#f6f8fa;border-left:4px solid #2e86de;padding:8px 12px;margin:10px 0}
code{font-size:12px}.dq{display:inline-block;font-size:11px;color:#4b5563;background:#eef2f7;border-radius:4px;
padding:1px 6px;margin:2px 0}.note.warn{border-left-color:#d35400;background:#fdf2e9}
dl.basis{display:grid;grid-template-columns:230px 1fr;gap:6px 14px;font-size:13px}dl.basis dt{font-weight:600}
dl.basis dd{margin:0}h3{font-size:15px;margin-top:18px}
"""


def fmt_num(v: object, digits: int = 3) -> str:
    if isinstance(v, float | np.floating | int | np.integer) and not isinstance(v, bool):
        x = float(v)
        if not np.isfinite(x):
            return ""
        x = 0.0 if abs(x) < 0.5 * 10**-digits else x
        return f"{x:,.{digits}f}"
    return html.escape(str(v))


def html_table(df: pd.DataFrame, digits: dict[str, int] | None = None, default: int = 3, index: bool = False) -> str:
    d = df.reset_index() if index else df
    digits = digits or {}
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in d.columns)
    body = []
    for row in d.itertuples(index=False):
        cells = []
        for col, v in zip(d.columns, row, strict=True):
            if isinstance(v, pd.Timestamp):
                cells.append(f"<td>{v.strftime('%Y-%m-%d %H:%M %Z')}</td>")
            elif isinstance(v, float | np.floating | int | np.integer) and not isinstance(v, bool):
                raw = repr(float(v))
                cells.append(f"<td class='n' data-v='{raw}'>{fmt_num(v, digits.get(str(col), default))}</td>")
            else:
                cells.append(f"<td>{html.escape(str(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _cell_values(values: pd.Series | pd.Index) -> list[object]:
    """One column as plain Python values: numbers as floats, times as ISO text, NaN as an empty cell."""
    if values.dtype.kind in "iuf":
        return [None if x != x else x for x in values.to_numpy(dtype=float).tolist()]
    out: list[object] = []
    for x in values.tolist():
        if x is None or (isinstance(x, float) and x != x):
            out.append(None)
        elif isinstance(x, pd.Timestamp):
            out.append(x.isoformat())
        elif isinstance(x, bool | int | float | str):
            out.append(x)
        else:
            out.append(str(x))
    return out


def write_xlsx(path: Path, sheets: dict[str, tuple[pd.DataFrame, bool]]) -> None:
    """One worksheet per frame (name -> (frame, write the index)), header row in bold, via XlsxWriter.

    Columns are written whole (``write_column``): pandas' ``to_excel`` formats cell by cell and
    takes about 1 s for the hourly sheet of a year; this takes a fraction of that. Numbers keep
    16 significant digits, so the workbook agrees with the CSV files to the gram.
    """
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"nan_inf_to_errors": True})
    try:
        bold = wb.add_format({"bold": True})
        for name, (df, index) in sheets.items():
            ws = wb.add_worksheet(name[:31])
            columns: list[tuple[str, pd.Series | pd.Index]] = []
            if index:
                columns.append((str(df.index.name or ""), df.index))
            columns.extend((str(c), df[c]) for c in df.columns)
            ws.write_row(0, 0, [c for c, _ in columns], bold)
            for j, (_, values) in enumerate(columns):
                ws.write_column(1, j, _cell_values(values))
    finally:
        wb.close()

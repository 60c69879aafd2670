"""Reference data: ``data/reference/securities.csv`` (symbol, sector[, name]) → a validated table.

Optional: without it every symbol gets sector UNKNOWN downstream (SPEC §2), with a warning here.
"""
from __future__ import annotations

import csv

import pyarrow as pa

from mech_exo.home import Home
from mech_exo.ingest.files import rel as _rel
from mech_exo.ingest.schemas import SECURITIES_SCHEMA
from mech_exo.ingest.violations import Collector


def read_securities(home: Home, col: Collector, warnings: list[str]) -> pa.Table:
    path, rel = home.securities_csv, _rel(home, home.securities_csv)
    if not path.exists():
        warnings.append(f"{rel} not found: every symbol gets sector UNKNOWN")
        return SECURITIES_SCHEMA.empty_table()
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        header = [h.strip().lower() for h in next(reader, [])]
        missing = [c for c in ("symbol", "sector") if c not in header]
        if missing:
            col.add(rel, None, f"missing required column(s): {', '.join(missing)}", show_value=False)
            return SECURITIES_SCHEMA.empty_table()
        i_sym, i_sec = header.index("symbol"), header.index("sector")
        i_name = header.index("name") if "name" in header else None
        seen: dict[str, int] = {}
        out: dict[str, list] = {"symbol": [], "sector": [], "name": []}
        for row_no, row in enumerate((r for r in reader if any(c.strip() for c in r)), start=1):
            cell = lambda i: row[i].strip() if i is not None and i < len(row) else ""  # noqa: E731
            sym, sector, name = cell(i_sym).upper(), cell(i_sec), cell(i_name)
            if not sym:
                col.add(rel, row_no, "symbol must not be empty", show_value=False)
            elif sym in seen:
                col.add(rel, row_no, "duplicate symbol", sym, detail=f"first seen at row {seen[sym]}")
            elif not sector:
                col.add(rel, row_no, "sector must not be empty", show_value=False, key=f"symbol={sym}")
            else:
                seen[sym] = row_no
                out["symbol"].append(sym)
                out["sector"].append(sector)
                out["name"].append(name or None)
    return pa.Table.from_pydict(out, schema=SECURITIES_SCHEMA)

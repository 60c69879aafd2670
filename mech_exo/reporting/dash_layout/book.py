"""The book: the exposure strip (long / short / gross / net of NAV) and the position table."""
from __future__ import annotations

from typing import Any

from dash import html

from mech_exo import bands
from mech_exo.reporting.dash_layout import theme as t


def exposure_strip(x: dict[str, Any]) -> html.Div:
    def tile(label: str, frac: float | None, usd_v: float | None, colour: str, id: str) -> html.Div:
        return html.Div(className="exp-tile", id=id, children=[
            html.Div(label, className="exp-label"),
            html.Div(t.pct(frac, 1, signed=False), className="exp-value", style={"color": colour},
                     **{"data-value": repr(frac)}),
            html.Div(t.usd(usd_v), className="muted")])
    gross_usd = (x["long_usd"] + x["short_usd"])
    return html.Div(className="exp-strip", children=[
        tile("Long", x["long"], x["long_usd"], t.LONG_COLOUR, "exposure-long"),
        tile("Short", x["short"], x["short_usd"], t.SHORT_COLOUR, "exposure-short"),
        tile("Gross", x["gross"], gross_usd, t.INK, "exposure-gross"),
        tile("Net", x["net"], x["long_usd"] - x["short_usd"], t.INK, "exposure-net"),
    ])


TABLE_COLUMNS = [  # (key, header, formatter, numeric)
    ("strategy", "Strategy", str, False),
    ("symbol", "Symbol", str, False),
    ("sector", "Sector", str, False),
    ("side", "Side", str, False),
    ("quantity", "Quantity", lambda v: t.num(v), True),
    ("mark", "Mark", lambda v: t.num(v, 2), True),
    ("market_value", "Market value", lambda v: t.usd(v), True),
    ("weight", "Weight", lambda v: t.pct(v, 2, signed=False), True),
    ("var95_contribution", "VaR95 contrib.", lambda v: t.usd(v), True),
    ("var95_share", "Share", lambda v: t.pct(v, 1), True),
    ("day_pnl", "Day P&L", lambda v: t.usd(v), True),
]


def positions_table(positions: list[dict[str, Any]], th: dict) -> html.Table:
    head = html.Thead(html.Tr([html.Th(h, className="num" if n else "") for _, h, _, n in TABLE_COLUMNS]))
    body = []
    for p in positions:
        p = {**p, "side": "long" if p["market_value"] >= 0 else "short"}
        over = bands.over_weight(p["weight"], th["max_weight_pct"])
        cells = []
        for key, _, fmt, numeric in TABLE_COLUMNS:
            v = p.get(key)
            cls = ["num"] if numeric else []
            if key in ("day_pnl", "var95_contribution") and v is not None:
                cls.append("neg" if (v < 0) == (key == "day_pnl") else "pos-risk" if key == "var95_contribution" else "")
            if key == "weight" and over:
                cls.append("over")
            if key == "symbol" and p.get("mark_source") == "fill":
                fmt = lambda s: f"{s} (fill-marked)"  # noqa: E731
            cells.append(html.Td("—" if v is None else fmt(v), className=" ".join(c for c in cls if c),
                                 **{"data-col": key, "data-value": "" if v is None else repr(v)}))
        body.append(html.Tr(cells, **{"data-key": f"{p['strategy']}|{p['symbol']}"}))
    return html.Table([head, html.Tbody(body)], id="positions-table", className="ptable")

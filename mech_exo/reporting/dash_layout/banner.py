"""The top of the page: the header bar (session, data age, last build, refresh) and the kill-switch banner."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from dash import html

from mech_exo.reporting.dash_layout.components import when as _when
from mech_exo.reporting.query import iso

REFRESH_MS = 30_000


def killswitch_banner(ks: dict[str, Any], zone: str | None = None) -> html.Div:
    """Red, full width and loud when trading is halted (or the switch is unreadable, which means halted)."""
    if ks["halted"]:
        if not ks["readable"]:
            head, detail = "TRADING HALTED — KILL-SWITCH UNREADABLE", ks.get("error") or ks.get("reason")
        else:
            head = "TRADING HALTED"
            detail = f"Reason: {ks['reason']}"
        meta = []
        if ks.get("trigger"):
            meta.append(f"trigger {ks['trigger']}")
        if ks.get("updated_at"):
            meta.append(f"since {_when(ks['updated_at'], zone)}")
        if ks.get("updated_by"):
            meta.append(f"by {ks['updated_by']}")
        return html.Div(id="killswitch-banner", className="ks-banner ks-halted", **{"data-state": "halted"}, children=[
            html.Div("!", className="ks-icon"),  # CSS-drawn: no emoji font needed
            html.Div([html.Div(head, className="ks-head"), html.Div(detail, className="ks-reason"),
                      html.Div(" · ".join(meta), className="ks-meta")]),
            html.Div(["Re-enable: ", html.Code("exo kill on --reason …"),
                      html.Span(" (--approved-by after monthly_stop / var_breach)")], className="ks-howto"),
        ])
    return html.Div(id="killswitch-banner", className="ks-banner ks-enabled", **{"data-state": "enabled"}, children=[
        html.Span("●", className="ks-dot"), html.B("Trading enabled"),
        html.Span(f" — {ks.get('reason') or ''}"),
        html.Span(f" · updated {_when(ks.get('updated_at'), zone)} by {ks.get('updated_by') or '—'}", className="muted"),
    ])


def health_banner(body: dict[str, Any]) -> html.Div:
    """What /health says when it answers 503: the screen may be lying. STALE DATA when the marks are
    older than the freshness limit in session, else UNHEALTHY; each problem listed as /health lists it."""
    data = body.get("data") or {}
    stale = bool(data.get("stale"))
    head = "STALE DATA" if stale else "UNHEALTHY"
    lead = (f"the latest mark is {_age(data.get('age_minutes'))} old in session "
            f"(limit {data.get('max_age_minutes')} min) — the numbers below may not be today's"
            if stale else "/health answers 503 — what this page shows may not be current")
    problems = body.get("problems") or []
    return html.Div(id="health-banner", className="health-banner", **{"data-state": "stale" if stale else "unhealthy"},
                    children=[html.B(head), f": {lead}.",
                              html.Ul([html.Li(p) for p in problems[:6]]) if problems else None])


def header(m: dict[str, Any], now: datetime, refresh_ms: int = REFRESH_MS) -> html.Div:
    bits = []
    if m.get("session_date"):
        bits.append(html.Span(["Session ", html.B(str(iso(m["session_date"])))]))
    if m.get("as_of"):
        age = m.get("data_age_minutes")
        stale = age is not None and age > (m.get("thresholds") or {}).get("freshness_max_age_minutes", 5)
        bits.append(html.Span(["Data as of ", html.B(_when(m["as_of"], _zone(m))),
                               html.Span(f" ({_age(age)} ago)", className="stale" if stale else "muted")],
                              id="data-as-of"))
    build = m.get("last_build") or {}
    if build.get("finished_at"):
        bits.append(html.Span(["Last build ", html.B(_when(build["finished_at"], _zone(m))),
                               html.Span(" ✗ failed" if build.get("ok") is False else "", className="stale")]))
    bits.append(html.Span([f"Refreshed {now:%H:%M:%S} UTC · every {refresh_ms / 1000:g} s"], id="refreshed-at",
                          className="muted"))
    return html.Div(className="topbar", children=[
        html.Div([html.Span("MECH-EXO", className="brand"), html.Span("Risk · Live", className="title")]),
        html.Div(className="topbar-meta", children=_interleave(bits)),
    ])


def _zone(m: dict[str, Any]) -> str | None:
    """The session timezone the page reads times in (``thresholds.session_timezone``)."""
    return (m.get("thresholds") or {}).get("session_timezone")


def _interleave(items: list) -> list:
    out: list = []
    for i, x in enumerate(items):
        if i:
            out.append(html.Span("|", className="sep"))
        out.append(x)
    return out


def _age(minutes: float | None) -> str:
    if minutes is None:
        return "—"
    if minutes < 90:
        return f"{minutes:.0f} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:.1f} h"
    return f"{minutes / 1440:.1f} days"

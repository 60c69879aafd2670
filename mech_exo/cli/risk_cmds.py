"""Shared plumbing of the read commands (positions, risk, fills, monthly, nav, scoring, pnl).

Why one place: every read command opens only the published snapshot ``data/analytics.duckdb``
read-only, turns "no data yet" into the same one-line error, picks "today" the same way (the
latest session *in the data*, not the wall clock — as the guards do) and renders money and
percentages the same way. Kept free of dbt / Great Expectations / Dagster imports.
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any, Iterable, Iterator

from mech_exo.cli.common import ExoError, money, pct
from mech_exo.cli.times import note_data_as_of
from mech_exo.home import Home
from mech_exo.reporting import read
from mech_exo.reporting.snapshot import NoData, snapshot

MONEY_TOL = 0.01      # USD: two P&L figures that should be equal may differ by float noise only
RATIO_TOL = 1e-9      # fractions (returns) re-derived from the same numbers


@contextmanager
def open_data(home: Home) -> Iterator[Any]:
    """The snapshot, read-only; NoData anywhere inside the block becomes a one-line ExoError (exit 1)."""
    try:
        with snapshot(home) as con:
            note_data_as_of(con, home)
            yield con
    except NoData as exc:
        raise ExoError(str(exc)) from None


def latest_session(con) -> date:
    """The latest session in the data: what "today" means for every read command."""
    d = read.latest_session(con)
    if d is None:
        raise NoData("no data yet: the snapshot has no sessions — run `exo run`")
    return d


def resolve_session(con, value: str | None) -> date:
    """``today``/``latest``/None → the latest session; ``YYYY-MM-DD`` → that session, which must exist."""
    latest = latest_session(con)
    if value is None or value.lower() in ("today", "latest"):
        return latest
    try:
        d = date.fromisoformat(value)
    except ValueError:
        raise ExoError(f"--date {value!r}: expected today or YYYY-MM-DD") from None
    if not read.has_session(con, d):
        first = read.first_session(con)
        raise ExoError(f"--date {d}: no session on that date in the snapshot "
                       f"(sessions run from {first} to {latest})")
    return d


def resolve_month(con, value: str | None) -> date:
    """``YYYY-MM`` (or None → the latest session's month) → the month's first day; it must have sessions."""
    if value is None:
        return latest_session(con).replace(day=1)
    if not re.fullmatch(r"\d{4}-\d{2}", value):
        raise ExoError(f"--month {value!r}: expected YYYY-MM")
    m = date(int(value[:4]), int(value[5:]), 1)
    if not read.has_month(con, m):
        have = ", ".join(str(x)[:7] for x in read.months(con))
        raise ExoError(f"--month {value}: no sessions in that month (months with data: {have or 'none'})")
    return m


def since(latest: date, days: int) -> date:
    """First calendar day of a ``--days N`` window ending at (and including) ``latest``."""
    if days < 1:
        raise ExoError(f"--days must be at least 1, got {days}")
    return latest - timedelta(days=days - 1)


def risk_config(home: Home) -> dict:
    from mech_exo.config import ConfigError, load_risk_config

    try:
        return load_risk_config(home.risk_yml)
    except ConfigError as exc:
        raise ExoError(str(exc)) from None


def killswitch_summary(home: Home) -> dict:
    from mech_exo.killswitch import read_state

    s = read_state(home)
    return {"trading_enabled": bool(s.readable and s.trading_enabled), "readable": s.readable,
            "reason": s.reason, "trigger": s.trigger, "updated_at": s.updated_at,
            "updated_by": s.updated_by, "path": str(s.path), "error": s.error}


def max_drawdown_usd(pnls: Iterable[float]) -> float:
    """Worst fall of cumulative P&L from its running peak (the peak starts at 0), in USD (≤ 0)."""
    cum = peak = worst = 0.0
    for p in pnls:
        cum += float(p or 0.0)
        peak = max(peak, cum)
        worst = min(worst, cum - peak)
    return worst


# --- rendering -------------------------------------------------------------------------------------

def table(title: str | None, *columns: str, compact: bool = False, **kw):
    """A rich table; a column name starting with '>' is a right-aligned (numeric) column.

    Readable at 80 columns: a long value folds onto the next line instead of being cut with an
    ellipsis, and a time column (its header says UTC, or ends in "at") keeps a whole timestamp on a
    line. ``compact`` drops the vertical rules and narrows the padding for wide tables."""
    from rich import box
    from rich.table import Table

    if compact:
        kw = {"box": box.SIMPLE_HEAD, "padding": (0, 1), **kw}
    t = Table(title=title, title_justify="left", **kw)
    for c in columns:
        name = c.lstrip(">")
        timed = "UTC" in name or name.lower().endswith(" at") or name.lower() == "at"
        number = c.startswith(">")
        # a number or a time is never split across lines ("$13,574,|077" misreads); text folds. no_wrap,
        # not min_width: rich 15 crops a table whose min_width it cannot meet
        t.add_column(name, justify="right" if number else "left", overflow="fold", no_wrap=timed or number)
    return t


def money_cell(x: float | None) -> str:
    """Money, red when negative."""
    s = money(x)
    return f"[red]{s}[/]" if x is not None and x < 0 else s


def cents(x: float | None) -> str:
    """USD with cents for differences; float noise below half a cent shows as $0.00, never $-0.00."""
    if x is None:
        return "—"
    if abs(x) < 0.005:
        return "$0.00"
    s = f"{'-' if x < 0 else ''}${abs(x):,.2f}"
    return f"[red]{s}[/]" if x < 0 else s


def pct_cell(x: float | None, digits: int = 2, signed: bool = True) -> str:
    s = pct(x, digits, signed)
    return f"[red]{s}[/]" if x is not None and x < 0 and signed else s


def status_cell(status: str) -> str:
    style = {"OK": "green", "WARNING": "yellow", "CRITICAL": "bold red", "FAIL": "bold red",
             "BREACH": "bold red", "MISMATCH": "bold red", "INFO": "cyan"}.get(status, "")
    return f"[{style}]{status}[/]" if style else status


def trading_line(ks: dict) -> str:
    if not ks["readable"]:
        return f"[bold red]DISABLED (fail closed: {ks['path']} unreadable)[/]"
    if ks["trading_enabled"]:
        return "[green]ENABLED[/]"
    return f"[bold red]DISABLED[/] ({ks['trigger']}: {ks['reason']})"

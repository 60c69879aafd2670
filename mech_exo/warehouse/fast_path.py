"""The watcher's fast path: the models the halt decision reads, built before everything else.

Why: a breach must halt in seconds, and the whole build (fill-grain tables, VaR, tests) costs many
seconds on a real book. The intraday sentinel judges ``nav_intraday`` only, and on a tick whose new
input all belongs to the current session that model depends on little that the tick changed: the
new marks (``stg_landing__marks`` → ``int_symbol_session_marks``), the new fills (``stg_landing__fills``
→ ``int_fills`` → the position / fill-price / cash timelines) and new cash flows. Those are built
first with ``dbt run`` — the same models, the same SQL: NAV's formula stays in the dbt project —
and the sentinel judges the build database; the full ``dbt build`` (tests included) follows and
finds nothing left to do in the models the fast path built.

It is only *exact* when nothing else the sentinel reads moved. ``selection`` refuses a tick that
rewrote old input, replaced files or needs a full refresh; ``ready`` checks, on the built tables,
that the tick opened no new session (``int_sessions`` is not rebuilt here) and changed nothing
before the latest session (``nav_daily``'s previous close is not rebuilt here). A tick refused by
either goes through the full build first, as before.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from mech_exo import session_calendar

MARKS = ("stg_landing__marks", "int_symbol_session_marks")
FILLS = ("stg_landing__fills", "int_fills", "int_position_timeline", "int_fill_price_timeline", "int_cash_timeline")
FLOWS = ("stg_landing__cash_flows", "int_cash_flows", "int_cash_timeline")
TARGET = "nav_intraday"


def selection(ing: Any) -> list[str] | None:
    """The models to build first for this ingest result, or None when the tick is not eligible."""
    if ing is None or ing.full_refresh or ing.files_removed or ing.dirty_from is None:
        return None
    if any((ing.blocks_relanded or {}).values()):   # an old row changed: recompute from its session on
        return None
    rows = ing.rows_read or {}
    out: list[str] = []
    if ing.n_marks_landed:
        out += MARKS
    if rows.get("fills"):
        out += FILLS
    if rows.get("cash_flows"):
        out += FLOWS
    if not out:
        return None
    out.append(TARGET)
    return list(dict.fromkeys(out))


def ready(con, dirty_from: datetime, session: Mapping) -> tuple[bool, str]:
    """On the build database after the fast run: is ``nav_intraday`` now what the full build makes?"""
    latest = con.execute("select max(session_date) from int_sessions").fetchone()[0]
    if latest is None:
        return False, "no session yet"
    newest = con.execute("select max(local_date) from int_symbol_session_marks").fetchone()[0]
    if newest is not None and newest > latest:
        return False, f"the tick opened session {newest}"
    fills_after = con.execute("select max(local_date) from stg_landing__fills").fetchone()[0]
    if fills_after is not None and fills_after > latest:
        return False, f"fills dated after the latest session ({fills_after})"
    changed = session_calendar.local_date(dirty_from, session)
    if changed < latest:
        return False, f"the tick changed {changed}, before the latest session {latest}"
    return True, f"session {latest}"

"""Shared CLI plumbing: the home option, JSON output, money/percent formatting, failure exits.

Kept free of heavy imports (dbt, Great Expectations, Dagster): read commands must answer fast.
"""
from __future__ import annotations

import functools
import json
from datetime import date, datetime
from typing import Any, Callable

import click

from mech_exo.home import Home
from mech_exo.reporting.jsonable import _utc


class ExoError(click.ClickException):
    """A failure the user can act on: printed as one line, exit code 1."""

    def show(self, file=None) -> None:  # one readable line, no traceback
        click.echo(f"error: {self.format_message()}", err=True)


def get_home(ctx: click.Context) -> Home:
    obj = ctx.find_root().obj or {}
    return obj.get("home") or Home.resolve(None)


def pass_home(f: Callable) -> Callable:
    """Decorator (innermost): call ``f(home, ...)`` with the home from --home / EXO_HOME / cwd.

    Every command also takes ``--home`` itself, so `exo demo --home X` works as well as
    `exo --home X demo` (the command's own option wins)."""
    @functools.wraps(f)
    def wrapper(*args, home_override: str | None = None, **kwargs):
        ctx = click.get_current_context()
        home = Home.resolve(home_override) if home_override else get_home(ctx)
        return f(home, *args, **kwargs)
    return click.option("--home", "home_override", type=click.Path(file_okay=False), default=None,
                        help="Home directory (default: exo --home, $EXO_HOME, else the current directory).")(wrapper)


json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout.")


def _default(o: Any) -> Any:
    if isinstance(o, datetime):  # ISO-8601 with its offset; the snapshot's naive timestamps are UTC
        return _utc(o).isoformat()
    if isinstance(o, date):
        return o.isoformat()
    if hasattr(o, "item"):  # numpy scalars
        return o.item()
    return str(o)


def emit_json(payload: Any) -> None:
    """JSON on stdout. A read command's payload gains ``data`` {as_of, age_seconds}: how old what it
    read is (``mech_exo.cli.times``)."""
    from mech_exo.cli.times import data_age, noted

    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.meta["exo.json"] = True
    got = noted()
    if got is not None and isinstance(payload, dict) and "data" not in payload:
        payload = {**payload, "data": data_age(got[0])}
    click.echo(json.dumps(payload, default=_default, indent=2, sort_keys=False))


def money(x: float | None) -> str:
    if x is None:
        return "—"
    sign = "-" if x < 0 else ""
    return f"{sign}${abs(x):,.0f}"


def pct(x: float | None, digits: int = 2, signed: bool = True) -> str:
    """A fraction as a percentage: -0.0093 → '-0.93%'."""
    if x is None:
        return "—"
    return f"{x * 100:+.{digits}f}%" if signed else f"{x * 100:.{digits}f}%"


SEVERITY_STYLE = {"CRITICAL": "bold red", "WARNING": "yellow", "INFO": "cyan", "OK": "green",
                  "WARN": "yellow", "FAIL": "bold red", None: ""}


def console():
    from rich.console import Console
    return Console(highlight=False, soft_wrap=False, width=_term_width())


def _term_width() -> int:
    import shutil
    return shutil.get_terminal_size((120, 40)).columns


def fail(msg: str) -> None:
    raise ExoError(msg)

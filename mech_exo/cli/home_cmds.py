"""`exo init`, `exo run`, `exo demo`: make a home, run the pipeline on it, tell the story."""
from __future__ import annotations

import sys
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import click

from mech_exo.cli.common import ExoError, console, emit_json, json_option, money, pass_home, pct
from mech_exo.home import Home, init_home


@click.command("init")
@click.option("--force", is_flag=True, help="Overwrite existing config files with the templates.")
@json_option
@pass_home
def init_cmd(home: Home, force: bool, as_json: bool) -> None:
    """Write a fresh home: config templates and folders. Existing data is never touched."""
    from mech_exo.instance import ensure_instance_storage

    written = init_home(home, force=force)
    from mech_exo.killswitch import ensure_halt_file

    ensure_halt_file(home)  # pre-allocated while there is space: a halt lands even on a full disk
    # create the Dagster storages now, once: a bare `dagster dev` on this home starts its webserver
    # and daemon together, and two first opens of a fresh instance corrupt it (mech_exo/instance.py)
    ensure_instance_storage(home)
    if as_json:
        emit_json({"home": str(home.root), "configs": [{"path": p, "action": a} for p, a in written]})
        return
    c = console()
    c.print(f"home: [bold]{home.root}[/]")
    for path, action in written:
        c.print(f"  {action:8} {path}")
    c.print("next: put fills in data/trading.db and marks under data/market/, then `exo run`")


def _parse_now(value: str | None) -> datetime | None:
    if not value:
        return None
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def print_report(report, c, home: Home | None = None) -> None:
    """The short status every run ends with (times in the home's session zone, with UTC)."""
    from rich.table import Table

    from mech_exo.cli.times import DEFAULT_ZONE, session_zone, when

    zone = session_zone(home) if home is not None else ZoneInfo(DEFAULT_ZONE)

    h = report.headline or {}
    if report.ingest:
        c.print(f"ingest #{report.ingest['landed_seq']}: {report.ingest['n_fills']} fills, "
                f"{report.ingest['n_flows']} cash flows, {report.ingest['n_marks']} marks "
                f"({len(report.ingest['files_landed'])} file(s) landed)"
                + (" — full refresh" if report.ingest.get("full_refresh") else ""))
    if report.unchanged_since:
        c.print(f"nothing the build reads changed since run {report.unchanged_since[:8]}: "
                "the guards re-judged the published snapshot (`exo run --full-refresh` rebuilds)")
    if report.ok:
        c.print(f"[green]pipeline OK[/] in {report.duration_s:.1f}s (run {str(report.run_id)[:8]})")
    else:
        c.print(f"[bold red]pipeline FAILED at {report.failed_step}[/]: {report.error}")
    if h.get("session_date"):
        t = Table(title=f"Latest session {h['session_date']}", show_header=False, box=None, padding=(0, 2))
        t.add_row("NAV (close)", money(h.get("nav")))
        t.add_row("Day P&L / return", f"{money(h.get('day_pnl'))}  {pct(h.get('day_return'))}")
        t.add_row("Latest intraday", f"{when(h.get('latest_ts'), zone)}  {pct(h.get('latest_day_return'))} "
                                     f"(worst {pct(h.get('worst_day_return'))})")
        t.add_row("MTD return / drawdown", f"{pct(h.get('mtd_return'))} / {pct(h.get('mtd_drawdown'))}"
                                          f"  ({h.get('history_days')} sessions of history)")
        t.add_row("VaR 95 / 99", f"{money(h.get('var95_usd'))} ({pct(h.get('utilization95'), 1, False)} of limit) / "
                                 f"{money(h.get('var99_usd'))} ({pct(h.get('utilization99'), 1, False)})  level={h.get('level')}")
        c.print(t)
    if report.build:
        b = report.build
        c.print(f"dbt build: {'ok' if b.get('success') else '[red]failed[/]'}; "
                f"{len(b.get('failed_models', []))} model(s) failed, {len(b.get('failed_tests', []))} test(s) failed")
        for f in (b.get("failed_models", []) + b.get("failed_tests", []))[:10]:
            c.print(f"  [red]failed[/] {f}")
    if report.checks:
        bad = [o for o in report.checks if not o["passed"]]
        c.print(f"data checks: {len(report.checks) - len(bad)} passed, {len(bad)} failed")
        for o in bad[:10]:
            style = "yellow" if o["severity"] == "WARN" else "red"
            c.print(f"  [{style}]{o['severity']}[/] {o['suite']}.{o['check']}: {o['observed']}")
    for g in report.guards:
        if not g.get("severity"):
            continue
        style = {"CRITICAL": "bold red", "WARNING": "yellow"}.get(g["severity"], "cyan")
        act = " → TRADING HALTED" if g.get("halted") else (" (switch already off)" if g.get("halt") else "")
        c.print(f"  [{style}]{g['severity']}[/] {g['guard']}: {g['message']}{act}")


@click.command("run")
@click.option("--full-refresh", is_flag=True, help="Rebuild every model from scratch (after removed inputs).")
@click.option("--no-guards", is_flag=True, help="Build and check only; do not evaluate the guards.")
@click.option("--now", default=None, help="Evaluate as of this UTC instant (ISO-8601); default: the clock.")
@json_option
@pass_home
def run_cmd(home: Home, full_refresh: bool, no_guards: bool, now: str | None, as_json: bool) -> None:
    """Run the data pipeline once, in-process: ingest → dbt build → checks → guards."""
    from mech_exo.flows.run import run_pipeline

    c = console()
    if not home.risk_yml.exists():
        raise ExoError(f"{home.root} is not a home (no config/risk.yml) — run `exo init` first")
    report = run_pipeline(home, now=_parse_now(now), full_refresh=full_refresh, guards=not no_guards,
                          by=f"cli:{_user()}", progress=None if as_json else (lambda m: c.print(f"• {m}")))
    if as_json:
        from mech_exo.runstate import as_jsonable
        emit_json(as_jsonable(report))
    else:
        print_report(report, c, home)
    if not report.ok:
        sys.exit(1)


def _user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001
        return "unknown"


def _after_close(home: Home, day: date) -> datetime:
    from mech_exo.config import load_risk_config
    from mech_exo.session_calendar import after_close

    return after_close(day, load_risk_config(home.risk_yml)["session"], 10)


@click.command("demo")
@click.option("--seed", default=7, show_default=True, help="Random seed (the demo is deterministic).")
@click.option("--end-date", default=None, metavar="YYYY-MM-DD",
              help="Last session of the demo history (default: the last session that closed before now).")
@click.option("--force", is_flag=True, help="Rebuild the demo home even if it exists.")
@click.option("--leave-halted", is_flag=True,
              help="Stop after the story's run: its halt stays in effect and its alerts unacknowledged.")
@click.option("--live", is_flag=True,
              help="Build the home without its last session (green), then play that session in accelerated "
                   "time with the watcher running: marks and fills arrive, the crash halts trading.")
@click.option("--speed", type=click.FloatRange(min=1), default=60.0, show_default=True,
              help="With --live: how many times faster than real time the session plays.")
@json_option
@pass_home
def demo_cmd(home: Home, seed: int, end_date: str | None, force: bool, leave_halted: bool, live: bool,
             speed: float, as_json: bool) -> None:
    """Make a demo home with a year of sample data whose story trips the guards, run it, show what happened.

    The history ends at the last session that closed before now (deterministic for a given date).
    Its last session falls through the intraday stop and trading halts; then the demo's on-call does
    what the run-book asks — acknowledges the CRITICAL alerts, re-enables trading with a reason, runs
    a live rollback drill — so the home is healthy until the next incident, and all of it is in the
    audit trail (`exo kill history`, `exo alerts history`, `exo drill status`, SQL).

    --live plays the last session instead, in front of you: the home is built up to the session
    before (green), then the last session's marks and fills arrive --speed times faster than real
    time while the session watcher runs; the crash halts trading, the alert goes out, and it is
    yours to acknowledge and re-enable (`exo alerts ack`, `exo kill on`).

    Use --home to choose where (default: the current directory). Telegram is not used unless
    TELEGRAM_BOT_TOKEN is set: alerts go to the console and the alert log.
    """
    import shutil

    from mech_exo.config import load_risk_config
    from mech_exo.demo_data import write_demo_inputs
    from mech_exo.demo_data.aftermath import after_the_incident, last_session_before
    from mech_exo.flows.run import run_pipeline

    c = console()
    if live and as_json:
        raise ExoError("--live plays the session on the terminal: it takes no --json")
    if home.trading_db.exists() and not force:
        raise ExoError(f"{home.trading_db} exists — this home already has data; use --force to rebuild the demo")
    if force:
        for sub in (home.data_dir, home.reports_dir, home.config_dir):
            shutil.rmtree(sub, ignore_errors=True)
        home.drill_lock.unlink(missing_ok=True)
    init_home(home)
    try:
        last = (date.fromisoformat(end_date) if end_date else
                last_session_before(datetime.now(timezone.utc), load_risk_config(home.risk_yml)["session"]))
    except ValueError:
        raise ExoError(f"--end-date {end_date!r}: expected YYYY-MM-DD") from None
    story = write_demo_inputs(home, seed=seed, end_date=last)
    if not as_json:
        c.print(f"demo home: [bold]{home.root}[/]")
        c.print(f"  {story['n_sessions']} sessions ({story['first_session']} → {story['last_session']}), "
                f"{story['n_symbols']} symbols, {len(story['strategies'])} strategies, NAV ≈ {money(story['nav_last'])}")
        for line in story.get("expect", []):
            c.print(f"  story: {line}")
    judged_day = date.fromisoformat(story["last_session"])
    held = None
    if live:
        from mech_exo.cli.demo_live import hold_last_session

        held, judged_day = hold_last_session(home, story)
        c.print(f"  live: session {held.day} held back ({len(held.points)} mark times, {len(held.fills)} fills) — "
                f"building up to {judged_day}")
    # Judge the story as its last day ends (10 minutes after the close), not at the wall clock:
    # the demo is deterministic, and the freshness watch is not fooled into "stale in session".
    now = story.get("evaluate_at") or _after_close(home, judged_day)
    report = run_pipeline(home, now=now, by="exo demo",
                          progress=None if as_json else (lambda m: c.print(f"• {m}")))
    if not as_json:
        print_report(report, c, home)
    after = None
    if live and report.ok:
        from mech_exo.cli.demo_live import play

        after_the_incident(home, story, progress=lambda m: c.print(f"  {m}"))  # a live drill on record
        out = play(home, held, speed, c)
        c.print(f"session {out['day']} played; trading "
                + (f"[bold red]HALTED[/] ({out['trigger']}: {out['reason']}); CRITICAL alert(s) "
                   f"{', '.join(out['critical_alerts'])} — `exo alerts ack ID --by NAME`, then "
                   "`exo kill on --reason …`" if out["halted"] else "[green]ENABLED[/]"))
        return
    if report.ok and not leave_halted:
        if not as_json:
            c.print("[bold]after the incident[/] (the demo's on-call, as the run-book asks):")
        after = after_the_incident(home, story, progress=None if as_json else (lambda m: c.print(f"  {m}")))
    if as_json:
        from mech_exo.runstate import as_jsonable
        emit_json({"story": as_jsonable(story), "report": as_jsonable(report), "after_the_incident": as_jsonable(after)})
    else:
        from mech_exo.killswitch import read_state

        st = read_state(home)
        state = "[green]ENABLED[/]" if st.trading_enabled else f"[bold red]DISABLED[/] ({st.trigger}: {st.reason})"
        c.print(f"kill-switch: trading {state}")
        c.print(f"next: `exo --home {home.root} kill status`, `exo --home {home.root} monthly status`, "
                f"SQL on {home.analytics_db}")
    if not report.ok:
        sys.exit(1)

"""`exo drill rollback` and `exo drill status` (SPEC §6). The work is in mech_exo/drill.py."""
from __future__ import annotations

import signal
import sys

import click

from mech_exo.cli.common import ExoError, console, emit_json, json_option, pass_home

BADGE_STYLE = {"green": "bold green", "yellow": "bold yellow", "red": "bold red"}


@click.group()
def drill() -> None:
    """Rollback drills: run one, show status."""


def _progress(con, quiet: bool):
    """Step lines and a one-line countdown for step C (on stderr when --json keeps stdout clean)."""
    state = {"last_len": 0}

    def show(event: str, **kw) -> None:
        if event == "wait":
            total, left = kw["total"], kw["remaining"]
            line = f"  C waiting: {left:>4d}s left of {total}s " + _bar(total - left, total)
            if con.is_terminal:
                con.file.write("\r" + line.ljust(state["last_len"]))
                con.file.flush()
                state["last_len"] = len(line)
                if left == 0:
                    con.file.write("\n")
            elif left == 0 or left % 10 == 0 or left == total:
                con.print(line, markup=False)
        elif event == "step_start" and not quiet:
            con.print(f"[bold]{kw['step']}[/bold] {kw['name']} …")
        elif event == "step_end":
            mark = "[green]OK[/green]" if kw["ok"] else "[bold red]FAILED[/bold red]"
            con.print(f"  {kw['step']} {mark} in {kw['duration_s']:.3f}s — ", end="")
            con.print(kw["detail"], markup=False)
        elif event == "notice":
            con.print(f"[yellow]![/yellow] {kw['message']}", markup=True)
    return show


def _bar(done: int, total: int, width: int = 30) -> str:
    filled = width if total <= 0 else int(width * done / total)
    return "[" + "#" * filled + "." * (width - filled) + "]"


@drill.command("rollback")
@click.option("--dry-run", is_flag=True, help="Run the same cycle on a copy of the kill-switch; live state untouched.")
@click.option("--wait", "wait_s", type=click.IntRange(min=0), default=120, show_default=True,
              help="Seconds to hold trading disabled in step C.")
@json_option
@pass_home
def rollback(home, dry_run: bool, wait_s: int, as_json: bool) -> None:
    """Back up the kill-switch (A), switch trading off (B), wait (C), restore and verify (D).

    A live drill really halts trading for --wait seconds and refuses to start while trading is already
    disabled. A stale lock left by a drill that died is recovered first (the switch is restored from its
    backup and the dead drill recorded as ABORTED). Exit 0 on PASS, 1 on FAIL or refusal.
    """
    from rich.console import Console

    from mech_exo.drill import DrillRefused, run_drill

    con = Console(stderr=True, highlight=False) if as_json else console()
    mode = "DRY RUN on a copy" if dry_run else "LIVE — trading will be halted"
    if not as_json:
        con.print(f"Rollback drill ({mode}), wait {wait_s}s, home {home.root}")
    previous = signal.signal(signal.SIGTERM, _term_as_interrupt)
    try:
        rec = run_drill(home, dry_run=dry_run, wait_s=wait_s, skip_frequency_check=True, by="cli",
                        progress=_progress(con, quiet=False))
    except DrillRefused as exc:
        raise ExoError(f"drill refused: {exc}") from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    if as_json:
        emit_json(rec)
    else:
        _print_result(con, rec)
    if rec["status"] not in ("PASS", "SKIPPED"):
        sys.exit(1)


def _term_as_interrupt(signum, frame) -> None:
    """`kill PID` (SIGTERM) during a drill is treated like Ctrl-C: the failing step triggers the
    emergency restore instead of leaving trading halted behind a stale lock."""
    raise KeyboardInterrupt(f"signal {signum}")


def _print_result(con, rec: dict) -> None:
    style = "bold green" if rec["status"] == "PASS" else "bold red"
    con.print(f"[{style}]{rec['status']}[/{style}] drill {rec['drill_id']} in {rec['duration_s']:.1f}s"
              + (f" — step {rec['failed_step']}: " if rec.get("failed_step") else ""), end="")
    con.print(rec.get("error") or "", markup=False)
    er = rec.get("emergency_restore")
    if er:
        con.print(f"emergency restore: {'OK' if er['ok'] else 'NOT OK'} — ", end="")
        con.print(er["detail"], markup=False)
    if rec.get("backup_path"):
        con.print(f"backup kept: {rec['backup_path']}", markup=False)
    con.print(f"report: {rec.get('report_file')}", markup=False)


@drill.command("status")
@json_option
@pass_home
def status(home, as_json: bool) -> None:
    """Last drill, days since the last LIVE pass and the badge (green < 90, yellow 90–120, red > 120 or never).

    If a drill died holding the lock, it is recovered here (switch restored from its backup, ABORTED recorded).
    """
    from mech_exo.drill import drill_status, recover_stale_drill

    con = console()
    recovered = None
    if drill_status(home)["lock"]["stale"]:
        recovered = recover_stale_drill(home)
    st = drill_status(home)
    if as_json:
        emit_json({**st, "recovered": recovered})
        return
    if recovered and recovered["status"] == "recovered":
        con.print(f"[bold yellow]Recovered a dead drill[/bold yellow] {recovered['drill_id']}: ", end="")
        con.print(f"{recovered['lock']['why']}; {recovered['restore']['detail']} — recorded as ABORTED, "
                  f"report {recovered['record']['report_path']}", markup=False)
    elif recovered:
        con.print(f"[yellow]{recovered['status']}[/yellow]: {recovered.get('detail', '')}", markup=False)
    _print_status(con, st)


def _print_status(con, st: dict) -> None:
    from rich.table import Table

    t = Table(show_header=False, box=None)
    last, live = st["last_drill"], st["last_live_pass"]
    days = st["days_since_last_live_pass"]
    badge = st["badge"]
    t.add_row("Badge", f"[{BADGE_STYLE[badge]}]{badge.upper()}[/]")
    t.add_row("Days since last live pass", "never" if days is None else f"{days:.1f}")
    t.add_row("Last live pass", f"{live['drill_id']} at {live['finished_at']}" if live else "never")
    t.add_row("Next live drill due", st["next_due"] or "now (no live pass on record)")
    if last:
        mode = "dry-run" if last.get("dry_run") else "live"
        extra = f" step {last['failed_step']}" if last.get("failed_step") else ""
        t.add_row("Last drill", f"{last['drill_id']} {mode} {last['status']}{extra} at {last['finished_at']} "
                                f"({last.get('duration_s')}s)")
        t.add_row("Last report", str(last.get("report_path")))
    else:
        t.add_row("Last drill", "none on record")
    lk = st["lock"]
    t.add_row("Drill running", lk["why"] if lk["exists"] else "no")
    t.add_row("Drills on record", str(st["drills_total"]) +
              (f" ({st['corrupt_lines']} corrupt line(s) in {st['log']})" if st["corrupt_lines"] else ""))
    con.print(t)

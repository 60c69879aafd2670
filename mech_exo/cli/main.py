"""Entry point of `exo`. Each command group lives in its own module and is imported lazily, so
`exo kill status` never pays for dbt, Great Expectations or Dagster imports."""
from __future__ import annotations

import errno
import importlib
import signal
import sys

import click

from mech_exo.home import Home

# group name -> (module, attribute, one-line help). Add a group here and in its module.
GROUPS: dict[str, tuple[str, str, str]] = {
    "init": ("mech_exo.cli.home_cmds", "init_cmd", "Write a fresh home (config templates, folders)."),
    "run": ("mech_exo.cli.home_cmds", "run_cmd", "Run the data pipeline once: ingest → dbt build → checks → guards."),
    "watch": ("mech_exo.cli.watch", "watch_cmd", "The session watcher in the foreground: a tick per input change, a halt in seconds."),
    "demo": ("mech_exo.cli.home_cmds", "demo_cmd", "Build a demo home whose story trips the guards, run it, show what happened."),
    "kill": ("mech_exo.cli.kill", "kill", "Kill-switch: status, history, off, on."),
    "drill": ("mech_exo.cli.drill", "drill", "Rollback drills: run one, show status."),
    "alerts": ("mech_exo.cli.alerts", "alerts", "Alert config, history, acknowledgement."),
    "positions": ("mech_exo.cli.positions", "positions", "Today's positions and the book's exposures."),
    "risk": ("mech_exo.cli.risk", "risk", "Risk now, limit violations, month-to-date attribution."),
    "fills": ("mech_exo.cli.fills", "fills", "Fills of the latest session, with a summary."),
    "monthly": ("mech_exo.cli.monthly", "monthly", "Month-to-date return, drawdown and the monthly guard."),
    "nav": ("mech_exo.cli.nav", "nav", "NAV series and its re-derivation checks."),
    "scoring": ("mech_exo.cli.scoring", "scoring", "Per-strategy health figures (no factor model)."),
    "pnl": ("mech_exo.cli.pnl", "pnl", "Recompute a day's P&L from the snapshot (NAV vs strategies)."),
    "test": ("mech_exo.cli.test_cmds", "test", "Exercise the alarm chain: test alert, monthly guard dry run."),
    "data": ("mech_exo.cli.data", "data", "Validate the data (GE, raw inputs), refresh it, repair it by a full rebuild."),
    "health": ("mech_exo.cli.health", "health", "Health of the snapshot database, the installation, every component."),
    "flows": ("mech_exo.cli.flows", "flows", "Dagster jobs, sensors, schedules: status, runs, restart, monitor, dev."),
    "sql": ("mech_exo.cli.sql", "sql_cmd", "SQL on the published snapshot, read-only (no QUERY: an interactive shell)."),
    "dashboard": ("mech_exo.cli.dashboard", "dashboard", "The risk dashboard process: status, restart, stop, health."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(GROUPS)

    def get_command(self, ctx, name):
        spec = GROUPS.get(name)
        if spec is None:
            return None
        module = importlib.import_module(spec[0])
        return getattr(module, spec[1])

    def invoke(self, ctx):
        rv = super().invoke(ctx)
        if not ctx.meta.get("exo.json"):  # a read command ends with the age of what it showed
            from mech_exo.cli.times import data_line

            line = data_line()
            if line:
                click.secho(line, dim=True)
        return rv

    def format_commands(self, ctx, formatter):
        rows = [(name, GROUPS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option("--home", "home", type=click.Path(file_okay=False), default=None,
              help="Home directory (default: $EXO_HOME, else the current directory).")
@click.version_option(package_name="mech-exo-riskops")
@click.pass_context
def cli(ctx: click.Context, home: str | None) -> None:
    """Mech-Exo risk operations: NAV, P&L, drawdown and VaR; the kill-switch; alerts; drills."""
    ctx.ensure_object(dict)
    ctx.obj["home"] = Home.resolve(home)


# errors of the machine, not of the code: one line naming the file, no traceback
_MACHINE_ERRNOS = {errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
                   errno.EPERM: "operation not permitted", errno.ENOSPC: "the disk is full",
                   errno.EDQUOT: "the disk quota is exceeded"}


def _on_sigterm(signum, frame) -> None:
    # SIGTERM ends every exo process like Ctrl-C does (finally-blocks run, locks and slots are freed)
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> None:
    from mech_exo.config import ConfigError

    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        cli(prog_name="exo")
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        click.echo("  fix the file (it is read again on the next command); until then the guards keep "
                   "trading halted", err=True)
        sys.exit(2)
    except OSError as exc:
        why = _MACHINE_ERRNOS.get(exc.errno or -1)
        if why is None:
            raise
        where = exc.filename or "the home"
        click.echo(f"error: cannot write {where}: {why} ({errno.errorcode.get(exc.errno, exc.errno)})", err=True)
        click.echo("  `exo` needs its home writable (EXO_HOME / --home); read-only commands work on a copy or "
                   "on data/analytics.duckdb with any SQL client", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()

"""A Dagster logger that prints one line per step start/finish on stderr: `exo run`'s progress."""
import logging
import sys

import dagster as dg

STEP_EVENTS = {"STEP_START": "started", "STEP_SUCCESS": "done", "STEP_FAILURE": "FAILED"}


class _StepHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, "dagster_meta", {}).get("dagster_event")
        kind = getattr(event, "event_type_value", None)
        if kind in STEP_EVENTS:
            print(f"  {event.step_key}: {STEP_EVENTS[kind]}", file=sys.stderr, flush=True)


@dg.logger(description="Step start/finish lines on stderr (used by `exo run`).")
def exo_progress(init_context) -> logging.Logger:
    lg = logging.Logger("exo_progress", level=logging.DEBUG)
    lg.addHandler(_StepHandler())
    return lg


class _TickHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", {}) or {}
        msg = meta.get("orig_message") or ""
        if isinstance(msg, str) and msg.startswith("tick "):
            # the terminal's stdout: the job's own stdout (dbt's echo) is redirected to the run log
            print(msg, file=sys.__stdout__ or sys.stdout, flush=True)


@dg.logger(description="The watcher's one line per tick on stdout (used by `exo watch`).")
def exo_ticks(init_context) -> logging.Logger:
    lg = logging.Logger("exo_ticks", level=logging.INFO)
    lg.addHandler(_TickHandler())
    return lg


@dg.logger(config_schema={"path": str, "log_level": dg.Field(str, default_value="INFO", is_required=False)},
           description="Dagster's own log lines (and stack traces) into a file: `exo run` keeps the terminal to "
                       "its one-line reasons and writes the rest to data/warehouse/last_run.log.")
def exo_file_log(init_context) -> logging.Logger:
    lg = logging.Logger("exo_file_log", level=getattr(logging, init_context.logger_config["log_level"].upper()))
    handler = logging.FileHandler(init_context.logger_config["path"], encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    lg.addHandler(handler)
    return lg

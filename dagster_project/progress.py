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

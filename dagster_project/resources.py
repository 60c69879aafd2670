"""Resources shared by every integration module."""

import os

import dagster as dg

from mech_exo.home import Home


class ExoHomeResource(dg.ConfigurableResource):
    """The home this code location watches (SPEC §1). dbt's profile finds it through the
    ``EXO_HOME`` environment variable, so the resource exports it when a run starts."""

    root: str
    # Evaluation instant (ISO-8601 UTC) for ingest's "future timestamp" rule and the freshness
    # check; empty = the wall clock. `exo run --now` and the demo set it.
    now: str = ""
    # Who the guard step acts as in the kill-switch history ("cli:alice" for `exo run`);
    # empty = "dagster:<run id>" (a run launched by the daemon, a schedule or the UI).
    actor: str = ""

    @property
    def home(self) -> Home:
        return Home.resolve(self.root)

    @property
    def now_dt(self):
        from datetime import datetime, timezone

        if not self.now:
            return None
        dt = datetime.fromisoformat(self.now.replace("Z", "+00:00"))
        return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        os.environ["EXO_HOME"] = str(self.home.root)


def default_home() -> Home:
    """The home of this process: ``EXO_HOME``, else the current directory (as the CLI)."""
    return Home.resolve(None)

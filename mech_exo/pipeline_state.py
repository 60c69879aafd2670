"""What the pipeline's checks left for the guards: which checks failed on the current snapshot
(``checks.json``, read fail-closed) and the CRITICAL alerts a failed step or failed checks raise."""
from __future__ import annotations

import json
import os
from datetime import datetime
from typing import Any

from mech_exo.home import Home
from mech_exo.runstate import as_jsonable, read_failed_checks, utc_now  # noqa: F401 — re-exported


def pipeline_failure_alert(home: Home, step: str, error: str, guards_ran: bool = False) -> None:
    """Risk that cannot be computed is risk that is not watched: say so loudly (never raises)."""
    consequence = ("guards ran and treat the data as SUSPECT" if guards_ran
                   else "guards did not run on new data (last good snapshot kept)")
    try:
        from mech_exo.alerts import send_alert

        send_alert(home, severity="CRITICAL", type="pipeline",
                   message=f"DATA PIPELINE FAILED at {step}: {error} — {consequence}",
                   dedup_key=f"pipeline:{step}:{error[:120]}")
    except Exception:  # noqa: BLE001 — an alert failure must not mask the pipeline failure
        pass


def alert_failed_checks(home: Home, failed: list[str]) -> None:
    """The guards judged the snapshot before its GE suites ran (a halt never waits for them): tell
    the on-call that those decisions rest on data that failed its checks."""
    if not failed:
        return
    from mech_exo.alerts import send_alert

    send_alert(home, severity="CRITICAL", type="data_checks",
               message=f"DATA SUSPECT: {len(failed)} data check(s) failed on the published snapshot: "
                       f"{', '.join(failed[:5])} — guard decisions on it stand (fail closed); "
                       "take the run-book's data-issue path",
               dedup_key=f"data-checks:{','.join(sorted(failed))[:200]}")


def record_checks(home: Home, outcomes: list[Any], dbt_failed: list[str]) -> list[str]:
    """Persist which checks failed on the current snapshot: every guard tick reads it, so an
    alert raised on suspect data says so (``DATA SUSPECT``) whichever process raises it."""
    from mech_exo.checks import failed_check_names

    failed = failed_check_names(outcomes) + [f"dbt:{name}" for name in dbt_failed]
    home.state_dir.mkdir(parents=True, exist_ok=True)
    path = home.state_dir / "checks.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"at": utc_now().isoformat(), "failed": failed,
                               "outcomes": [as_jsonable(o) for o in outcomes]}, default=str, indent=1))
    os.replace(tmp, path)
    return failed


def run_checks_on_snapshot(home: Home, con, now: datetime | None, *, full: bool = False) -> list[Any]:
    """The suites after a build: on the rows it wrote (scope 'new'), every row after a full
    refresh (``full``); `exo data validate` checks whole tables."""
    from mech_exo.checks import SUITES, load_suite, recorded, run_checks  # Great Expectations: slow import

    outcomes = run_checks(home, con=con, now=now, scope="all" if full else "new")
    if full:  # every row was checked: exactly the row rules `exo data validate` runs on this publish
        fresh = {(n, s.freshness.check) for n in SUITES if (s := load_suite(n)).freshness}
        recorded.save(home, recorded.key(home, con, "all"), [o for o in outcomes if (o.suite, o.check) not in fresh])
    return outcomes

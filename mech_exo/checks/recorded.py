"""Row-rule results of a published snapshot, kept so `exo data validate` answers in under a second.

The row rules (GX expectations over every row) depend only on the published models, the suites,
``config/risk.yml`` and the checks' code; so their outcomes are kept (``data/state/validated.json``)
under a key of exactly those: the snapshot's publish id (``mech_exo.snapshot.publication_id``:
event refreshes keep it, the next build changes it; trusted only while the file is as exo wrote
it, ``snapshot.as_written``), the bytes of the suite files, of risk.yml and
of ``mech_exo/checks/*.py``, and the scope asked (whole snapshot or a --date/--range). Anything
else — a new build, an edited suite or threshold — is a different key: the rules run again (GX,
seconds) and that result is kept. The freshness checks depend on the clock and are judged on every
call (``run_checks(parts=("freshness",))``, milliseconds).
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from mech_exo.checks.suites import EXPECTATIONS_DIR, SUITES, CheckOutcome
from mech_exo.home import Home
from mech_exo.snapshot import as_written, publication_id

FILE = "validated.json"
KEEP = 8   # keys kept (the whole snapshot and a few scopes of the current publish)


def key(home: Home, con: Any, scope: str) -> str | None:
    """The key of the row-rule results of the snapshot ``con`` reads; None when it has no publish id
    or the file is not as exo wrote it (someone opened it for writing: nothing kept is trusted)."""
    pid = publication_id(con) if as_written(home) else None
    if pid is None:
        return None
    h = hashlib.sha256(f"{pid}\0{scope}\0".encode())
    for name in SUITES:
        h.update((Path(EXPECTATIONS_DIR) / f"{name}.yml").read_bytes())
    for f in sorted(Path(__file__).parent.glob("*.py")):
        h.update(f.read_bytes())
    try:
        h.update(home.risk_yml.read_bytes())
    except OSError:
        return None
    return h.hexdigest()


def load(home: Home, k: str | None) -> list[CheckOutcome] | None:
    if k is None:
        return None
    try:
        rec = json.loads((home.state_dir / FILE).read_text())
        return [CheckOutcome(**o) for o in rec[k]["outcomes"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save(home: Home, k: str | None, outcomes: list[CheckOutcome]) -> None:
    """Best effort: a read-only home re-runs the rules next time."""
    if k is None:
        return
    path = home.state_dir / FILE
    try:
        rec = json.loads(path.read_text())
        if not isinstance(rec, dict):
            rec = {}
    except (OSError, ValueError):
        rec = {}
    rec.pop(k, None)
    rec[k] = {"outcomes": [asdict(o) for o in outcomes]}
    rec = dict(list(rec.items())[-KEEP:])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(rec, default=str))
        os.replace(tmp, path)
    except OSError:
        pass

"""Run dbt on a home: ``dbt build`` / ``dbt parse`` in-process, results as plain dataclasses.

Used by the session-long watcher (a manifest parsed once, so a tick skips dbt's parse), by tests
and benchmarks; the ``data_pipeline`` job builds through dagster-dbt with the same project,
profile and vars (``dbt_args``). Target and logs live in the home, never in the checkout.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from mech_exo.config import dbt_vars, load_risk_config
from mech_exo.home import REPO_ROOT, Home, exo_home_env
from mech_exo.warehouse import PipelineError

DBT_PROJECT_DIR = REPO_ROOT


@dataclass
class NodeResult:
    name: str
    resource_type: str  # model | test | unit_test | seed ...
    status: str         # success | error | pass | fail | warn | skipped
    message: str = ""
    failures: int = 0
    execution_time: float = 0.0


@dataclass
class BuildResult:
    success: bool
    nodes: list[NodeResult] = field(default_factory=list)
    duration_s: float = 0.0
    full_refresh: bool = False
    error: str | None = None

    def count(self, resource_types: tuple[str, ...], statuses: tuple[str, ...]) -> int:
        return sum(1 for n in self.nodes if n.resource_type in resource_types and n.status in statuses)

    @property
    def models_ok(self) -> int:
        return self.count(("model",), ("success",))

    @property
    def models_failed(self) -> list[NodeResult]:
        return [n for n in self.nodes if n.resource_type == "model" and n.status in ("error", "skipped")]

    @property
    def tests_passed(self) -> int:
        return self.count(("test", "unit_test"), ("pass",))

    @property
    def tests_failed(self) -> list[NodeResult]:
        return [n for n in self.nodes if n.resource_type in ("test", "unit_test") and n.status in ("fail", "error")]

    @property
    def tests_warned(self) -> list[NodeResult]:
        return [n for n in self.nodes if n.resource_type in ("test", "unit_test") and n.status == "warn"]

    def summary(self) -> str:
        s = (f"dbt build: {self.models_ok} models built, {self.tests_passed} tests passed, "
             f"{len(self.tests_failed)} failed, {len(self.tests_warned)} warned in {self.duration_s:.1f}s")
        if self.full_refresh:
            s += " (full refresh)"
        return s


def dbt_args(home: Home, command: str, risk: dict[str, Any], extra: list[str] | None = None) -> list[str]:
    """CLI args for a dbt command on this home: target/logs live in the home, never in the checkout."""
    return [
        command,
        "--project-dir", str(DBT_PROJECT_DIR),
        "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(home.warehouse_dir / "dbt_target"),
        "--log-path", str(home.warehouse_dir / "dbt_logs"),
        "--vars", json.dumps(dbt_vars(risk)),
        *(extra or []),
    ]


def build(home: Home, *, full_refresh: bool = False, select: str | None = None,
          progress: Callable[[str, str, str], None] | None = None, manifest: Any = None,
          command: str = "build") -> BuildResult:
    """Run ``dbt build`` in-process on the home's build database, without dagster-dbt.

    Used by the session-long intraday watcher (``mech_exo.watch``, with a ``manifest`` parsed once
    so a tick skips dbt's parse), and by tests and benchmarks to build homes quickly; the
    ``data_pipeline`` job builds through dagster-dbt with the same project, profile and vars.
    ``progress(node_name, resource_type, status)`` is called as each node finishes. ``command="run"``
    builds the selected models without their tests (the watcher's fast path; the build after it tests).
    """
    from dbt.cli.main import dbtRunner  # heavy import: only when building

    risk = load_risk_config(home.risk_yml)
    home.warehouse_dir.mkdir(parents=True, exist_ok=True)
    extra = ["--full-refresh"] if full_refresh else []
    if select:
        extra += ["--select", select]
    nodes: list[NodeResult] = []

    def on_event(ev) -> None:
        if progress is None or ev.info.name != "NodeFinished":
            return
        ni = ev.data.node_info
        progress(ni.node_name, ni.resource_type, ni.node_status)

    started = time.perf_counter()
    with exo_home_env(home):
        res = dbtRunner(manifest=manifest, callbacks=[on_event]).invoke(
            dbt_args(home, command, risk, extra + ["--quiet"]))
    duration = time.perf_counter() - started
    if res.result is not None and hasattr(res.result, "results"):
        for r in res.result.results:
            node = r.node
            nodes.append(NodeResult(
                name=node.name,
                resource_type=str(node.resource_type),
                status=str(r.status),
                message=(r.message or "")[:500] if isinstance(r.message, str) else "",
                failures=int(r.failures or 0),
                execution_time=float(r.execution_time or 0.0),
            ))
    error = None
    if res.exception is not None:
        error = f"{type(res.exception).__name__}: {res.exception}"
    result = BuildResult(success=bool(res.success), nodes=nodes, duration_s=duration,
                         full_refresh=full_refresh, error=error)
    if result.error is None and result.models_failed:
        first = result.models_failed[0]
        result.error = f"model {first.name} {first.status}: {first.message}"
    return result


def parse_manifest(home: Home) -> Any:
    """dbt's parsed manifest for this home's vars: hand it to ``build`` to skip parsing each tick."""
    from dbt.cli.main import dbtRunner

    risk = load_risk_config(home.risk_yml)
    with exo_home_env(home):
        res = dbtRunner().invoke(dbt_args(home, "parse", risk, ["--quiet"]))
    if not res.success:
        raise PipelineError(f"dbt parse failed: {res.exception}")
    return res.result

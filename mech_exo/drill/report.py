"""The drill report (``reports/drills/*.md``) and the record in ``data/events/drills.jsonl``."""
from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from mech_exo import snapshot
from mech_exo.alerts import send_alert
from mech_exo.drill.model import GREEN_BELOW_DAYS, REASON_OFF, DrillError
from mech_exo.events import parse_utc, utc_now
from mech_exo.home import Home

# --- report and record ----------------------------------------------------------------------------

def _report_path(home: Home, started: datetime) -> Path:
    """``drill_YYYYMMDD_HHMM.md``; a second drill in the same minute gets ``_2``, ``_3``… (never overwrite)."""
    base = f"drill_{started.strftime('%Y%m%d_%H%M')}"
    home.drill_reports_dir.mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        p = home.drill_reports_dir / (f"{base}.md" if n == 1 else f"{base}_{n}.md")
        try:
            os.close(os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
            return p
        except FileExistsError:
            continue
    raise DrillError(f"{home.drill_reports_dir}: no free report name for {base}")


def _recommendations(rec: dict) -> list[str]:
    if rec["status"] == "PASS" and not rec["dry_run"]:
        due = parse_utc(rec["finished_at"]) + timedelta(days=GREEN_BELOW_DAYS)
        return [f"Next live drill due by {due.date().isoformat()} ({GREEN_BELOW_DAYS}-day policy)."]
    if rec["status"] == "PASS":
        return ["A dry run does not count toward the 90-day policy: schedule a live drill "
                "(`exo drill rollback --wait 120`) in a quiet window."]
    out = ["Check the kill-switch now: `exo kill status` and `exo kill history --days 1`."]
    er = rec.get("emergency_restore") or {}
    if not er.get("ok", True):
        out.append("Trading may still be disabled by the drill: after checking, re-enable with "
                   "`exo kill on --reason \"Rollback drill cleanup\"`.")
    if rec.get("backup_path"):
        out.append(f"The pre-drill backup is kept at `{rec['backup_path']}` for inspection.")
    if rec.get("failed_step"):
        out.append(f"Fix the cause of step {rec['failed_step']} ({rec.get('error')}) and run the drill again.")
    return out


def render_report(rec: dict) -> str:
    mode = "DRY RUN (on a copy; live kill-switch untouched)" if rec["dry_run"] else "LIVE"
    er = rec.get("emergency_restore")
    if rec["status"] == "PASS":
        summary = (f"**PASS** — the kill-switch was backed up, switched off ({REASON_OFF}), held off for "
                   f"{rec['wait_s']} s and restored to its pre-drill state in {rec['duration_s']:.1f} s.")
    else:
        where = f" at step {rec['failed_step']}" if rec.get("failed_step") else ""
        summary = f"**{rec['status']}**{where}: {rec.get('error')}"
        if er:
            summary += f"\n\nEmergency restore: {'OK' if er.get('ok') else 'NOT OK'} — {er.get('detail')}"
    lines = [f"# Rollback drill {rec['drill_id']}", "", "## Executive summary", "", summary, "",
             "| | |", "| --- | --- |", f"| Status | **{rec['status']}** |", f"| Mode | {mode} |",
             f"| Started (UTC) | {rec['started_at']} |", f"| Finished (UTC) | {rec['finished_at']} |",
             f"| Duration | {rec['duration_s']:.3f} s |", f"| Wait (step C) | {rec['wait_s']} s |",
             f"| Started by | {rec.get('started_by')} |", f"| Kill-switch file | `{rec.get('killswitch_path')}` |",
             f"| Backup | `{rec.get('backup_path') or '(removed after the pass)'}` |", "",
             "## Steps", "", "| Step | What | Start (UTC) | End (UTC) | Duration (s) | Result | Detail |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for s in rec["steps"]:
        detail = str(s["detail"]).replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {s['step']} | {s['name']} | {s['started_at']} | {s['finished_at']} | "
                     f"{s['duration_s']:.3f} | {'OK' if s['ok'] else 'FAILED'} | {detail} |")
    if not rec["steps"]:
        lines.append("| — | no step record (the drill process died) | | | | | |")
    errors = [f"- Step {s['step']}: {s['detail']}" for s in rec["steps"] if not s["ok"]]
    if rec.get("error") and not errors:
        errors = [f"- {rec['error']}"]
    lines += ["", "## Errors", "", *(errors or ["None."]), "", "## Recommendations", "",
              *[f"- {r}" for r in _recommendations(rec)], "", "## Screenshot", "",
              "_Screenshot placeholder: attach the risk dashboard's kill-switch badge (or the Dagster "
              "run page) captured during step C._", ""]
    return "\n".join(lines)


def _finish(home: Home, rec: dict) -> dict:
    """Write the report, append the record, send the alert (INFO on PASS, CRITICAL otherwise)."""
    started = parse_utc(rec["started_at"]) or utc_now()
    report = _report_path(home, started)
    rec["report_path"] = str(report.relative_to(home.root)) if report.is_relative_to(home.root) else str(report)
    report.write_text(render_report(rec), encoding="utf-8")
    snapshot.append(home, "drills", rec)
    mode = "dry-run" if rec["dry_run"] else "live"
    severity = "INFO" if rec["status"] == "PASS" else "CRITICAL"
    msg = f"Rollback drill {rec['drill_id']} ({mode}): {rec['status']}"
    msg += (f" in {rec['duration_s']:.1f}s" if rec["status"] == "PASS"
            else f" — step {rec.get('failed_step') or '?'}: {rec.get('error')}")
    alert = send_alert(home, severity=severity, type="drill", message=msg, dedup_key=f"drill:{rec['drill_id']}",
                       details={"status": rec["status"], "dry_run": rec["dry_run"], "report": rec["report_path"],
                                "emergency_restore": (rec.get("emergency_restore") or {}).get("detail")},
                       attachment=report, also=["telegram"])   # SPEC §6: every drill, whatever INFO's routing
    return {**rec, "report_file": str(report), "alert_id": alert.get("alert_id")}

"""What one ingest run did: ``exo run`` prints ``summary()``, ``--json`` and state/ingest.json ``to_dict()``."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class IngestResult:
    landed_seq: int
    n_fills: int
    n_flows: int
    n_securities: int
    n_marks: int                      # mark rows across all landing files after this run
    n_marks_landed: int               # mark rows (re-)landed by this run
    files_landed: list[str] = field(default_factory=list)
    files_skipped: list[str] = field(default_factory=list)
    files_removed: list[str] = field(default_factory=list)
    dirty_from: datetime | None = None
    full_refresh: bool = False
    warnings: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    # fills / cash_flows blocks: rows read from SQLite this run (new + re-read ranges) and how many
    # old rows had their content checksum verified (see mech_exo/ingest/table_blocks.py)
    rows_read: dict[str, int] = field(default_factory=dict)
    rows_verified: dict[str, int] = field(default_factory=dict)
    blocks_relanded: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["dirty_from"] = self.dirty_from.isoformat().replace("+00:00", "Z") if self.dirty_from else None
        return d

    def change_summary(self) -> str:
        """What this run found new, in a few words (the watcher's tick line): '100 fills, 1 mark file
        (500 marks)', 'nothing new', '… FULL REFRESH'."""
        parts = [f"{n} {table.replace('_', ' ')}" for table, n in self.rows_read.items() if n]
        if self.files_landed:
            parts.append(f"{len(self.files_landed)} mark file{'s' if len(self.files_landed) != 1 else ''} "
                         f"({self.n_marks_landed} marks)")
        if self.files_removed:
            parts.append(f"{len(self.files_removed)} file(s) removed")
        relanded = sum(self.blocks_relanded.values())
        if relanded:
            parts.append(f"{relanded} old block(s) changed")
        if self.full_refresh:
            parts.append("FULL REFRESH")
        return ", ".join(parts) or "nothing new"

    def summary(self) -> str:
        dirty = self.dirty_from.isoformat().replace("+00:00", "Z") if self.dirty_from else "nothing changed"
        read = ", ".join(f"{t} {n} read" for t, n in self.rows_read.items())
        lines = [
            f"ingest #{self.landed_seq}: {self.n_fills} fills, {self.n_flows} cash flows, "
            f"{self.n_securities} securities, {self.n_marks} marks "
            f"({len(self.files_landed)} file(s) landed / {self.n_marks_landed} rows, "
            f"{len(self.files_skipped)} unchanged, {len(self.files_removed)} removed"
            + (f"; {read}" if read else "") + f") in {self.duration_s:.2f}s",
            f"dirty from: {dirty}" + ("; FULL REFRESH" if self.full_refresh else ""),
        ]
        return "\n".join(lines + [f"warning: {w}" for w in self.warnings])

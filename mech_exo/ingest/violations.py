"""Violations of the input contract: one per broken rule, naming file, row and rule (SPEC §2).

Every violation is counted; a bounded sample per (file, rule) is kept so a file with a million bad
rows still gives a short message and a cheap run. ``InputError`` is raised with all of them, before
anything is written: ingest is all-or-nothing.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pyarrow as pa

MAX_SHOWN = 50          # violations printed in the InputError message
MAX_KEPT_PER_RULE = 20  # structured violations kept per (file, table, rule); all are counted


@dataclass(frozen=True)
class Violation:
    """One broken rule: where (file relative to home, table, row, key) and what (rule, value).

    ``row`` is the 1-based data row for CSV and Parquet (header excluded) and the SQLite ``rowid``
    for tables; ``None`` for file-level problems (missing column, unreadable file).
    """

    file: str
    row: int | None
    rule: str
    value: Any = None
    show_value: bool = True
    table: str | None = None
    key: str | None = None
    detail: str | None = None

    def __str__(self) -> str:
        loc = self.file + (f" {self.table}" if self.table else "")
        loc += f" row {self.row}" if self.row is not None else ""
        loc += f" ({self.key})" if self.key else ""
        msg = f"{loc}: {self.rule}" + (f" ({self.detail})" if self.detail else "")
        return msg + (f", got {_fmt(self.value)}" if self.show_value else "")


def _fmt(value: Any) -> str:
    if value is None:
        return "NULL"
    return repr(value) if isinstance(value, (str, bytes)) else str(value)


class InputError(ValueError):
    """Input breaks the SPEC §2 contract. ``violations``: structured items (a sample per rule when
    there are very many); ``total``: how many were found; ``counts``: per (file, rule)."""

    def __init__(self, violations: list[Violation], total: int, counts: dict[tuple[str, str], int]):
        self.violations = violations
        self.total = total
        self.counts = counts
        super().__init__(self._message())

    def _message(self) -> str:
        lines = [f"{self.total} input violation(s); nothing was landed — fix the input and re-run:"]
        lines += [f"  {v}" for v in self.violations[:MAX_SHOWN]]
        if self.total > min(len(self.violations), MAX_SHOWN):
            lines.append(f"  ... and {self.total - min(len(self.violations), MAX_SHOWN)} more. Counts per file and rule:")
            lines += [f"    {f}: {rule} × {n}" for (f, rule), n in sorted(self.counts.items())]
        return "\n".join(lines)


class Collector:
    """Collects every violation; keeps a bounded sample per rule so a 1M-bad-row file stays cheap."""

    def __init__(self) -> None:
        self.kept: list[Violation] = []
        self.counts: Counter = Counter()

    def add(self, file: str, row: int | None, rule: str, value: Any = None, *, show_value: bool = True,
            table: str | None = None, key: str | None = None, detail: str | None = None) -> None:
        group = (file + (f" {table}" if table else ""), rule)
        self.counts[group] += 1
        if self.counts[group] <= MAX_KEPT_PER_RULE:
            self.kept.append(Violation(file, row, rule, value, show_value, table, key, detail))

    def add_rows(self, file: str, mask: np.ndarray, rows: np.ndarray, values: pa.Array | pa.ChunkedArray | None,
                 rule: str) -> None:
        """Vectorised check results: report rows where ``mask`` holds (sample kept, all counted)."""
        idx = np.flatnonzero(mask)
        if not len(idx):
            return
        sample = idx[:MAX_KEPT_PER_RULE]
        shown = values.take(pa.array(sample)).to_pylist() if values is not None else [None] * len(sample)
        for i, value in zip(sample, shown):
            self.add(file, int(rows[i]), rule, value, show_value=values is not None)
        self.counts[(file, rule)] += len(idx) - len(sample)

    def add_table_rows(self, file: str, table: str, mask: np.ndarray, rule: str, *,
                       row_of: Callable[[int], int], key_of: Callable[[int], str | None],
                       value_of: Callable[[int], Any] | None = None,
                       detail_of: Callable[[int], str | None] | None = None) -> None:
        """Vectorised results for a SQLite table: only the kept sample is turned into Python values."""
        idx = np.flatnonzero(mask)
        if not len(idx):
            return
        sample = idx[:MAX_KEPT_PER_RULE]
        for i in sample:
            i = int(i)
            self.add(file, row_of(i), rule, value_of(i) if value_of else None, show_value=value_of is not None,
                     table=table, key=key_of(i), detail=detail_of(i) if detail_of else None)
        self.counts[(f"{file} {table}", rule)] += len(idx) - len(sample)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def raise_if_any(self) -> None:
        if self.total:  # sorted so one file's problems read top to bottom, like the file itself
            kept = sorted(self.kept, key=lambda v: (v.file, v.table or "", v.row if v.row is not None else -1))
            raise InputError(kept, self.total, dict(self.counts))

"""The watcher's fast path: which ticks may build the sentinel's models first (pure, no dbt)."""
from __future__ import annotations

from datetime import datetime, timezone

from mech_exo.ingest.result import IngestResult
from mech_exo.warehouse import fast_path

T = datetime(2026, 3, 6, 17, 5, tzinfo=timezone.utc)


def ing(**kw) -> IngestResult:
    base = dict(landed_seq=3, n_fills=10, n_flows=1, n_securities=1, n_marks=100, n_marks_landed=0,
                dirty_from=T, rows_read={"fills": 0, "cash_flows": 0}, blocks_relanded={"fills": 0, "cash_flows": 0})
    base.update(kw)
    return IngestResult(**base)


def test_marks_only_tick_builds_the_marks_path_and_the_target():
    assert fast_path.selection(ing(n_marks_landed=500)) == [*fast_path.MARKS, fast_path.TARGET]


def test_fills_and_flows_add_their_chains_once():
    sel = fast_path.selection(ing(n_marks_landed=500, rows_read={"fills": 100, "cash_flows": 1}))
    assert sel[-1] == fast_path.TARGET and len(sel) == len(set(sel))
    assert set(fast_path.FILLS) | set(fast_path.FLOWS) <= set(sel)


def test_ticks_it_cannot_make_exact_are_refused():
    assert fast_path.selection(ing(n_marks_landed=5, full_refresh=True)) is None
    assert fast_path.selection(ing(n_marks_landed=5, files_removed=["data/market/a.csv"])) is None
    assert fast_path.selection(ing(n_marks_landed=5, blocks_relanded={"fills": 1})) is None   # an old row changed
    assert fast_path.selection(ing(n_marks_landed=5, dirty_from=None)) is None
    assert fast_path.selection(ing()) is None   # nothing new

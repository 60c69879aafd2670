-- One row per kill-switch state change (dry-runs are excluded: they changed nothing).
with changes as (
    select * from {{ ref('stg_events__killswitch') }}
    where not dry_run
)

select
    "at",
    action,
    trading_enabled,
    reason,
    trigger,
    "by",
    approved_by,
    previous_enabled,
    guard,
    period,
    level_pct
from changes
order by "at"

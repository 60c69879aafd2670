-- One row per kill-switch state change (dry-runs are excluded: they changed nothing).
with killswitch as (
    select * from {{ ref('stg_events__killswitch') }}
),

changes as (
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
        level_pct,
        event_seq
    from killswitch
    where not dry_run
)

select * from changes
order by "at", event_seq

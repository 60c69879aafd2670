-- One row per kill-switch state change (dry-runs are excluded: they changed nothing).
with killswitch as (
    select * from {{ ref('stg_events__killswitch') }}
),

changes as (
    select
        changed_at,
        action,
        trading_enabled,
        reason,
        trigger,
        changed_by as "by",  -- SPEC §3's name, but a DuckDB keyword: changed_by reads unquoted
        changed_by,
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
order by changed_at, event_seq

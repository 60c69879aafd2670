-- One row per rollback drill (dry-run or live), in the order they finished.
with drills as (
    select * from {{ ref('stg_events__drills') }}
),

latest as (
    select
        drill_id,
        started_at,
        finished_at,
        duration_s,
        dry_run,
        status,
        failed_step,
        error,
        report_path,
        wait_s
    from drills
    qualify row_number() over (partition by drill_id order by finished_at desc nulls last, event_seq desc) = 1
)

select * from latest
order by started_at

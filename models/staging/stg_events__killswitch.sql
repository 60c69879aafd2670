with source as (
    select * from {{ source('events', 'killswitch') }}
),

renamed as (
    select
        -- file order: the primary key (two lines may share a timestamp)
        row_number() over () as event_seq,
        cast(cast("at" as timestamptz) as timestamp) as changed_at,
        action,
        trading_enabled,
        previous_enabled,
        reason,
        trigger,
        "by" as changed_by,
        approved_by,
        coalesce(dry_run, false) as dry_run,
        guard,
        period,
        level_pct
    from source
)

select * from renamed

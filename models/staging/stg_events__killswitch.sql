with source as (
    select * from {{ source('events', 'killswitch') }}
),

renamed as (
    select
        cast(cast("at" as timestamptz) as timestamp) as "at",
        action,
        trading_enabled,
        previous_enabled,
        reason,
        trigger,
        "by",
        approved_by,
        coalesce(dry_run, false) as dry_run,
        guard,
        period,
        level_pct
    from source
)

select * from renamed

with source as (
    select * from {{ source('events', 'alerts') }}
),

renamed as (
    select
        event,
        alert_id,
        cast(cast("at" as timestamptz) as timestamp) as "at",
        severity,
        type,
        message,
        dedup_key,
        channel,
        delivered,
        attempts,
        error,
        acked_by,
        level
    from source
)

select * from renamed

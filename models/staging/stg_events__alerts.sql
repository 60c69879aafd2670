with source as (
    select * from {{ source('events', 'alerts') }}
),

renamed as (
    select
        -- file order: events written in the same second keep their order
        row_number() over () as event_seq,
        event,
        alert_id,
        cast(cast("at" as timestamptz) as timestamp) as event_at,
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

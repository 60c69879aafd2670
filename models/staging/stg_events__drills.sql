with source as (
    select * from {{ source('events', 'drills') }}
),

renamed as (
    select
        -- file order: the primary key (two lines may share a timestamp)
        row_number() over () as event_seq,
        drill_id,
        cast(cast(started_at as timestamptz) as timestamp) as started_at,
        cast(cast(finished_at as timestamptz) as timestamp) as finished_at,
        duration_s,
        dry_run,
        status,
        failed_step,
        error,
        report_path,
        wait_s
    from source
)

select * from renamed

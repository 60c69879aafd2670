with source as (
    select * from {{ source('events', 'drills') }}
),

renamed as (
    select
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

-- One row per ingest run: what it landed and the earliest input timestamp it changed (the
-- incremental models' dirty_from, read through this view rather than the source).
with source as (
    select * from {{ source('landing', 'batches') }}
),

renamed as (
    select
        landed_seq,
        landed_at,
        dirty_from,
        full_refresh,
        n_marks,
        n_fills,
        n_flows
    from source
)

select * from renamed

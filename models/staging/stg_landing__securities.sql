with source as (
    select * from {{ source('landing', 'securities') }}
),

renamed as (
    select
        symbol,
        coalesce(nullif(trim(sector), ''), 'UNKNOWN') as sector,
        name
    from source
)

select * from renamed

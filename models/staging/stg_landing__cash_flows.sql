with source as (
    select * from {{ source('landing', 'cash_flows') }}
),

renamed as (
    select
        flow_id,
        ts,
        amount,
        note,
        {{ local_date('ts') }} as local_date,
        source_row
    from source
)

select * from renamed

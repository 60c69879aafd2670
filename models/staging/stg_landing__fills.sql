with source as (
    select * from {{ source('landing', 'fills') }}
),

renamed as (
    select
        fill_id,
        ts,
        symbol,
        side,
        quantity,
        price,
        coalesce(commission, 0) as commission,
        strategy,
        case side when 'BUY' then quantity when 'SELL' then -quantity end as signed_qty,
        {{ local_date('ts') }} as local_date,
        source_row
    from source
)

select * from renamed

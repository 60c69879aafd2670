{#-
  A table, not a view (unlike the other staging models): every fill-grain model joins it as of the
  sessions, and DuckDB re-evaluates a view's Parquet scan and time-zone conversion inside those
  ASOF joins — int_fills took 17 s from the view and 0.9 s from this table (+0.6 s to build it) on
  the M tier's 1.5M fills (scripts/bench_scale.py).
-#}
{{ config(materialized = 'table') }}

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

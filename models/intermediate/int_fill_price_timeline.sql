-- The latest fill price per symbol at each distinct fill time (ties at one instant: the last
-- row of the engine's table wins), used as the mark when no market mark exists yet.
with fills as (
    select * from {{ ref('int_fills') }}
),

fill_prices as (
    select
        symbol,
        ts,
        arg_max(price, source_row) as fill_price
    from fills
    group by symbol, ts
)

select * from fill_prices
order by symbol, ts

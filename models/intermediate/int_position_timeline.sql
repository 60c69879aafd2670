-- position(strategy, symbol, t) after each distinct fill time.
with fills as (
    select * from {{ ref('int_fills') }}
),

by_ts as (
    select
        strategy,
        symbol,
        ts,
        sum(signed_qty) as qty_delta
    from fills
    group by strategy, symbol, ts
),

timeline as (
    select
        strategy,
        symbol,
        ts,
        sum(qty_delta) over (
            partition by strategy, symbol order by ts
            rows between unbounded preceding and current row
        ) as position
    from by_ts
)

select * from timeline
order by strategy, symbol, ts

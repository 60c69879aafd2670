-- position(strategy, symbol, t) after each distinct fill time, and the symbol's latest fill
-- price at that time (the mark fallback when no market mark exists yet).
with by_ts as (
    select
        strategy,
        symbol,
        ts,
        sum(signed_qty) as qty_delta
    from {{ ref('int_fills') }}
    group by strategy, symbol, ts
)

select
    strategy,
    symbol,
    ts,
    sum(qty_delta) over (
        partition by strategy, symbol order by ts
        rows between unbounded preceding and current row
    ) as position
from by_ts
order by strategy, symbol, ts

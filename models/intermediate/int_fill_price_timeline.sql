-- The latest fill price per symbol at each distinct fill time (ties at one instant: the last
-- row of the engine's table wins), used as the mark when no market mark exists yet.
select
    symbol,
    ts,
    arg_max(price, source_row) as fill_price
from {{ ref('int_fills') }}
group by symbol, ts
order by symbol, ts

-- Every mark that can be the as-of mark at some session close: each day's close mark and each
-- day's last mark. The latest of these at or before close(d) is exactly the latest raw mark at
-- or before close(d), so daily valuation never scans the raw marks.
with m as (
    select * from {{ ref('int_symbol_session_marks') }}
)

select symbol, close_mark_ts as ts, close_price as price
from m
where close_price is not null
union
select symbol, last_ts as ts, last_price as price
from m
order by symbol, ts

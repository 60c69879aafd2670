-- Every mark that can be the as-of mark at some session close: each day's close mark and each
-- day's last mark. The latest of these at or before close(d) is exactly the latest raw mark at
-- or before close(d), so daily valuation never scans the raw marks.
with session_marks as (
    select * from {{ ref('int_symbol_session_marks') }}
),

candidates as (
    select
        symbol,
        close_mark_ts as ts,
        close_price as price
    from session_marks
    where close_price is not null
    union distinct
    select
        symbol,
        last_ts as ts,
        last_price as price
    from session_marks
)

select * from candidates
order by symbol, ts

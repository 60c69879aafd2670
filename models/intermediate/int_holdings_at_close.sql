-- The book at every session close: strategy × symbol positions valued at the close marks.
with closes as (
    select close_ts as ts, session_date
    from {{ ref('int_sessions') }}
),

holdings as (
    {{ holdings_at('closes', ref('int_close_mark_timeline')) }}
)

select * from holdings
order by session_date, strategy, symbol

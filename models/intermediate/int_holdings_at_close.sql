-- The book at every session close: strategy × symbol positions valued at the close marks.
with sessions as (
    select * from {{ ref('int_sessions') }}
),

position_timeline as (
    select * from {{ ref('int_position_timeline') }}
),

close_mark_timeline as (
    select * from {{ ref('int_close_mark_timeline') }}
),

fill_price_timeline as (
    select * from {{ ref('int_fill_price_timeline') }}
),

closes as (
    select
        close_ts as ts,
        session_date
    from sessions
),

holdings as (
    {{ holdings_at('closes', 'position_timeline', 'close_mark_timeline', 'fill_price_timeline') }}
)

select * from holdings
order by session_date, strategy, symbol

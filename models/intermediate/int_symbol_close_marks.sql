{#-
  Each symbol's mark at each session close (as-of, with the fill-price fallback) and its daily
  price return: the scenarios of the position-level historical simulation.
  Incremental by window: the sessions from the earliest dirty local date on, computed from the
  session before it (whose mark the first return needs; macros/incremental.sql: session_before).
-#}
{{ config(
    materialized = 'incremental',
    incremental_strategy = 'append',
    on_schema_change = 'append_new_columns',
    pre_hook = "{{ delete_window('session_date', dirty_from_date(ref('stg_landing__batches'))) }}",
) }}

{%- set since = dirty_from_date(ref('stg_landing__batches')) %}
{%- set from_session = session_before(ref('int_sessions'), since) %}

with sessions as (
    select * from {{ ref('int_sessions') }}
),

session_marks as (
    select * from {{ ref('int_symbol_session_marks') }}
),

fills as (
    select * from {{ ref('int_fills') }}
),

close_mark_timeline as (
    select * from {{ ref('int_close_mark_timeline') }}
),

fill_price_timeline as (
    select * from {{ ref('int_fill_price_timeline') }}
),

batches as (
    select * from {{ ref('stg_landing__batches') }}
),

sessions_in_window as (
    select * from sessions
    where session_date >= {{ from_session }}
),

symbols as (
    select symbol from session_marks
    union distinct
    select symbol from fills
),

grid as (
    select
        s.session_date,
        s.close_ts,
        s.session_seq,
        y.symbol
    from sessions_in_window as s
    cross join symbols as y
),

marked as (
    select
        g.session_date,
        g.session_seq,
        g.symbol,
        coalesce(mk.price, fp.fill_price) as mark,
        case
            when mk.price is not null then 'mark'
            when fp.fill_price is not null then 'fill'
        end as mark_source
    from grid as g
    asof left join close_mark_timeline as mk
        on g.symbol = mk.symbol and g.close_ts >= mk.ts
    asof left join fill_price_timeline as fp
        on g.symbol = fp.symbol and g.close_ts >= fp.ts
),

returns as (
    select
        session_date,
        session_seq,
        symbol,
        mark,
        mark_source,
        {{ safe_divide('mark', 'lag(mark) over (partition by symbol order by session_date)') }} - 1 as price_return,
        {{ latest_batch_seq('batches') }} as batch_seq
    from marked
)

select * from returns
where session_date >= {{ since }}
order by symbol, session_date

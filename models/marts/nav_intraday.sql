{#-
  NAV at every mark time, and the day's P&L and return so far (SPEC §3):
    day_pnl(t) = NAV(t) − NAV_{d−1} − F_d(≤t) ;  day_return(t) = day_pnl(t) / (NAV_{d−1} + F_d(≤t))
    F_d(≤t) = Σ flows with close_{d−1} < ts <= t

  Incremental: a tick recomputes only the sessions from the earliest changed input onward (the
  current session, normally). The as-of mark before that window comes from the small per-day
  table int_symbol_session_marks, so the raw marks of older sessions are not read again.

  The guards read this model, so its columns are a contract (marts/_models.yml). dbt requires an
  on_schema_change policy for a contracted incremental model: a column added by a later release is
  appended (NULL in sessions built before it, filled as sessions are rebuilt or by a full refresh)
  rather than failing every tick until someone runs `exo run --full-refresh`.
-#}
{{ config(
    materialized = 'incremental',
    incremental_strategy = 'delete+insert',
    unique_key = 'session_date',
    on_schema_change = 'append_new_columns',
) }}

{%- set since = dirty_from_date(ref('stg_landing__batches')) %}

with marks as (
    select * from {{ ref('stg_landing__marks') }}
),

batches as (
    select * from {{ ref('stg_landing__batches') }}
),

session_marks as (
    select * from {{ ref('int_symbol_session_marks') }}
),

sessions as (
    select * from {{ ref('int_sessions') }}
),

position_timeline as (
    select * from {{ ref('int_position_timeline') }}
),

fill_price_timeline as (
    select * from {{ ref('int_fill_price_timeline') }}
),

cash_timeline as (
    select * from {{ ref('int_cash_timeline') }}
),

cash_flows as (
    select * from {{ ref('int_cash_flows') }}
),

nav_daily as (
    select * from {{ ref('nav_daily') }}
),

window_marks as (
    {{ marks_since('marks', since) }}
),

times as (
    select distinct
        ts,
        local_date as session_date
    from window_marks
),

mark_timeline as (
    select
        symbol,
        ts,
        price
    from window_marks
    union all
    select
        symbol,
        ts,
        price
    from (
        select
            symbol,
            last_ts as ts,
            last_price as price
        from session_marks
        where local_date < {{ since }}
        qualify row_number() over (partition by symbol order by local_date desc) = 1
    )
),

positions as (
    select
        ts,
        sum(market_value) as positions_value
    from ({{ holdings_at('times', 'position_timeline', 'mark_timeline', 'fill_price_timeline') }})
    group by ts
),

cash as (
    {{ cash_at('times', 'cash_timeline') }}
),

windows as (
    -- the flow window of each mark time: (close of the previous session, t]
    select
        t.ts,
        coalesce(p.close_ts, '-infinity'::timestamp) as after_ts
    from times as t
    inner join sessions as s on t.session_date = s.session_date
    left join sessions as p on s.prev_session_date = p.session_date
),

flows_so_far as (
    -- F_d(≤t), the same window as F_d in nav_daily: a flow after close_{d−1} (an evening
    -- withdrawal, a weekend deposit) moves NAV and F together on d, never the return.
    select
        w.ts,
        coalesce(sum(f.amount), 0) as flows_so_far
    from windows as w
    left join cash_flows as f
        on w.after_ts < f.ts and w.ts >= f.ts
    group by w.ts
),

nav as (
    select
        c.ts,
        c.session_date,
        c.cash,
        coalesce(p.positions_value, 0) as positions_value,
        c.cash + coalesce(p.positions_value, 0) as nav,
        coalesce(pv.prev_nav, 0) as prev_nav,
        fl.flows_so_far
    from cash as c
    left join positions as p on c.ts = p.ts
    inner join flows_so_far as fl on c.ts = fl.ts
    left join nav_daily as pv on c.session_date = pv.session_date
),

final as (
    select
        ts,
        session_date,
        nav,
        nav - prev_nav - flows_so_far as day_pnl,
        {{ safe_divide('nav - prev_nav - flows_so_far', 'prev_nav + flows_so_far') }} as day_return,
        cash,
        positions_value,
        prev_nav,
        flows_so_far,
        {{ latest_batch_seq('batches') }} as batch_seq
    from nav
)

select * from final
order by ts

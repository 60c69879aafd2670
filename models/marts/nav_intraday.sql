{#-
  NAV at every mark time, and the day's P&L and return so far (SPEC §3):
    day_pnl(t) = NAV(t) − NAV_{d−1} − F_d(≤t) ;  day_return(t) = day_pnl(t) / (NAV_{d−1} + F_d(≤t))

  Incremental: a tick recomputes only the sessions from the earliest changed input onward (the
  current session, normally). The as-of mark before that window comes from the small per-day
  table int_symbol_session_marks, so the raw marks of older sessions are not read again.
-#}
{{ config(
    materialized = 'incremental',
    incremental_strategy = 'delete+insert',
    unique_key = 'session_date',
) }}

{%- set since = dirty_from_date() %}

with window_marks as (
    {{ marks_since(since) }}
),

times as (
    select distinct ts, local_date as session_date
    from window_marks
),

mark_timeline as (
    select symbol, ts, price from window_marks
    union all
    select symbol, ts, price from (
        select symbol, last_ts as ts, last_price as price
        from {{ ref('int_symbol_session_marks') }}
        where local_date < {{ since }}
        qualify row_number() over (partition by symbol order by local_date desc) = 1
    )
),

positions as (
    select ts, sum(market_value) as positions_value
    from ({{ holdings_at('times', 'mark_timeline') }})
    group by ts
),

cash as (
    {{ cash_at('times') }}
),

flows_so_far as (
    -- F_d(≤t): the flows after the previous session's close, up to t (SPEC §3). The same window as
    -- F_d in nav_daily, so a flow after close_{d−1} (an evening withdrawal, a weekend deposit)
    -- first moves NAV and F together on d, and never the return.
    select t.ts, coalesce(sum(f.amount), 0) as flows_so_far
    from times as t
    join {{ ref('int_sessions') }} as s
        on s.session_date = t.session_date
    left join {{ ref('int_sessions') }} as p
        on p.session_date = s.prev_session_date
    left join {{ ref('int_cash_flows') }} as f
        on f.ts <= t.ts and (p.close_ts is null or f.ts > p.close_ts)
    group by t.ts
),

prev as (
    select session_date, prev_nav from {{ ref('nav_daily') }}
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
    left join positions as p using (ts)
    join flows_so_far as fl using (ts)
    left join prev as pv using (session_date)
)

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
    {{ latest_batch_seq() }} as batch_seq
from nav
order by ts

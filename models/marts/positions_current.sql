-- The book now: every non-zero strategy × symbol position as of T, the latest mark or fill
-- instant that belongs to a session, valued at the as-of mark (fill-price fallback flagged).
-- day_pnl = value(T) − value at the previous close − signed notional and commissions of the fills
-- since the previous close (close_{d−1} < ts <= T).
with asof_time as (
    select max(ts) as ts from (
        select max(ts) as ts from {{ ref('stg_landing__marks') }}
        union all
        select max(ts) from {{ ref('int_fills') }} where session_date is not null
    )
),

now as (
    select a.ts, s.session_date, s.prev_session_date
    from asof_time as a
    cross join (select session_date, prev_session_date from {{ ref('int_sessions') }} order by session_date desc limit 1) as s
    where a.ts is not null
),

holdings as (
    {{ holdings_at('now', ref('int_close_mark_timeline')) }}
),

nav_now as (
    select n.ts, c.cash + coalesce(sum(h.market_value), 0) as nav
    from now as n
    join ({{ cash_at('now') }}) as c using (ts)
    left join holdings as h using (ts)
    group by n.ts, c.cash
),

prev_close as (
    select strategy, symbol, market_value as prev_value
    from {{ ref('int_holdings_at_close') }}
    where session_date = (select prev_session_date from now)
),

today_fills as (
    select f.strategy, f.symbol,
           sum(f.signed_notional) as fills_notional,
           sum(f.commission) as commissions
    from {{ ref('int_fills') }} as f
    cross join now as n
    left join {{ ref('int_sessions') }} as p on p.session_date = n.prev_session_date
    where f.ts <= n.ts and (p.close_ts is null or f.ts > p.close_ts)
    group by f.strategy, f.symbol
),

securities as (
    select symbol, sector, name from {{ ref('stg_landing__securities') }}
)

select
    h.strategy,
    h.symbol,
    coalesce(sec.sector, 'UNKNOWN') as sector,
    h.quantity,
    h.mark,
    h.mark_source,
    h.market_value,
    {{ safe_divide('abs(h.market_value)', 'nv.nav') }} as weight,
    h.market_value
        - coalesce(pc.prev_value, 0)
        - coalesce(tf.fills_notional, 0)
        - coalesce(tf.commissions, 0) as day_pnl,
    sec.name,
    h.session_date,
    h.ts as as_of,
    nv.nav
from holdings as h
cross join nav_now as nv
left join prev_close as pc using (strategy, symbol)
left join today_fills as tf using (strategy, symbol)
left join securities as sec using (symbol)
where abs(h.quantity) > 1e-9
order by abs(h.market_value) desc, h.strategy, h.symbol

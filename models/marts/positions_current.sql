-- The book now: every non-zero strategy × symbol position as of T, the latest mark or fill
-- instant that belongs to a session, valued at the as-of mark (fill-price fallback flagged).
-- day_pnl = value(T) − value at the previous close − signed notional and commissions of the fills
-- since the previous close (close_{d−1} < ts <= T).
with marks as (
    select * from {{ ref('stg_landing__marks') }}
),

securities as (
    select * from {{ ref('stg_landing__securities') }}
),

fills as (
    select * from {{ ref('int_fills') }}
),

sessions as (
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

cash_timeline as (
    select * from {{ ref('int_cash_timeline') }}
),

holdings_at_close as (
    select * from {{ ref('int_holdings_at_close') }}
),

asof_time as (
    select max(latest.ts) as ts
    from (
        select max(ts) as ts from marks
        union all
        select max(ts) as ts from fills
        where session_date is not null
    ) as latest
),

latest_session as (
    select
        session_date,
        prev_session_date
    from sessions
    order by session_date desc
    limit 1
),

now as (
    select
        a.ts,
        s.session_date,
        s.prev_session_date
    from asof_time as a
    cross join latest_session as s
    where a.ts is not null
),

holdings as (
    {{ holdings_at('now', 'position_timeline', 'close_mark_timeline', 'fill_price_timeline') }}
),

cash_now as (
    {{ cash_at('now', 'cash_timeline') }}
),

nav_now as (
    select
        n.ts,
        c.cash + coalesce(sum(h.market_value), 0) as nav
    from now as n
    inner join cash_now as c on n.ts = c.ts
    left join holdings as h on n.ts = h.ts
    group by n.ts, c.cash
),

prev_close as (
    select
        strategy,
        symbol,
        market_value as prev_value
    from holdings_at_close
    where session_date = (select n.prev_session_date from now as n)
),

today_fills as (
    select
        f.strategy,
        f.symbol,
        sum(f.signed_notional) as fills_notional,
        sum(f.commission) as commissions
    from fills as f
    cross join now as n
    left join sessions as p on n.prev_session_date = p.session_date
    where f.ts <= n.ts and (p.close_ts is null or f.ts > p.close_ts)
    group by f.strategy, f.symbol
),

final as (
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
    left join prev_close as pc on h.strategy = pc.strategy and h.symbol = pc.symbol
    left join today_fills as tf on h.strategy = tf.strategy and h.symbol = tf.symbol
    left join securities as sec on h.symbol = sec.symbol
    where abs(h.quantity) > 1e-9
)

select * from final
order by abs(market_value) desc, strategy asc, symbol asc

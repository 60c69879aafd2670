-- P&L per strategy per session (SPEC §3):
--   Σ over its symbols (position·mark at d's close − the same at d−1's close)
--   − Σ its fills' signed_qty·price on d − its commissions on d
-- "Fills on d" are the fills in d's valuation window (close_{d−1}, close_d], the same window the
-- close-to-close value change measures, so a fill after d's close counts on d+1 and the
-- strategies add up to nav_daily.pnl (flows aside).
with holdings as (
    select session_date, strategy, sum(market_value) as value
    from {{ ref('int_holdings_at_close') }}
    group by session_date, strategy
),

sessions as (
    select session_date, prev_session_date from {{ ref('int_sessions') }}
),

fills as (
    select session_date, strategy,
           sum(signed_notional) as fills_notional,
           sum(commission) as commissions,
           count(*) as n_fills
    from (select valuation_session_date as session_date, * exclude (session_date) from {{ ref('int_fills') }})
    where session_date is not null
    group by session_date, strategy
),

keys as (
    select session_date, strategy from holdings
    union
    select session_date, strategy from fills
)

select
    k.session_date,
    k.strategy,
    coalesce(h.value, 0) - coalesce(hp.value, 0)
        - coalesce(f.fills_notional, 0) - coalesce(f.commissions, 0) as pnl,
    coalesce(h.value, 0) as market_value,
    coalesce(f.n_fills, 0) as n_fills,
    coalesce(f.commissions, 0) as commissions
from keys as k
join sessions as s using (session_date)
left join holdings as h on h.session_date = k.session_date and h.strategy = k.strategy
left join holdings as hp on hp.session_date = s.prev_session_date and hp.strategy = k.strategy
left join fills as f on f.session_date = k.session_date and f.strategy = k.strategy
order by k.session_date, k.strategy

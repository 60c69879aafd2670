-- P&L per strategy per session (SPEC §3):
--   Σ over its symbols (position·mark at d's close − the same at d−1's close)
--   − Σ its fills' signed_qty·price on d − its commissions on d
-- "Fills on d" are the fills in d's valuation window (close_{d−1}, close_d], the same window the
-- close-to-close value change and F_d measure, so a fill after d's close counts on d+1 and the
-- strategies add up to nav_daily.pnl exactly.
with holdings_at_close as (
    select * from {{ ref('int_holdings_at_close') }}
),

sessions as (
    select * from {{ ref('int_sessions') }}
),

fills as (
    select * from {{ ref('int_fills') }}
),

holdings as (
    select
        session_date,
        strategy,
        sum(market_value) as value
    from holdings_at_close
    group by session_date, strategy
),

window_fills as (
    select
        valuation_session_date as session_date,
        strategy,
        sum(signed_notional) as fills_notional,
        sum(commission) as commissions,
        count(*) as n_fills
    from fills
    where valuation_session_date is not null
    group by valuation_session_date, strategy
),

keys as (
    select
        session_date,
        strategy
    from holdings
    union distinct
    select
        session_date,
        strategy
    from window_fills
),

final as (
    select
        k.session_date,
        k.strategy,
        coalesce(h.value, 0) - coalesce(hp.value, 0)
        - coalesce(f.fills_notional, 0) - coalesce(f.commissions, 0) as pnl,
        coalesce(h.value, 0) as market_value,
        coalesce(f.n_fills, 0) as n_fills,
        coalesce(f.commissions, 0) as commissions
    from keys as k
    inner join sessions as s on k.session_date = s.session_date
    left join holdings as h on k.session_date = h.session_date and k.strategy = h.strategy
    left join holdings as hp on s.prev_session_date = hp.session_date and k.strategy = hp.strategy
    left join window_fills as f on k.session_date = f.session_date and k.strategy = f.strategy
)

select * from final
order by session_date, strategy

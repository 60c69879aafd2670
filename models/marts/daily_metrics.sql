-- One row per session: NAV and P&L with the book's exposure at the close and the day's trading.
-- Exposures are at the strategy × symbol grain of positions_current (a long in one strategy and a
-- short in another both count toward gross).
with nav_daily as (
    select * from {{ ref('nav_daily') }}
),

holdings_at_close as (
    select * from {{ ref('int_holdings_at_close') }}
),

fills as (
    select * from {{ ref('int_fills') }}
),

exposure as (
    select
        session_date,
        sum(abs(market_value)) as gross_value,
        sum(market_value) as net_value,
        sum(market_value) filter (where market_value > 0) as long_value,
        -sum(market_value) filter (where market_value < 0) as short_value,
        count(*) filter (where quantity <> 0) as n_positions
    from holdings_at_close
    group by session_date
),

trading as (
    select
        session_date,
        count(*) as n_fills,
        sum(quantity * price) as traded_notional,
        sum(commission) as commissions
    from fills
    where session_date is not null
    group by session_date
),

metrics as (
    select
        n.session_date,
        n.nav,
        n.pnl,
        n.daily_return,
        n.flows,
        {{ safe_divide('coalesce(e.gross_value, 0)', 'n.nav') }} as gross_exposure,
        {{ safe_divide('coalesce(e.net_value, 0)', 'n.nav') }} as net_exposure,
        {{ safe_divide('coalesce(e.long_value, 0)', 'n.nav') }} as long_exposure,
        {{ safe_divide('coalesce(e.short_value, 0)', 'n.nav') }} as short_exposure,
        coalesce(t.n_fills, 0) as n_fills,
        coalesce(t.traded_notional, 0) as traded_notional,
        coalesce(t.commissions, 0) as commissions,
        coalesce(e.n_positions, 0) as n_positions,
        n.cash
    from nav_daily as n
    left join exposure as e on n.session_date = e.session_date
    left join trading as t on n.session_date = t.session_date
)

select * from metrics
order by session_date

-- NAV at each session close, P&L net of flows and the flow-adjusted daily return (SPEC §3):
--   pnl_d = NAV_d − NAV_{d−1} − F_d ;  daily_return_d = pnl_d / (NAV_{d−1} + F_d)
-- F_d = the flows in (close_{d−1}, close_d] (int_cash_flows.session_date): the flows d's close is the
-- first to see, so NAV_d and F_d always move together and no flow can move a return.
with sessions as (
    select * from {{ ref('int_sessions') }}
),

cash_timeline as (
    select * from {{ ref('int_cash_timeline') }}
),

holdings_at_close as (
    select * from {{ ref('int_holdings_at_close') }}
),

cash_flows as (
    select * from {{ ref('int_cash_flows') }}
),

closes as (
    select
        close_ts as ts,
        session_date
    from sessions
),

cash as (
    {{ cash_at('closes', 'cash_timeline') }}
),

positions as (
    select
        session_date,
        sum(market_value) as positions_value,
        count(*) filter (where mark_source = 'fill' and quantity <> 0) as n_fill_marked
    from holdings_at_close
    group by session_date
),

flows as (
    select
        session_date,
        sum(amount) as flows
    from cash_flows
    where session_date is not null
    group by session_date
),

nav as (
    select
        s.session_date,
        s.close_ts,
        s.session_seq,
        s.month,
        c.cash,
        coalesce(p.positions_value, 0) as positions_value,
        c.cash + coalesce(p.positions_value, 0) as nav,
        coalesce(f.flows, 0) as flows,
        coalesce(p.n_fill_marked, 0) as n_fill_marked
    from sessions as s
    inner join cash as c on s.session_date = c.session_date
    left join positions as p on s.session_date = p.session_date
    left join flows as f on s.session_date = f.session_date
),

with_prev as (
    select
        *,
        lag(nav, 1, 0) over (order by session_date) as prev_nav
    from nav
),

final as (
    select
        session_date,
        nav,
        cash,
        flows,
        nav - prev_nav - flows as pnl,
        {{ safe_divide('nav - prev_nav - flows', 'prev_nav + flows') }} as daily_return,
        prev_nav,
        positions_value,
        close_ts,
        session_seq,
        month,
        n_fill_marked
    from with_prev
)

select * from final
order by session_date

{#-
  Position-level historical simulation (SPEC §3 "Position risk"): today's market values times
  each symbol's daily price returns over the last var_window sessions give a P&L per position per
  scenario day. Portfolio VaR is the linear-interpolated 5 % (1 %) quantile of the summed P&L; a
  position's contribution is the same interpolation of *its* P&L in the two scenarios that bracket
  the quantile, so contributions add up to the portfolio figure exactly (sector / strategy
  contributions are sums of these). Positive = adds to the loss.
-#}
{%- set w = var('var_window') | int %}
{%- set min_obs = var('var_min_obs') | int %}

with positions_current as (
    select * from {{ ref('positions_current') }}
),

sessions as (
    select * from {{ ref('int_sessions') }}
),

symbol_close_marks as (
    select * from {{ ref('int_symbol_close_marks') }}
),

scenario_days as (
    -- the last var_window sessions that have a previous session (a return needs two closes)
    select s.session_date
    from sessions as s
    where
        s.prev_session_date is not null
        and s.session_date <= (select max(pc.session_date) from positions_current as pc)
    order by s.session_date desc
    limit {{ w }}
),

returns as (
    select
        r.session_date,
        r.symbol,
        coalesce(r.price_return, 0) as price_return
    from symbol_close_marks as r
    inner join scenario_days as d on r.session_date = d.session_date
),

position_pnl as (
    select
        p.strategy,
        p.symbol,
        d.session_date,
        p.market_value * coalesce(r.price_return, 0) as pnl
    from positions_current as p
    cross join scenario_days as d
    left join returns as r on p.symbol = r.symbol and d.session_date = r.session_date
),

portfolio as (
    select
        session_date,
        sum(pnl) as pnl,
        row_number() over (order by sum(pnl), session_date) - 1 as rank0
    from position_pnl
    group by session_date
),

n as (
    select count(*) as n_scenarios from portfolio
),

brackets as (
    -- for confidence c: h = (n−1)(1−c), k = floor(h), weight w = h − k on the (k+1)-th scenario
    select
        conf,
        k,
        h - k as w
    from (
        select
            c.conf,
            (n.n_scenarios - 1) * (1 - c.conf) as h,
            floor((n.n_scenarios - 1) * (1 - c.conf))::bigint as k
        from n, (values (0.95), (0.99)) as c (conf)
        where n.n_scenarios >= {{ min_obs }}
    )
),

weights as (
    -- the (one or two) scenario days that bracket each quantile and their interpolation weights
    select
        b.conf,
        p.session_date,
        case when p.rank0 = b.k then 1 - b.w else b.w end as wt
    from brackets as b
    inner join portfolio as p on b.k = p.rank0 or (b.k + 1 = p.rank0 and b.w > 0)
),

contrib as (
    select
        pp.strategy,
        pp.symbol,
        -sum(pp.pnl * wt.wt) filter (where wt.conf = 0.95) as var95_contribution,
        -sum(pp.pnl * wt.wt) filter (where wt.conf = 0.99) as var99_contribution
    from position_pnl as pp
    inner join weights as wt on pp.session_date = wt.session_date
    group by pp.strategy, pp.symbol
),

final as (
    select
        p.strategy,
        p.symbol,
        p.sector,
        p.market_value,
        c.var95_contribution,
        c.var99_contribution,
        {{ safe_divide('c.var95_contribution', 'sum(c.var95_contribution) over ()') }} as var95_share,
        p.weight,
        (select n.n_scenarios from n) as n_scenarios,
        p.session_date
    from positions_current as p
    left join contrib as c on p.strategy = c.strategy and p.symbol = c.symbol
)

select * from final
order by var95_contribution desc nulls last, strategy asc, symbol asc

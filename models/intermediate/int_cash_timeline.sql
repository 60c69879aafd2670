-- cash(t) = Σ flows − Σ signed_qty·price − Σ commission over ts <= t, one row per distinct ts,
-- so an as-of join at any instant reads cash with a single lookup.
with fills as (
    select * from {{ ref('int_fills') }}
),

flows as (
    select * from {{ ref('int_cash_flows') }}
),

events as (
    select
        ts,
        -signed_notional - commission as cash_delta,
        0.0 as flow_delta
    from fills
    union all
    select
        ts,
        amount as cash_delta,
        amount as flow_delta
    from flows
),

by_ts as (
    select
        ts,
        sum(cash_delta) as cash_delta,
        sum(flow_delta) as flow_delta
    from events
    group by ts
),

timeline as (
    select
        ts,
        sum(cash_delta) over (order by ts rows between unbounded preceding and current row) as cash,
        sum(flow_delta) over (order by ts rows between unbounded preceding and current row) as cum_flows
    from by_ts
)

select * from timeline
order by ts

{#-
  holdings_at(times, mark_timeline): the book at a set of instants.

  times          relation/CTE with (ts, session_date): the instants to value the book at
  mark_timeline  relation/CTE with (symbol, ts, price): every mark that may be the as-of mark

  Returns one row per instant × (strategy, symbol) traded at or before it:
  (ts, session_date, strategy, symbol, quantity, mark, mark_source, market_value)
  mark = price of the latest mark with ts <= t; with none, the latest fill price at or before t,
  flagged mark_source = 'fill' (SPEC §3).
-#}
{% macro holdings_at(times, mark_timeline) %}
    select
        g.ts,
        g.session_date,
        g.strategy,
        g.symbol,
        pos.position as quantity,
        coalesce(mk.price, fp.fill_price) as mark,
        case when mk.price is not null then 'mark' else 'fill' end as mark_source,
        pos.position * coalesce(mk.price, fp.fill_price) as market_value
    from (
        select t.ts, t.session_date, p.strategy, p.symbol
        from {{ times }} as t
        join (
            select strategy, symbol, min(ts) as first_ts
            from {{ ref('int_position_timeline') }}
            group by strategy, symbol
        ) as p
            on p.first_ts <= t.ts
    ) as g
    asof join {{ ref('int_position_timeline') }} as pos
        on pos.strategy = g.strategy and pos.symbol = g.symbol and g.ts >= pos.ts
    asof left join {{ mark_timeline }} as mk
        on mk.symbol = g.symbol and g.ts >= mk.ts
    asof left join {{ ref('int_fill_price_timeline') }} as fp
        on fp.symbol = g.symbol and g.ts >= fp.ts
{% endmacro %}

{# cash(t) and cumulative flows at each instant of `times` (0 before the first event) #}
{% macro cash_at(times) %}
    select
        t.ts,
        t.session_date,
        coalesce(c.cash, 0) as cash,
        coalesce(c.cum_flows, 0) as cum_flows
    from {{ times }} as t
    asof left join {{ ref('int_cash_timeline') }} as c
        on t.ts >= c.ts
{% endmacro %}

{#-
  holdings_at(times, position_timeline, mark_timeline, fill_price_timeline): the book at a set of
  instants. Every argument is a relation or a CTE name of the calling model (its import CTEs), so
  the model file shows every parent; the macro holds only the as-of logic.

  times                relation/CTE with (ts, session_date): the instants to value the book at
  position_timeline    int_position_timeline: (strategy, symbol, ts, position) after each fill time
  mark_timeline        relation/CTE with (symbol, ts, price): every mark that may be the as-of mark
  fill_price_timeline  int_fill_price_timeline: (symbol, ts, fill_price), the mark fallback

  Returns one row per instant × (strategy, symbol) traded at or before it:
  (ts, session_date, strategy, symbol, quantity, mark, mark_source, market_value)
  mark = price of the latest mark with ts <= t; with none, the latest fill price at or before t,
  flagged mark_source = 'fill' (SPEC §3).
-#}
{% macro holdings_at(times, position_timeline, mark_timeline, fill_price_timeline) %}
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
        select
            t.ts,
            t.session_date,
            p.strategy,
            p.symbol
        from {{ times }} as t
        inner join (
            select
                strategy,
                symbol,
                min(ts) as first_ts
            from {{ position_timeline }}
            group by strategy, symbol
        ) as p
            on t.ts >= p.first_ts
    ) as g
    asof inner join {{ position_timeline }} as pos
        on g.strategy = pos.strategy and g.symbol = pos.symbol and g.ts >= pos.ts
    asof left join {{ mark_timeline }} as mk
        on g.symbol = mk.symbol and g.ts >= mk.ts
    asof left join {{ fill_price_timeline }} as fp
        on g.symbol = fp.symbol and g.ts >= fp.ts
{% endmacro %}

{#-
  cash_at(times, cash_timeline): cash(t) and the cumulative flows at each instant of `times`
  (0 before the first event). cash_timeline is int_cash_timeline (ts, cash, cum_flows).
-#}
{% macro cash_at(times, cash_timeline) %}
    select
        t.ts,
        t.session_date,
        coalesce(c.cash, 0) as cash,
        coalesce(c.cum_flows, 0) as cum_flows
    from {{ times }} as t
    asof left join {{ cash_timeline }} as c
        on t.ts >= c.ts
{% endmacro %}

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
    {%- set since = earliest_ts(times) %}
    {%- set pos = as_of_rows(position_timeline, ['strategy', 'symbol'], ['position'], since) %}
    {%- set mk = as_of_rows(mark_timeline, ['symbol'], ['price'], since) %}
    {%- set fp = as_of_rows(fill_price_timeline, ['symbol'], ['fill_price'], since) %}
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
            from {{ pos }}
            group by strategy, symbol
        ) as p
            on t.ts >= p.first_ts
    ) as g
    asof inner join {{ pos }} as pos
        on g.strategy = pos.strategy and g.symbol = pos.symbol and g.ts >= pos.ts
    asof left join {{ mk }} as mk
        on g.symbol = mk.symbol and g.ts >= mk.ts
    asof left join {{ fp }} as fp
        on g.symbol = fp.symbol and g.ts >= fp.ts
{% endmacro %}

{#-
  as_of_rows(timeline, keys, values, since): the rows of `timeline` an as-of lookup from any
  instant t >= since can return — those at or after `since`, and each key's last row before it —
  as (keys, ts, values). An as-of join against this is exactly the join against the whole
  timeline, but it sorts the window, not the history: valuing today's book on a 26M-fill timeline
  took 10-20 s whole and 2 s cut (L tier). `first_ts` over it is unchanged where it matters: a key
  that started before `since` keeps a row before `since`, so t >= first_ts holds for every t
  >= since either way. With several rows of one key at its last instant before `since` (a timeline
  that is not unique by key and ts) either may be returned, as the as-of join would. `keys` may be
  empty (one timeline, e.g. cash): then the last row before `since` is the table's.
-#}
{% macro earliest_ts(times) -%}
    (select min(ts) from {{ times }})
{%- endmacro %}

{% macro as_of_rows(timeline, keys, values, since) %}
    {%- set k = (keys | join(', ')) ~ (', ' if keys else '') %}
    (
        select {{ k }}ts{% for v in values %}, {{ v }}{% endfor %}
        from {{ timeline }}
        where ts >= {{ since }}
        union all
        select {{ k }}max(ts) as ts{% for v in values %}, arg_max({{ v }}, ts) as {{ v }}{% endfor %}
        from {{ timeline }}
        where ts < {{ since }}
        {% if keys %}group by {{ keys | join(', ') }}{% endif %}
        having count(*) > 0
    )
{%- endmacro %}

{#-
  cash_at(times, cash_timeline): cash(t) and the cumulative flows at each instant of `times`
  (0 before the first event). cash_timeline is int_cash_timeline (ts, cash, cum_flows), one row
  per distinct ts: the as-of join reads only the rows as_of_rows keeps (as for the book).
-#}
{% macro cash_at(times, cash_timeline) %}
    select
        t.ts,
        t.session_date,
        coalesce(c.cash, 0) as cash,
        coalesce(c.cum_flows, 0) as cum_flows
    from {{ times }} as t
    asof left join {{ as_of_rows(cash_timeline, [], ['cash', 'cum_flows'], earliest_ts(times)) }} as c
        on t.ts >= c.ts
{% endmacro %}

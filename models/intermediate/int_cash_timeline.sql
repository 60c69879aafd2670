{#-
  cash(t) = Σ flows − Σ signed_qty·price − Σ commission over ts <= t, one row per distinct ts,
  so an as-of join at any instant reads cash with a single lookup.
  Incremental by window: the local dates from the earliest dirty one, continuing from the last
  row before the window.
-#}
{{ config(
    materialized = 'incremental',
    incremental_strategy = 'append',
    on_schema_change = 'append_new_columns',
    pre_hook = "{{ delete_window('local_date', dirty_from_date(ref('stg_landing__batches'))) }}",
) }}

{%- set since = dirty_from_date(ref('stg_landing__batches')) %}

with fills as (
    select * from {{ ref('int_fills') }}
),

flows as (
    select * from {{ ref('int_cash_flows') }}
),

batches as (
    select * from {{ ref('stg_landing__batches') }}
),

fills_in_window as (
    select * from fills
    where local_date >= {{ since }}
),

flows_in_window as (
    select * from flows
    where local_date >= {{ since }}
),

before_window as (
    {%- if is_incremental() and has_columns(this, ['local_date', 'batch_seq']) %}
        select
            coalesce(arg_max(cash, ts), 0) as cash,
            coalesce(arg_max(cum_flows, ts), 0) as cum_flows
        from {{ this }}
        where local_date < {{ since }}
    {%- else %}
        select
            0.0 as cash,
            0.0 as cum_flows
    {%- endif %}
),

events as (
    select
        ts,
        local_date,
        -signed_notional - commission as cash_delta,
        0.0 as flow_delta
    from fills_in_window
    union all
    select
        ts,
        local_date,
        amount as cash_delta,
        amount as flow_delta
    from flows_in_window
),

by_ts as (
    select
        ts,
        local_date,
        sum(cash_delta) as cash_delta,
        sum(flow_delta) as flow_delta
    from events
    group by ts, local_date
),

timeline as (
    select
        t.ts,
        b.cash + sum(t.cash_delta) over (order by t.ts rows between unbounded preceding and current row) as cash,
        b.cum_flows + sum(t.flow_delta) over (order by t.ts rows between unbounded preceding and current row)
            as cum_flows,
        t.local_date,
        {{ latest_batch_seq('batches') }} as batch_seq
    from by_ts as t
    cross join before_window as b
)

select * from timeline
order by ts

{#-
  position(strategy, symbol, t) after each distinct fill time.
  Incremental by window: the local dates from the earliest dirty one are recomputed, each
  position continuing from the last one before the window (a fill's position depends on the
  fills before it only).
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

batches as (
    select * from {{ ref('stg_landing__batches') }}
),

fills_in_window as (
    select * from fills
    where local_date >= {{ since }}
),

before_window as (
    {%- if is_incremental() and has_columns(this, ['local_date', 'batch_seq']) %}
        select
            strategy,
            symbol,
            arg_max(position, ts) as position
        from {{ this }}
        where local_date < {{ since }}
        group by strategy, symbol
    {%- else %}
        select
            null::varchar as strategy,
            null::varchar as symbol,
            null::double as position
        where false
    {%- endif %}
),

by_ts as (
    select
        strategy,
        symbol,
        ts,
        local_date,
        sum(signed_qty) as qty_delta
    from fills_in_window
    group by strategy, symbol, ts, local_date
),

timeline as (
    select
        t.strategy,
        t.symbol,
        t.ts,
        coalesce(b.position, 0) + sum(t.qty_delta) over (
            partition by t.strategy, t.symbol order by t.ts
            rows between unbounded preceding and current row
        ) as position,
        t.local_date,
        {{ latest_batch_seq('batches') }} as batch_seq
    from by_ts as t
    left join before_window as b
        on t.strategy = b.strategy and t.symbol = b.symbol
)

select * from timeline
order by strategy, symbol, ts

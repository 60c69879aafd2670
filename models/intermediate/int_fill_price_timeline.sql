{#-
  The latest fill price per symbol at each distinct fill time (ties at one instant: the last
  row of the engine's table wins), used as the mark when no market mark exists yet.
  Incremental by window: the local dates from the earliest dirty one (a row depends on the fills
  of its own instant only).
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

fill_prices as (
    select
        symbol,
        ts,
        arg_max(price, source_row) as fill_price,
        local_date,
        {{ latest_batch_seq('batches') }} as batch_seq
    from fills_in_window
    group by symbol, ts, local_date
)

select * from fill_prices
order by symbol, ts

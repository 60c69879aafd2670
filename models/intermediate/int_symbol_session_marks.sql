{#-
  Per symbol and local date: the close mark (last mark at or before the session close) and the
  last mark of the day. A tiny table (symbols × sessions) that lets every as-of lookup before the
  current window skip the raw marks. Incremental: only local dates touched by new input are recomputed.
-#}
{{ config(
    materialized = 'incremental',
    incremental_strategy = 'delete+insert',
    unique_key = ['symbol', 'local_date'],
) }}

{%- set since = dirty_from_date(ref('stg_landing__batches')) %}

with marks as (
    select * from {{ ref('stg_landing__marks') }}
),

batches as (
    select * from {{ ref('stg_landing__batches') }}
),

window_marks as (
    {{ marks_since('marks', since) }}
),

with_close as (
    select
        *,
        {{ session_close_utc('local_date') }} as close_ts
    from window_marks
),

per_day as (
    select
        symbol,
        local_date,
        max(close_ts) as close_ts,
        arg_max(price, ts) filter (where ts <= close_ts) as close_price,
        max(ts) filter (where ts <= close_ts) as close_mark_ts,
        arg_max(price, ts) as last_price,
        max(ts) as last_ts,
        count(distinct ts) as n_marks,
        {{ latest_batch_seq('batches') }} as batch_seq
    from with_close
    group by symbol, local_date
)

select * from per_day

{#-
  The book at every session close: strategy × symbol positions valued at the close marks.
  Incremental by window: the sessions from the earliest dirty local date on (a close sees only
  fills and marks at or before it, and a session before that date closed before any changed input).
-#}
{{ config(
    materialized = 'incremental',
    incremental_strategy = 'append',
    on_schema_change = 'append_new_columns',
    pre_hook = "{{ delete_window('session_date', dirty_from_date(ref('stg_landing__batches'))) }}",
) }}

{%- set since = dirty_from_date(ref('stg_landing__batches')) %}

with sessions as (
    select * from {{ ref('int_sessions') }}
),

position_timeline as (
    select * from {{ ref('int_position_timeline') }}
),

close_mark_timeline as (
    select * from {{ ref('int_close_mark_timeline') }}
),

fill_price_timeline as (
    select * from {{ ref('int_fill_price_timeline') }}
),

batches as (
    select * from {{ ref('stg_landing__batches') }}
),

closes as (
    select
        close_ts as ts,
        session_date
    from sessions
    where session_date >= {{ since }}
),

holdings as (
    {{ holdings_at('closes', 'position_timeline', 'close_mark_timeline', 'fill_price_timeline') }}
)

select
    *,
    {{ latest_batch_seq('batches') }} as batch_seq
from holdings
order by session_date, strategy, symbol

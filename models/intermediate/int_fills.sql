{#-
  Fills with the session they belong to: the first session date on or after their local date
  (a fill on a holiday counts toward the next session; one after the last session has none yet),
  and the session whose close first includes them (close_{d−1} < ts <= close_d): the window in
  which a fill moves a P&L that is measured close to close (strategy_daily_pnl, day_pnl).
  Incremental by window: from the session before the earliest dirty date (macros/incremental.sql:
  session_before), since a session opening from that date on re-dates the fills just before it.
-#}
{{ config(
    materialized = 'incremental',
    incremental_strategy = 'append',
    on_schema_change = 'append_new_columns',
    pre_hook = "{{ delete_window('local_date', session_before(ref('int_sessions'), dirty_from_date(ref('stg_landing__batches')))) }}",
) }}

{%- set since = session_before(ref('int_sessions'), dirty_from_date(ref('stg_landing__batches'))) %}

with fills as (
    select * from {{ ref('stg_landing__fills') }}
),

sessions as (
    select * from {{ ref('int_sessions') }}
),

batches as (
    select * from {{ ref('stg_landing__batches') }}
),

fills_in_window as (
    select * from fills
    where local_date >= {{ since }}
),

dated as (
    select
        f.fill_id,
        f.ts,
        f.symbol,
        f.side,
        f.quantity,
        f.price,
        f.commission,
        f.strategy,
        f.signed_qty,
        f.signed_qty * f.price as signed_notional,
        f.local_date,
        s.session_date,
        v.session_date as valuation_session_date,
        f.source_row,
        {{ latest_batch_seq('batches') }} as batch_seq
    from fills_in_window as f
    asof left join sessions as s
        on f.local_date <= s.session_date
    asof left join sessions as v
        on f.ts <= v.close_ts
)

select * from dated

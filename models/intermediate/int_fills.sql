-- Fills with the session they belong to: the first session date on or after their local date
-- (a fill on a holiday counts toward the next session; one after the last session has none yet),
-- and the session whose close first includes them (close_{d−1} < ts <= close_d): the window in
-- which a fill moves a P&L that is measured close to close (strategy_daily_pnl, day_pnl).
with fills as (
    select * from {{ ref('stg_landing__fills') }}
),

sessions as (
    select * from {{ ref('int_sessions') }}
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
        f.source_row
    from fills as f
    asof left join sessions as s
        on f.local_date <= s.session_date
    asof left join sessions as v
        on f.ts <= v.close_ts
)

select * from dated

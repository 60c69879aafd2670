-- Month-to-date return (time-weighted: compounded daily returns) and drawdown from the month's
-- peak (SPEC §3), with the monthly guard's arming and breach flags (SPEC §4).
--   mtd_return_d   = Π_{sessions of d's month ≤ d} (1 + daily_return) − 1
--   mtd_drawdown_d = index_d / max(1, max index so far in the month) − 1,  index = 1 + mtd_return
-- A session without a defined return (no capital yet) contributes a factor of 1.
with nav_daily as (
    select * from {{ ref('nav_daily') }}
),

mtd as (
    select
        session_date,
        month,
        daily_return,
        session_seq as history_days,
        product(1 + coalesce(daily_return, 0)) over (
            partition by month order by session_date
            rows between unbounded preceding and current row
        ) as mtd_index
    from nav_daily
),

peaked as (
    select
        *,
        max(mtd_index) over (
            partition by month order by session_date
            rows between unbounded preceding and current row
        ) as peak_index
    from mtd
),

judged as (
    select
        session_date,
        month,
        mtd_index - 1 as mtd_return,
        mtd_index / greatest(1, peak_index) - 1 as mtd_drawdown,
        history_days,
        history_days >= {{ var('monthly_min_history_days') }} as guard_armed,
        history_days >= {{ var('monthly_min_history_days') }}
        and {{ pct6('mtd_index - 1') }} <= {{ var('monthly_threshold_pct') }} as breached,
        daily_return
    from peaked
)

select * from judged
order by session_date

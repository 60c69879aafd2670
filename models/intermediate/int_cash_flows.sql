-- Cash flows with the session whose F_d counts them (SPEC §3): the first session whose close is at
-- or after the flow, i.e. close_{d−1} < ts <= close_d. A flow after a close, on a weekend or on a
-- holiday counts in the next session: d's close is the first NAV that sees it, so a withdrawal at
-- 20:30 is never read as a loss. A flow after the last close has no session yet (NULL).
with flows as (
    select * from {{ ref('stg_landing__cash_flows') }}
),

sessions as (
    select * from {{ ref('int_sessions') }}
),

dated as (
    select
        f.flow_id,
        f.ts,
        f.amount,
        f.note,
        f.local_date,
        s.session_date
    from flows as f
    asof left join sessions as s
        on f.ts <= s.close_ts
)

select * from dated

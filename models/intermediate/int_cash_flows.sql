-- Cash flows with their session (same rule as fills: first session on or after the local date).
with flows as (
    select * from {{ ref('stg_landing__cash_flows') }}
),

sessions as (
    select session_date from {{ ref('int_sessions') }}
)

select
    f.flow_id,
    f.ts,
    f.amount,
    f.note,
    f.local_date,
    s.session_date
from flows as f
asof left join sessions as s
    on f.local_date <= s.session_date

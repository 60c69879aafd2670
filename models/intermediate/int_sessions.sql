-- The session calendar: a session date exists when any mark falls on it (SPEC §3).
with session_marks as (
    select * from {{ ref('int_symbol_session_marks') }}
),

days as (
    select distinct local_date as session_date
    from session_marks
),

calendar as (
    select
        session_date,
        {{ session_close_utc('session_date') }} as close_ts,
        lag(session_date) over (order by session_date) as prev_session_date,
        row_number() over (order by session_date) as session_seq,
        cast(date_trunc('month', session_date) as date) as month
    from days
)

select * from calendar
order by session_date

-- Historical 1-day VaR and expected shortfall on the book's daily returns (SPEC §3):
-- the last var_window non-null daily returns up to and including d, at least var_min_obs of them.
--   var_c = max(0, −quantile_cont(r, 1−c))   es_c = −mean(r | r <= quantile_cont(r, 1−c))
-- utilisation = VaR in dollars / limit; level from the larger utilisation (SPEC §4 bands).
{%- set w = var('var_window') | int %}
{%- set min_obs = var('var_min_obs') | int %}

with nav_daily as (
    select * from {{ ref('nav_daily') }}
),

nav as (
    select
        session_date,
        nav,
        daily_return
    from nav_daily
),

obs as (
    -- the non-null returns, numbered
    select
        session_date,
        daily_return as r,
        row_number() over (order by session_date) as obs_seq
    from nav
    where daily_return is not null
),

anchor as (
    -- for each session, the number of observations available up to it
    select
        session_date,
        nav,
        count(daily_return) over (
            order by session_date rows between unbounded preceding and current row
        ) as last_obs
    from nav
),

windowed as (
    select
        a.session_date,
        o.r
    from anchor as a
    inner join obs as o
        on a.last_obs - {{ w }} < o.obs_seq and a.last_obs >= o.obs_seq
),

quantiles as (
    select
        session_date,
        count(*) as n_obs,
        quantile_cont(r, 0.05) as q05,
        quantile_cont(r, 0.01) as q01
    from windowed
    group by session_date
),

shortfall as (
    select
        w.session_date,
        -avg(w.r) filter (where w.r <= q.q05) as es95,
        -avg(w.r) filter (where w.r <= q.q01) as es99
    from windowed as w
    inner join quantiles as q on w.session_date = q.session_date
    group by w.session_date
),

var as (
    select
        a.session_date,
        a.nav,
        coalesce(q.n_obs, 0) as n_obs,
        case when q.n_obs >= {{ min_obs }} then greatest(0, -q.q05) end as var95,
        case when q.n_obs >= {{ min_obs }} then greatest(0, -q.q01) end as var99,
        case when q.n_obs >= {{ min_obs }} then s.es95 end as es95,
        case when q.n_obs >= {{ min_obs }} then s.es99 end as es99
    from anchor as a
    left join quantiles as q on a.session_date = q.session_date
    left join shortfall as s on a.session_date = s.session_date
),

usd as (
    select
        *,
        var95 * nav as var95_usd,
        var99 * nav as var99_usd,
        var95 * nav / {{ var('var_limit95_usd') }} as utilization95,
        var99 * nav / {{ var('var_limit99_usd') }} as utilization99
    from var
),

final as (
    select
        session_date,
        nav,
        n_obs,
        var95,
        var99,
        es95,
        es99,
        var95_usd,
        var99_usd,
        utilization95,
        utilization99,
        case
            when var95 is null then 'insufficient_data'
            when {{ pct6('greatest(utilization95, utilization99)') }} > {{ var('var_halt_pct') }} then 'breach'
            when {{ pct6('greatest(utilization95, utilization99)') }} > {{ var('var_critical_pct') }} then 'critical'
            when {{ pct6('greatest(utilization95, utilization99)') }} >= {{ var('var_warning_pct') }} then 'warning'
            else 'normal'
        end as level,
        {{ var('var_limit95_usd') }}::double as limit95_usd,
        {{ var('var_limit99_usd') }}::double as limit99_usd
    from usd
)

select * from final
order by session_date

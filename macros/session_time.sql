{#-
  Session-calendar arithmetic. All stored timestamps are naive UTC (the profile pins DuckDB's
  TimeZone to UTC), so a naive value cast to timestamptz means "this UTC instant".
-#}

{% macro session_tz() -%}
  '{{ var("session_timezone") }}'
{%- endmacro %}

{# UTC instant -> local wall-clock timestamp in the session timezone #}
{% macro to_local(ts_utc) -%}
  timezone({{ session_tz() }}, ({{ ts_utc }})::timestamptz)
{%- endmacro %}

{# local wall-clock timestamp in the session timezone -> naive UTC instant (DST-aware) #}
{% macro local_to_utc(local_ts) -%}
  (timezone({{ session_tz() }}, ({{ local_ts }})::timestamp))::timestamp
{%- endmacro %}

{% macro local_date(ts_utc) -%}
  cast({{ to_local(ts_utc) }} as date)
{%- endmacro %}

{# the UTC instant of a session date's close (session.close local time) #}
{% macro session_close_utc(session_date) -%}
  {{ local_to_utc("cast(" ~ session_date ~ " as date) + time '" ~ var("session_close") ~ ":00'") }}
{%- endmacro %}

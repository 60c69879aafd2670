{#-
  Incremental windows. Each ingest run appends a row to landing `batches` with the earliest input
  timestamp it changed (`dirty_from`). An incremental model stores the highest batch it has seen
  (`batch_seq`) and, on the next run, recomputes only the local dates from the earliest dirty
  timestamp of the batches it has not seen yet. The boundary is resolved at compile time and inlined
  as a constant, so DuckDB can skip old row groups of the marks table by their min/max statistics.
-#}

{% macro latest_batch_seq() -%}
  (select coalesce(max(landed_seq), 0) from {{ source('landing', 'batches') }})
{%- endmacro %}

{# Returns a SQL date literal: the first local date to recompute ('9999-12-31' = nothing new). #}
{% macro dirty_from_date() %}
  {%- if not execute or not is_incremental() -%}
    {{ return("date '0001-01-01'") }}
  {%- endif -%}
  {%- set q -%}
    with seen as (select coalesce(max(batch_seq), -1) as s from {{ this }})
    select
      bool_or(full_refresh) as full_refresh,
      cast(min({{ local_date('dirty_from') }}) as varchar) as d
    from {{ source('landing', 'batches') }}, seen
    where landed_seq > seen.s
  {%- endset -%}
  {%- set row = run_query(q).rows[0] -%}
  {%- if row[0] -%}
    {{ exceptions.raise_compiler_error("an input file was removed or rewritten: run a full refresh (exo run --full-refresh)") }}
  {%- endif -%}
  {%- if row[1] is none -%}
    {{ return("date '9999-12-31'") }}
  {%- endif -%}
  {{ return("date '" ~ row[1] ~ "'") }}
{% endmacro %}

{#-
  The marks of the local dates from ``since`` on. The extra condition on ts (2 days of slack for
  any timezone offset) lets DuckDB skip older row groups of the marks table by their min/max ts.
-#}
{% macro marks_since(since) %}
    select ts, symbol, price, local_date
    from {{ ref('stg_landing__marks') }}
    where local_date >= {{ since }}
      and ts >= cast({{ since }} as timestamp) - interval 2 day
{% endmacro %}

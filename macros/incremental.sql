{#-
  Incremental windows. Each ingest run appends a row to landing `batches` (staged as
  stg_landing__batches) with the earliest input timestamp it changed (`dirty_from`). An incremental
  model stores the highest batch it has seen (`batch_seq`) and, on the next run, recomputes only the
  local dates from the earliest dirty timestamp of the batches it has not seen yet. The boundary is
  resolved at compile time and inlined as a constant, so DuckDB can skip old row groups of the marks
  table by their min/max statistics.

  The macros take the batches relation as an argument (the model passes ref('stg_landing__batches')
  or its import CTE), so a model file names all of its parents.
-#}

{# the highest landed batch: the watermark an incremental model stores in batch_seq #}
{% macro latest_batch_seq(batches) -%}
  (select coalesce(max(landed_seq), 0) from {{ batches }})
{%- endmacro %}

{#-
  A SQL date literal: the first local date to recompute ('9999-12-31' = nothing new).
  `batches` must be a relation (ref('stg_landing__batches')): it is queried at compile time.
-#}
{% macro dirty_from_date(batches) %}
  {%- if not execute or not is_incremental() -%}
    {{ return("date '0001-01-01'") }}
  {%- endif -%}
  {%- set q -%}
    with seen as (select coalesce(max(batch_seq), -1) as s from {{ this }})
    select
      bool_or(full_refresh) as full_refresh,
      cast(min({{ local_date('dirty_from') }}) as varchar) as d
    from {{ batches }}, seen
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
  The marks of `marks` (stg_landing__marks or its import CTE) for the local dates from `since` on.
  The extra condition on ts (2 days of slack for any timezone offset) lets DuckDB skip older row
  groups of the marks table by their min/max ts.
-#}
{% macro marks_since(marks, since) %}
    select
        ts,
        symbol,
        price,
        local_date
    from {{ marks }}
    where
        local_date >= {{ since }}
        and ts >= cast({{ since }} as timestamp) - interval 2 day
{% endmacro %}

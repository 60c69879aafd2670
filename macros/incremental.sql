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
  {%- if not execute or not is_incremental() or not has_columns(this, ['batch_seq']) -%}
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

{#- Does `relation` (normally `this`) have every one of `columns`? A table built by an older
    version of the model lacks the watermark: the model then recomputes (and, with
    on_schema_change='append_new_columns', gains) it. -#}
{% macro has_columns(relation, columns) %}
  {%- if not execute -%}
    {{ return(true) }}
  {%- endif -%}
  {%- set have = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
  {%- for c in columns if c | lower not in have -%}
    {{ return(false) }}
  {%- endfor -%}
  {{ return(true) }}
{% endmacro %}

{#-
  Windowed incremental models (the fill-grain tables): the pre-hook deletes every row the run
  recomputes — `column` >= `since` — and the model appends what it computes for that window
  (incremental_strategy 'append'). Unlike delete+insert on a key, a window whose rows all went away
  (a correction deleted the only fills of a day) leaves nothing stale behind. A table without
  `column` or the watermark (built by an older version of the model) is emptied and rebuilt whole.
-#}
{% macro delete_window(column, since) %}
  {%- if execute and is_incremental() -%}
    {%- if has_columns(this, [column, 'batch_seq']) -%}
      delete from {{ this }} where {{ column }} >= {{ since }}
    {%- else -%}
      delete from {{ this }}
    {%- endif -%}
  {%- else -%}
    select 1
  {%- endif -%}
{% endmacro %}

{#-
  A SQL date literal: the latest session of `sessions` (int_sessions) strictly before `since`
  ('0001-01-01' if none). A fill's session and valuation session are the first session on or after
  it, so when sessions from `since` on change (a new session opens, a late mark adds one), the fills
  to re-date reach back to the session before: a fill on the holiday or evening before it.
-#}
{% macro session_before(sessions, since) %}
  {%- if not execute or since == "date '0001-01-01'" -%}
    {{ return("date '0001-01-01'") }}
  {%- endif -%}
  {%- set q -%}
    select cast(max(session_date) as varchar) from {{ sessions }} where session_date < {{ since }}
  {%- endset -%}
  {%- set d = run_query(q).rows[0][0] -%}
  {{ return("date '" ~ (d or '0001-01-01') ~ "'") }}
{% endmacro %}

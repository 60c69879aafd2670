{#-
  The one large input. Incremental by landing file: a new or re-landed input file (higher
  `landed_seq`) replaces that file's rows (delete+insert on `source_file`), so a tick costs the
  size of the files that changed, not the history.
-#}
{{ config(
    materialized = 'incremental',
    incremental_strategy = 'delete+insert',
    unique_key = 'source_file',
) }}

with source as (
    select * from {{ source('landing', 'marks') }}
    {% if is_incremental() %}
        where landed_seq > (select coalesce(max(t.landed_seq), -1) from {{ this }} as t)
    {% endif %}
),

renamed as (
    select
        ts,
        symbol,
        price,
        {{ local_date('ts') }} as local_date,
        source_file,
        source_row,
        landed_seq
    from source
)

select * from renamed
order by ts

with source as (
    select * from {{ source('landing', 'batches') }}
)

select
    landed_seq,
    landed_at,
    dirty_from,
    full_refresh,
    n_marks,
    n_fills,
    n_flows
from source

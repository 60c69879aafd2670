-- One row per alert: the alert itself plus its latest delivery, acknowledgement and escalation.
with events as (
    select * from {{ ref('stg_events__alerts') }}
),

alerts as (
    select
        alert_id,
        event_at as raised_at,
        severity,
        type,
        message,
        dedup_key
    from events
    where event = 'alert'
),

deliveries as (
    -- the latest outcome per external channel, then rolled up per alert
    select
        alert_id,
        channel,
        delivered,
        attempts
    from events
    where event = 'delivery'
    qualify row_number() over (partition by alert_id, channel order by event_seq desc) = 1
),

delivery_rollup as (
    select
        alert_id,
        string_agg(channel, ',' order by channel) as channel,
        bool_and(delivered) as delivered,
        sum(attempts) as attempts
    from deliveries
    group by alert_id
),

acks as (
    select
        alert_id,
        acked_by,
        event_at as acked_at
    from events
    where event = 'ack'
    qualify row_number() over (partition by alert_id order by event_seq) = 1
),

escalations as (
    select
        alert_id,
        max(event_at) as last_escalated_at,
        count(*) as n_escalations,
        arg_max(level, event_seq) as escalation_level
    from events
    where event = 'escalation'
    group by alert_id
),

final as (
    select
        a.alert_id,
        a.raised_at,
        a.severity,
        a.type,
        a.message,
        coalesce(d.channel, 'none') as channel,
        coalesce(d.delivered, false) as delivered,
        coalesce(d.attempts, 0) as attempts,
        k.acked_by,
        k.acked_at,
        a.dedup_key,
        e.escalation_level,
        coalesce(e.n_escalations, 0) as n_escalations
    from alerts as a
    left join delivery_rollup as d on a.alert_id = d.alert_id
    left join acks as k on a.alert_id = k.alert_id
    left join escalations as e on a.alert_id = e.alert_id
)

select * from final
order by raised_at

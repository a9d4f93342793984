-- campaign_click_delays: how long after sending (and after delivery) a person first clicked.
-- Grain: one row per message with a human click (bots excluded). Reads campaign_message_facts
-- (same parameters). Delays are in seconds; delay_from_delivery_seconds is NULL when the
-- delivery report is missing.
SELECT
    f.campaign_id,
    f.kind,
    f.variant,
    f.segment,
    f.country,
    f.local_hour,
    CAST(epoch(f.first_click_at) - epoch(f.sent_at) AS DOUBLE) AS delay_seconds,
    CAST(epoch(f.first_click_at) - epoch(f.delivered_at) AS DOUBLE) AS delay_from_delivery_seconds
FROM campaign_message_facts AS f
WHERE f.first_click_at IS NOT NULL

-- campaign_failures: messages that were not delivered, by status and error code.
-- Grain: one row per (campaign_id, kind, variant, segment, country, local_hour, status,
-- error_code) with a failure. Reads campaign_message_facts (same parameters).
SELECT
    f.campaign_id,
    f.kind,
    f.variant,
    f.segment,
    f.country,
    f.local_hour,
    f.status,
    COALESCE(f.error_code, 'none') AS error_code,
    COUNT(*) AS messages
FROM campaign_message_facts AS f
WHERE f.status IN ('undelivered', 'failed')
GROUP BY f.campaign_id, f.kind, f.variant, f.segment, f.country, f.local_hour, f.status,
         COALESCE(f.error_code, 'none')

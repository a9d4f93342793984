-- agg_contact_messages: messages sent to each contact before $as_of and how many were delivered.
-- Grain: one row per contact with at least one message sent before $as_of.
-- A message counts as delivered when it has a `delivered` receipt with status_at before $as_of.
SELECT
    m.contact_id,
    count(*) AS n_sent,
    CAST(sum(
        CASE WHEN m.message_id IN (
            SELECT r.message_id
            FROM receipts AS r
            WHERE r.status = 'delivered' AND r.status_at < CAST($as_of AS TIMESTAMPTZ)
        ) THEN 1 ELSE 0 END
    ) AS BIGINT) AS n_delivered,
    sum(m.cost) AS sms_cost,
    min(m.sent_at) AS first_sent_at,
    max(m.sent_at) AS last_sent_at
FROM messages AS m
WHERE m.sent_at < CAST($as_of AS TIMESTAMPTZ)
GROUP BY m.contact_id

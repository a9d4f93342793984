-- sendtime_sends: the send-time model's history. One row per delivered send before $as_of, with
-- whether a person responded to it: a click that is not a link-preview bot, at or after the send
-- and less than $window_hours hours after it (a click a day later says nothing about the hour the
-- message went out), and before $as_of. Sends with an `undelivered` or `failed` receipt before
-- $as_of were never exposed and are left out. Grain: one row per message.
WITH lost AS (
    SELECT DISTINCT r.message_id
    FROM receipts AS r
    WHERE r.status IN ('undelivered', 'failed')
      AND r.status_at < CAST($as_of AS TIMESTAMPTZ)
),
responded AS (
    SELECT DISTINCT k.message_id
    FROM clicks AS k
    JOIN messages AS m ON m.message_id = k.message_id
    WHERE NOT k.is_bot
      AND k.clicked_at >= m.sent_at
      AND k.clicked_at < m.sent_at + $window_hours * INTERVAL '1' HOUR
      AND k.clicked_at < CAST($as_of AS TIMESTAMPTZ)
)
SELECT
    m.message_id,
    m.contact_id,
    m.sent_at,
    m.campaign_id,
    m.variant,
    m.send_time_policy,
    CASE WHEN rs.message_id IS NULL THEN FALSE ELSE TRUE END AS is_response
FROM messages AS m
LEFT JOIN responded AS rs ON rs.message_id = m.message_id
LEFT JOIN lost AS l ON l.message_id = m.message_id
WHERE m.sent_at < CAST($as_of AS TIMESTAMPTZ)
  AND l.message_id IS NULL

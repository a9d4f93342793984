-- campaign_list: every campaign with messages sent before $as_of, newest first.
-- Grain: one row per campaign_id. Parameters: $as_of (TIMESTAMPTZ).
SELECT
    m.campaign_id,
    MAX(c.name) AS name,
    COALESCE(MAX(c.kind), 'unknown') AS kind,
    COUNT(*) AS sent,
    COUNT(DISTINCT COALESCE(m.variant, 'default')) AS variants,
    MAX(COALESCE(c.holdout_share, 0)) AS holdout_share,
    MIN(m.sent_at) AS first_sent_at,
    MAX(m.sent_at) AS last_sent_at
FROM messages AS m
LEFT JOIN campaigns AS c ON c.campaign_id = m.campaign_id
WHERE m.sent_at < CAST($as_of AS TIMESTAMPTZ)
  AND m.campaign_id IS NOT NULL
GROUP BY m.campaign_id
ORDER BY MAX(m.sent_at) DESC, m.campaign_id

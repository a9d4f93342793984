-- agg_contact_clicks: human clicks per contact before $as_of (is_bot clicks, i.e. link previews
-- and crawlers, are excluded). Grain: one row per contact with at least one human click.
-- Grouping by message first and then by contact is cheaper than count(DISTINCT message_id).
WITH per_message AS (
    SELECT
        k.contact_id,
        k.message_id,
        count(*) AS n_clicks,
        max(k.clicked_at) AS last_click_at
    FROM clicks AS k
    WHERE k.clicked_at < CAST($as_of AS TIMESTAMPTZ) AND NOT k.is_bot
    GROUP BY k.contact_id, k.message_id
)
SELECT
    contact_id,
    CAST(sum(n_clicks) AS BIGINT) AS n_clicks,
    count(*) AS n_clicked_messages,
    max(last_click_at) AS last_click_at
FROM per_message
GROUP BY contact_id

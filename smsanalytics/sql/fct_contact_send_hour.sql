-- fct_contact_send_hour: each contact's best local send hour so far: the local hour of day whose
-- messages were clicked most often (clicked messages / sends), ties broken by more clicked
-- messages, then more sends, then the earlier hour. Only hours with at least one clicked message
-- qualify. Grain: one row per contact with a clicked message in a known time zone.
-- A descriptive statistic, not a model: with few sends per hour it is noisy.
-- Sends are counted only for the (contact, hour) pairs that have a click (about a fifth of the
-- messages), which avoids grouping every message by contact and hour.
-- A (contact, hour) pair is keyed as contact_id * 24 + local_hour: one integer join key.
WITH clicked_pairs AS (
    SELECT
        c.contact_id * 24 + c.local_hour AS pair,
        c.contact_id,
        c.local_hour,
        c.clicked_messages
    FROM agg_contact_clicked_hours AS c
),
pair_sends AS (
    SELECT s.contact_id * 24 + s.local_hour AS pair, count(*) AS sends
    FROM stg_message_local_time AS s
    JOIN clicked_pairs AS p ON p.pair = s.contact_id * 24 + s.local_hour
    GROUP BY s.contact_id * 24 + s.local_hour
),
ranked AS (
    SELECT
        p.contact_id,
        p.local_hour,
        n.sends,
        p.clicked_messages,
        row_number() OVER (
            PARTITION BY p.contact_id
            ORDER BY CAST(p.clicked_messages AS DOUBLE) / n.sends DESC,
                     p.clicked_messages DESC, n.sends DESC, p.local_hour
        ) AS rn
    FROM clicked_pairs AS p
    JOIN pair_sends AS n ON n.pair = p.pair
)
SELECT
    contact_id,
    local_hour AS best_local_hour,
    sends AS best_local_hour_sends,
    CAST(clicked_messages AS DOUBLE) / sends AS best_local_hour_click_rate
FROM ranked
WHERE rn = 1

-- fct_contact_send_hour: each contact's best local send time so far, at two grains:
--   best_local_hour          the local hour of day (0-23) whose messages were clicked most often
--   best_local_hour_of_week  the local hour of the week (0 = Monday 00:00 … 167 = Sunday 23:00)
--                            whose messages were clicked most often
-- "Most often" is clicked messages / sends, ties broken by more clicked messages, then more
-- sends, then the earlier hour; only hours with at least one clicked message qualify. Grain: one
-- row per contact with a clicked message in a known time zone.
-- Descriptive statistics, not a model: with few sends per hour they are noisy (the hour of the
-- week more so; smsanalytics.sendtime models it properly).
-- Sends are counted only in the hours of day that have a click (about a fifth of the messages),
-- which avoids grouping every message by contact and hour. A (contact, hour of day) pair is keyed
-- as contact_id * 24 + hour, a (contact, hour of week) cell as contact_id * 168 + hour of week:
-- one integer join key each.
WITH clicked_cells AS (
    SELECT
        c.contact_id * 168 + c.local_hour_of_week AS cell,
        c.contact_id,
        c.local_hour_of_week,
        c.clicked_messages
    FROM agg_contact_clicked_hours AS c
),
clicked_pairs AS (
    SELECT
        c.contact_id * 24 + c.local_hour_of_week % 24 AS pair,
        c.contact_id,
        CAST(c.local_hour_of_week % 24 AS TINYINT) AS local_hour,
        CAST(sum(c.clicked_messages) AS BIGINT) AS clicked_messages
    FROM agg_contact_clicked_hours AS c
    GROUP BY c.contact_id, c.local_hour_of_week % 24
),
cell_sends AS (
    -- every send in a clicked hour of day, counted by hour of the week
    SELECT
        s.contact_id * 168 + (CAST(s.local_dow AS SMALLINT) - 1) * 24 + s.local_hour AS cell,
        s.contact_id * 24 + s.local_hour AS pair,
        count(*) AS sends
    FROM stg_message_local_time AS s
    JOIN clicked_pairs AS p ON p.pair = s.contact_id * 24 + s.local_hour
    GROUP BY s.contact_id * 168 + (CAST(s.local_dow AS SMALLINT) - 1) * 24 + s.local_hour,
             s.contact_id * 24 + s.local_hour
),
pair_sends AS (
    SELECT pair, CAST(sum(sends) AS BIGINT) AS sends
    FROM cell_sends
    GROUP BY pair
),
candidates AS (
    -- both grains in one list, so that one ranking rule serves them
    SELECT 'day' AS grain, p.contact_id, CAST(p.local_hour AS SMALLINT) AS slot, n.sends,
           p.clicked_messages
    FROM clicked_pairs AS p
    JOIN pair_sends AS n ON n.pair = p.pair
    UNION ALL
    SELECT 'week' AS grain, c.contact_id, c.local_hour_of_week AS slot, n.sends,
           c.clicked_messages
    FROM clicked_cells AS c
    JOIN cell_sends AS n ON n.cell = c.cell
),
ranked AS (
    SELECT
        *,
        row_number() OVER (
            PARTITION BY contact_id, grain
            ORDER BY CAST(clicked_messages AS DOUBLE) / sends DESC,
                     clicked_messages DESC, sends DESC, slot
        ) AS rn
    FROM candidates
)
SELECT
    h.contact_id,
    CAST(h.slot AS TINYINT) AS best_local_hour,
    h.sends AS best_local_hour_sends,
    CAST(h.clicked_messages AS DOUBLE) / h.sends AS best_local_hour_click_rate,
    w.slot AS best_local_hour_of_week,
    w.sends AS best_local_hour_of_week_sends,
    CAST(w.clicked_messages AS DOUBLE) / w.sends AS best_local_hour_of_week_click_rate
FROM ranked AS h
JOIN ranked AS w ON w.contact_id = h.contact_id AND w.grain = 'week' AND w.rn = 1
WHERE h.grain = 'day' AND h.rn = 1

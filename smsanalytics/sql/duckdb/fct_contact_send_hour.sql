-- fct_contact_send_hour, DuckDB dialect: same result as ../fct_contact_send_hour.sql.
-- Why a DuckDB version: the portable version counts the sends of the clicked (contact, hour) pairs
-- with a hash join of every message (21 million at a million contacts) against the ~0.9 million
-- clicked pairs. Here each contact's clicked hours become a 24-bit mask (bit_or of 1 << hour,
-- from the staged agg_contact_clicked_hours); the messages of contacts with a click are joined
-- to that mask on contact_id (a dense key: DuckDB indexes it like an array), get their local hour
-- from `zone_days` (as in duckdb/stg_message_local_time.sql) and are kept when the bit of their
-- local hour is set. The ranking is the portable one.
-- Tested equal to the portable version (tests/segments/test_features_dialects.py).
WITH masks AS (
    SELECT
        c.contact_id,
        min(cz.zone_id) AS zone_id,
        CAST(bit_or(CAST(1 AS INTEGER) << c.local_hour) AS INTEGER) AS hours
    FROM agg_contact_clicked_hours AS c
    JOIN stg_contact_zones AS cz ON cz.contact_id = c.contact_id
    GROUP BY c.contact_id
),
sends AS (
    SELECT m.contact_id, k.zone_id, k.hours, epoch_us(m.sent_at) // 1000000 AS utc_s
    FROM messages AS m
    JOIN masks AS k ON k.contact_id = m.contact_id
    WHERE m.sent_at < CAST($as_of AS TIMESTAMPTZ)
),
local_hours AS (
    SELECT
        s.contact_id,
        s.hours,
        CAST((s.utc_s + CASE
            WHEN s.utc_s % 86400 >= zd.switch_second THEN zd.offset_after_s
            ELSE zd.offset_before_s
        END) // 3600 % 24 AS TINYINT) AS local_hour
    FROM sends AS s
    JOIN zone_days AS zd
        ON zd.zone_day = CAST(s.zone_id * $zone_day_count + s.utc_s // 86400 - $zone_first_day
                              AS INTEGER)
),
pair_sends AS (
    SELECT contact_id, local_hour, count(*) AS sends
    FROM local_hours
    WHERE (hours >> local_hour) & 1 = 1
    GROUP BY contact_id, local_hour
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
    FROM agg_contact_clicked_hours AS p
    JOIN pair_sends AS n ON n.contact_id = p.contact_id AND n.local_hour = p.local_hour
)
SELECT
    contact_id,
    local_hour AS best_local_hour,
    sends AS best_local_hour_sends,
    CAST(clicked_messages AS DOUBLE) / sends AS best_local_hour_click_rate
FROM ranked
WHERE rn = 1

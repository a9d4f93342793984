-- fct_contact_send_hour, DuckDB dialect: same result as ../fct_contact_send_hour.sql.
-- Why a DuckDB version: the portable version counts the sends of the clicked hours with a hash
-- join of every message (21 million at a million contacts) against the ~0.9 million clicked
-- (contact, hour of day) pairs. Here each contact's clicked hours of day become a 24-bit mask
-- (bit_or of 1 << hour); the messages of contacts with a click are joined to that mask on
-- contact_id (a dense key: DuckDB indexes it like an array), get their local time from
-- `zone_days` (as in duckdb/stg_message_local_time.sql) and are kept when the bit of their local
-- hour is set. They are then grouped by (contact, hour of day) only, and the sends of each day of
-- the week are counted in the same group, packed in one HUGEINT: 18 bits per day, day d (0 =
-- Monday) at bits 18d … 18d + 17, summed as 1 << 18d per send. Grouping by hour of the week
-- instead (up to 7 times as many groups) cost 0.25 s more at a million contacts. A field cannot
-- overflow unless its (contact, hour of day) group has 2^18 = 262,144 sends or more, which is
-- refused with an error rather than miscounted. The rankings are the portable ones.
-- Tested equal to the portable version (tests/segments/test_features_dialects.py).
WITH clicked_hours AS (
    SELECT
        contact_id,
        CAST(local_hour_of_week % 24 AS TINYINT) AS local_hour,
        CAST(sum(clicked_messages) AS BIGINT) AS clicked_messages
    FROM agg_contact_clicked_hours
    GROUP BY contact_id, CAST(local_hour_of_week % 24 AS TINYINT)
),
masks AS (
    SELECT
        c.contact_id,
        min(cz.zone_id) AS zone_id,
        CAST(bit_or(CAST(1 AS INTEGER) << c.local_hour) AS INTEGER) AS hours
    FROM clicked_hours AS c
    JOIN stg_contact_zones AS cz ON cz.contact_id = c.contact_id
    GROUP BY c.contact_id
),
sends AS (
    SELECT m.contact_id, k.zone_id, k.hours, epoch_us(m.sent_at) // 1000000 AS utc_s
    FROM messages AS m
    JOIN masks AS k ON k.contact_id = m.contact_id
    WHERE m.sent_at < CAST($as_of AS TIMESTAMPTZ)
),
local_times AS (
    SELECT
        s.contact_id,
        s.hours,
        s.utc_s + CASE
            WHEN s.utc_s % 86400 >= zd.switch_second THEN zd.offset_after_s
            ELSE zd.offset_before_s
        END AS local_s
    FROM sends AS s
    JOIN zone_days AS zd
        ON zd.zone_day = CAST(s.zone_id * $zone_day_count + s.utc_s // 86400 - $zone_first_day
                              AS INTEGER)
),
pair_sends AS (
    SELECT
        contact_id,
        CAST(local_s // 3600 % 24 AS TINYINT) AS local_hour,
        count(*) AS sends,
        sum(CAST(1 AS HUGEINT) << CAST((local_s // 86400 + 3) % 7 * 18 AS INTEGER)) AS day_sends
    FROM local_times
    WHERE (hours >> CAST(local_s // 3600 % 24 AS INTEGER)) & 1 = 1
    GROUP BY contact_id, CAST(local_s // 3600 % 24 AS TINYINT)
),
hour_ranked AS (
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
    FROM clicked_hours AS p
    JOIN pair_sends AS n ON n.contact_id = p.contact_id AND n.local_hour = p.local_hour
),
cell_sends AS (
    SELECT
        c.contact_id,
        c.local_hour_of_week,
        c.clicked_messages,
        CASE
            WHEN n.sends < 262144
            THEN CAST((n.day_sends >> CAST(c.local_hour_of_week // 24 * 18 AS INTEGER)) & 262143
                      AS BIGINT)
            ELSE error('best send hour (DuckDB dialect): contact ' || c.contact_id
                       || ' has 262,144 sends or more in one local hour of day, more than its '
                       || 'packed counters hold; compute the feature table with the portable '
                       || 'SQL: smsanalytics.features.query_relation(warehouse, name, '
                       || 'dialect="portable", as_of=...)')
        END AS sends
    FROM agg_contact_clicked_hours AS c
    JOIN pair_sends AS n
        ON n.contact_id = c.contact_id
        AND n.local_hour = CAST(c.local_hour_of_week % 24 AS TINYINT)
),
week_ranked AS (
    SELECT
        contact_id,
        local_hour_of_week,
        sends,
        clicked_messages,
        row_number() OVER (
            PARTITION BY contact_id
            ORDER BY CAST(clicked_messages AS DOUBLE) / sends DESC,
                     clicked_messages DESC, sends DESC, local_hour_of_week
        ) AS rn
    FROM cell_sends
)
SELECT
    h.contact_id,
    h.local_hour AS best_local_hour,
    h.sends AS best_local_hour_sends,
    CAST(h.clicked_messages AS DOUBLE) / h.sends AS best_local_hour_click_rate,
    w.local_hour_of_week AS best_local_hour_of_week,
    w.sends AS best_local_hour_of_week_sends,
    CAST(w.clicked_messages AS DOUBLE) / w.sends AS best_local_hour_of_week_click_rate
FROM hour_ranked AS h
JOIN week_ranked AS w ON w.contact_id = h.contact_id AND w.rn = 1
WHERE h.rn = 1

-- stg_message_local_time, DuckDB dialect: same result as ../stg_message_local_time.sql.
-- Why a DuckDB version, 1: the portable version tests "clicked by a person before $as_of" with a
-- hash semi-join over every human-clicked message id, probed by every message (21 million at a
-- million contacts). Here those ids become bitmaps (bitstring_agg) per block of 65,536
-- consecutive message ids, joined to each message on its block number (a build side of a few
-- hundred rows), and each message looks its bit up (get_bit); see duckdb/agg_contact_messages.sql.
-- Why, 2: local time comes from `zone_days` (smsanalytics.features.zone_days: per zone and UTC
-- day, the offset before and after the second of the day at which it changes) instead of the
-- portable 15-minute table: a few thousand rows on a dense integer key instead of ~400,000, and
-- the local time is arithmetic: epoch seconds + offset. $zone_first_day / $zone_day_count are
-- filled in by smsanalytics.features.query_relation, as are $message_id_min / $message_id_max.
-- Tested equal to the portable version (tests/segments/test_features_dialects.py).
WITH clicked AS (
    SELECT
        (k.message_id - $message_id_min) // 65536 AS block,
        bitstring_agg(CAST((k.message_id - $message_id_min) % 65536 AS INTEGER), 0, 65535) AS bits
    FROM clicks AS k
    WHERE k.clicked_at < CAST($as_of AS TIMESTAMPTZ)
        AND NOT k.is_bot
        AND k.message_id BETWEEN $message_id_min AND $message_id_max
    GROUP BY (k.message_id - $message_id_min) // 65536
),
located AS (
    SELECT
        m.message_id,
        m.contact_id,
        epoch_us(m.sent_at) // 1000000 AS utc_s,
        zd.switch_second,
        zd.offset_before_s,
        zd.offset_after_s
    FROM messages AS m
    JOIN stg_contact_zones AS cz ON cz.contact_id = m.contact_id
    JOIN zone_days AS zd
        ON zd.zone_day = CAST(cz.zone_id * $zone_day_count
                              + epoch_us(m.sent_at) // 86400000000 - $zone_first_day AS INTEGER)
    WHERE m.sent_at < CAST($as_of AS TIMESTAMPTZ)
),
local_time AS (
    SELECT
        l.message_id,
        l.contact_id,
        l.utc_s + CASE
            WHEN l.utc_s % 86400 >= l.switch_second THEN l.offset_after_s
            ELSE l.offset_before_s
        END AS local_s
    FROM located AS l
)
SELECT
    t.message_id,
    t.contact_id,
    CAST(t.local_s // 3600 % 24 AS TINYINT) AS local_hour,
    CAST((t.local_s // 86400 + 3) % 7 + 1 AS TINYINT) AS local_dow,
    coalesce(
        get_bit(d.bits, CAST((t.message_id - $message_id_min) % 65536 AS INTEGER)) = 1, FALSE
    ) AS is_clicked
FROM local_time AS t
LEFT JOIN clicked AS d ON d.block = (t.message_id - $message_id_min) // 65536

-- stg_message_local_time, DuckDB dialect: same result as ../stg_message_local_time.sql.
-- Why a DuckDB version: the portable version tests "clicked by a person before $as_of" with a
-- hash semi-join over every human-clicked message id, probed by every message (21 million at a
-- million contacts). Here those ids become bitmaps (bitstring_agg) per block of 65,536
-- consecutive message ids, joined to each message on its block number (a build side of a few
-- hundred rows), and each message looks its bit up (get_bit); see duckdb/agg_contact_messages.sql.
-- Local time: as in the portable version, from `zone_offsets` on one integer key.
-- $message_id_min / $message_id_max are the range of messages.message_id, filled in by
-- smsanalytics.features.query_relation.
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
)
SELECT
    m.message_id,
    m.contact_id,
    zo.local_hour,
    zo.local_dow,
    coalesce(
        get_bit(d.bits, CAST((m.message_id - $message_id_min) % 65536 AS INTEGER)) = 1, FALSE
    ) AS is_clicked
FROM messages AS m
JOIN stg_contact_zones AS cz ON cz.contact_id = m.contact_id
JOIN zone_offsets AS zo
    ON zo.zone_bucket = CAST(cz.zone_id AS BIGINT) * 4294967296
                        + CAST(floor(epoch(m.sent_at) / 900) AS BIGINT)
LEFT JOIN clicked AS d ON d.block = (m.message_id - $message_id_min) // 65536
WHERE m.sent_at < CAST($as_of AS TIMESTAMPTZ)

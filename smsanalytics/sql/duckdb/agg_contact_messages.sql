-- agg_contact_messages, DuckDB dialect: same result as ../agg_contact_messages.sql.
-- Why a DuckDB version: the portable version tests "has a delivered receipt" with a hash semi-join
-- whose build side is every delivered message (20 million ids at a million contacts, a hash
-- table of ~0.5 GB, random memory access). Here the delivered ids become one bitmap over the
-- message_id range (bitstring_agg: 2.6 MB for 21 million messages) and each message looks its bit
-- up (get_bit): about 0.3 GB less peak memory and somewhat faster at a million contacts (the
-- one-row CROSS JOIN costs a copy of the bitmap per vector, so it is no use for small sets).
-- $message_id_min / $message_id_max are the range of messages.message_id, filled in by
-- smsanalytics.features.query_relation.
-- Tested equal to the portable version (tests/segments/test_features_dialects.py).
WITH delivered AS (
    SELECT bitstring_agg(r.message_id, $message_id_min, $message_id_max) AS bits
    FROM receipts AS r
    WHERE r.status = 'delivered'
        AND r.status_at < CAST($as_of AS TIMESTAMPTZ)
        AND r.message_id BETWEEN $message_id_min AND $message_id_max
)
SELECT
    m.contact_id,
    count(*) AS n_sent,
    CAST(coalesce(sum(get_bit(d.bits, CAST(m.message_id - $message_id_min AS INTEGER))), 0) AS BIGINT)
        AS n_delivered,
    sum(m.cost) AS sms_cost,
    min(m.sent_at) AS first_sent_at,
    max(m.sent_at) AS last_sent_at
FROM messages AS m
CROSS JOIN delivered AS d
WHERE m.sent_at < CAST($as_of AS TIMESTAMPTZ)
GROUP BY m.contact_id

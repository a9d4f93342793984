-- agg_contact_messages, DuckDB dialect: same result as ../agg_contact_messages.sql.
-- Why a DuckDB version: the portable version tests "has a delivered receipt" with a hash semi-join
-- whose build side is every delivered message (20 million ids at a million contacts, a hash
-- table of ~0.5 GB, random memory access). Here the delivered ids become bitmaps over the
-- message_id range (bitstring_agg: 2.6 MB in all for 21 million messages), one per block of
-- 65,536 consecutive ids (8 KB each, ~320 blocks at a million contacts), and each message looks
-- its bit up (get_bit) in its block's bitmap, found by an equi-join on the block number (a tiny
-- build side). One bitmap for the whole range joined with a one-row CROSS JOIN was slower than
-- the semi-join: the cross product copies the whole 2.6 MB bitmap into every 2,048-row vector
-- (~27 GB of copying at 21 million messages); the join on blocks only references 8 KB ones.
-- The bitmaps are the helper table `delivered_blocks` (block, bits), built once per run by
-- smsanalytics.features from the receipts before $as_of (see _DELIVERED_BLOCKS_SQL there): when
-- the feature table is computed part by part (contact-id ranges), every part reuses them instead
-- of scanning all receipts again. It has a row for every block of the messages' id range (zeros
-- where nothing was delivered), so the join is an inner one: every message finds its block
-- (about 0.05 s less than a LEFT JOIN at a million contacts). $message_id_min is the smallest
-- messages.message_id, filled in by smsanalytics.features.query_relation.
-- Tested equal to the portable version (tests/segments/test_features_dialects.py).
SELECT
    m.contact_id,
    count(*) AS n_sent,
    CAST(sum(
        get_bit(d.bits, CAST((m.message_id - $message_id_min) % 65536 AS INTEGER))
    ) AS BIGINT) AS n_delivered,
    sum(m.cost) AS sms_cost,
    min(m.sent_at) AS first_sent_at,
    max(m.sent_at) AS last_sent_at
FROM messages AS m
JOIN delivered_blocks AS d ON d.block = (m.message_id - $message_id_min) // 65536
WHERE m.sent_at < CAST($as_of AS TIMESTAMPTZ)
GROUP BY m.contact_id

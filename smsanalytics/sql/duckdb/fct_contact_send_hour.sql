-- fct_contact_send_hour, DuckDB dialect: same result as ../fct_contact_send_hour.sql.
-- Why a DuckDB version: the portable version counts the sends of the clicked (contact, hour) pairs
-- with a hash join of every message (21 million at a million contacts) against the ~0.9 million
-- clicked pairs. Here the clicked pairs become bitmaps (bitstring_agg) per block of 65,536
-- consecutive pair keys (pair = contact_id * 24 + local_hour), joined to each message on its
-- block number (a build side of a few hundred rows) and tested with get_bit; the rest (counting,
-- ranking) is the portable query. The in-block offset is taken modulo 65,536 the floor way, so
-- negative contact ids would work too. See duckdb/agg_contact_messages.sql for why blocks and not
-- one bitmap.
-- Tested equal to the portable version (tests/segments/test_features_dialects.py).
WITH clicked_pairs AS (
    SELECT
        s.contact_id * 24 + s.local_hour AS pair,
        min(s.contact_id) AS contact_id,
        min(s.local_hour) AS local_hour,
        count(*) AS clicked_messages
    FROM stg_message_local_time AS s
    WHERE s.is_clicked
    GROUP BY s.contact_id * 24 + s.local_hour
),
pair_bits AS (
    SELECT
        (pair - ((pair % 65536 + 65536) % 65536)) // 65536 AS block,
        bitstring_agg(CAST((pair % 65536 + 65536) % 65536 AS INTEGER), 0, 65535) AS bits
    FROM clicked_pairs
    GROUP BY (pair - ((pair % 65536 + 65536) % 65536)) // 65536
),
keyed AS (
    SELECT s.contact_id * 24 + s.local_hour AS pair
    FROM stg_message_local_time AS s
),
pair_sends AS (
    SELECT k.pair, count(*) AS sends
    FROM keyed AS k
    JOIN pair_bits AS b
        ON b.block = (k.pair - ((k.pair % 65536 + 65536) % 65536)) // 65536
    WHERE get_bit(b.bits, CAST((k.pair % 65536 + 65536) % 65536 AS INTEGER)) = 1
    GROUP BY k.pair
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

-- agg_contact_inbound: replies per contact before $as_of and the last opt-out/opt-in keyword.
-- Grain: one row per contact with at least one reply before $as_of.
-- last_opt_keyword is STOP or START, whichever came last (ties: STOP wins, the safe side).
WITH replies AS (
    SELECT i.contact_id, i.received_at, upper(i.keyword) AS keyword
    FROM inbound AS i
    WHERE i.received_at < CAST($as_of AS TIMESTAMPTZ)
),
opt AS (
    SELECT
        contact_id,
        keyword,
        row_number() OVER (
            PARTITION BY contact_id
            ORDER BY received_at DESC, CASE WHEN keyword = 'STOP' THEN 0 ELSE 1 END
        ) AS rn
    FROM replies
    WHERE keyword IN ('STOP', 'START')
),
counts AS (
    SELECT contact_id, count(*) AS n_inbound, max(received_at) AS last_inbound_at
    FROM replies
    GROUP BY contact_id
)
SELECT c.contact_id, c.n_inbound, c.last_inbound_at, o.keyword AS last_opt_keyword
FROM counts AS c
LEFT JOIN opt AS o ON o.contact_id = c.contact_id AND o.rn = 1

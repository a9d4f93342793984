-- campaign_message_facts: what happened to each message sent in [$start, $end), as known at $as_of.
-- Grain: one row per message. Used by the campaign KPIs (smsanalytics.campaigns); never holds a
-- phone number.
--
-- Parameters
--   $start, $end     window of sent_at (TIMESTAMPTZ, end exclusive)
--   $as_of           events (receipts, clicks, orders, replies) count only before this instant
--   $campaign_id     one campaign, or NULL for every message (transactional ones included)
--   $click_days      attribution: an order is credited to the last human click within this many
--                    days before it (INTEGER) ...
--   $delivery_days   ... else to the last message delivered within this many days before it
--   $optout_days     a STOP reply is charged to the last message sent within this many days before
--
-- Relations registered per run by smsanalytics.campaigns (not tables of the warehouse):
--   zone_ids (zone_id, timezone) and zone_offsets (zone_bucket, local_hour, ...) from
--   smsanalytics.features.zone_tables: the local hour of each 15-minute UTC bucket per IANA zone
--   (DST-exact, an integer join instead of a per-row time-zone conversion);
--   campaign_segments (contact_id, segment): the segment of each contact (may be empty);
--   campaign_prices (country, price_per_segment): prices for messages without a recorded cost,
--   with a 'default' row.
--
-- Delivery status: 'delivered' when any delivery report says delivered or a person clicked the
-- link (a click proves delivery when the report is missing), else 'failed' or 'undelivered' (the
-- last such report, with its error code), else 'pending' (no final report yet).
-- Portable SQL (CTEs, CASE, COALESCE, ROW_NUMBER, integer * INTERVAL '1' DAY); epoch() is the
-- one DuckDB function (Spark: unix_timestamp), as in stg_message_local_time.
WITH sent AS (
    SELECT
        m.message_id,
        m.campaign_id,
        COALESCE(m.variant, 'default') AS variant,
        m.contact_id,
        m.sent_at,
        m.segments,
        m.cost
    FROM messages AS m
    WHERE m.sent_at >= CAST($start AS TIMESTAMPTZ)
      AND m.sent_at < CAST($end AS TIMESTAMPTZ)
      AND m.sent_at < CAST($as_of AS TIMESTAMPTZ)
      AND (CAST($campaign_id AS VARCHAR) IS NULL OR m.campaign_id = CAST($campaign_id AS VARCHAR))
),

reports AS (
    SELECT r.message_id, r.status, r.status_at, r.error_code
    FROM receipts AS r
    INNER JOIN sent AS s ON s.message_id = r.message_id
    WHERE r.status_at < CAST($as_of AS TIMESTAMPTZ)
),

delivery AS (
    SELECT
        message_id,
        MIN(CASE WHEN status = 'delivered' THEN status_at END) AS delivered_at
    FROM reports
    GROUP BY message_id
),

last_failure AS (
    SELECT message_id, status, error_code
    FROM (
        SELECT
            message_id,
            status,
            error_code,
            ROW_NUMBER() OVER (
                PARTITION BY message_id ORDER BY status_at DESC, status, error_code
            ) AS rn
        FROM reports
        WHERE status IN ('undelivered', 'failed')
    ) AS f
    WHERE rn = 1
),

message_clicks AS (
    SELECT
        k.message_id,
        MIN(CASE WHEN NOT k.is_bot THEN k.clicked_at END) AS first_click_at,
        SUM(CASE WHEN NOT k.is_bot THEN 1 ELSE 0 END) AS human_clicks,
        SUM(CASE WHEN k.is_bot THEN 1 ELSE 0 END) AS bot_clicks
    FROM clicks AS k
    INNER JOIN sent AS s ON s.message_id = k.message_id
    WHERE k.clicked_at < CAST($as_of AS TIMESTAMPTZ)
    GROUP BY k.message_id
),

window_orders AS (
    SELECT o.order_id, o.contact_id, o.ordered_at, o.amount
    FROM orders AS o
    WHERE o.ordered_at >= CAST($start AS TIMESTAMPTZ)
      AND o.ordered_at < CAST($as_of AS TIMESTAMPTZ)
      AND o.ordered_at < CAST($end AS TIMESTAMPTZ)
                         + GREATEST($click_days, $delivery_days) * INTERVAL '1' DAY
      AND o.contact_id IN (SELECT contact_id FROM sent)
),

click_touch AS (
    SELECT
        o.order_id,
        k.message_id,
        ROW_NUMBER() OVER (
            PARTITION BY o.order_id ORDER BY k.clicked_at DESC, k.message_id DESC
        ) AS rn
    FROM window_orders AS o
    INNER JOIN clicks AS k ON k.contact_id = o.contact_id
    WHERE NOT k.is_bot
      AND k.clicked_at > CAST($start AS TIMESTAMPTZ) - $click_days * INTERVAL '1' DAY
      AND k.clicked_at <= o.ordered_at
      AND k.clicked_at > o.ordered_at - $click_days * INTERVAL '1' DAY
),

contact_deliveries AS (
    SELECT m.message_id, m.contact_id, MIN(r.status_at) AS delivered_at
    FROM messages AS m
    INNER JOIN receipts AS r ON r.message_id = m.message_id
    WHERE r.status = 'delivered'
      AND r.status_at < CAST($as_of AS TIMESTAMPTZ)
      AND r.status_at > CAST($start AS TIMESTAMPTZ) - $delivery_days * INTERVAL '1' DAY
      AND m.contact_id IN (SELECT contact_id FROM window_orders)
    GROUP BY m.message_id, m.contact_id
),

delivery_touch AS (
    SELECT
        o.order_id,
        d.message_id,
        ROW_NUMBER() OVER (
            PARTITION BY o.order_id ORDER BY d.delivered_at DESC, d.message_id DESC
        ) AS rn
    FROM window_orders AS o
    INNER JOIN contact_deliveries AS d ON d.contact_id = o.contact_id
    WHERE d.delivered_at <= o.ordered_at
      AND d.delivered_at > o.ordered_at - $delivery_days * INTERVAL '1' DAY
),

attributed AS (
    SELECT
        COALESCE(c.message_id, d.message_id) AS message_id,
        CASE WHEN c.message_id IS NOT NULL THEN 1 ELSE 0 END AS by_click,
        o.amount
    FROM window_orders AS o
    LEFT JOIN click_touch AS c ON c.order_id = o.order_id AND c.rn = 1
    LEFT JOIN delivery_touch AS d ON d.order_id = o.order_id AND d.rn = 1
    WHERE c.message_id IS NOT NULL OR d.message_id IS NOT NULL
),

message_orders AS (
    SELECT
        message_id,
        COUNT(*) AS orders,
        SUM(by_click) AS orders_by_click,
        SUM(amount) AS revenue
    FROM attributed
    GROUP BY message_id
),

stops AS (
    SELECT DISTINCT i.contact_id, i.received_at
    FROM inbound AS i
    WHERE UPPER(i.keyword) = 'STOP'
      AND i.received_at >= CAST($start AS TIMESTAMPTZ)
      AND i.received_at < CAST($as_of AS TIMESTAMPTZ)
      AND i.contact_id IN (SELECT contact_id FROM sent)
),

stop_touch AS (
    SELECT
        m.message_id,
        ROW_NUMBER() OVER (
            PARTITION BY st.contact_id, st.received_at ORDER BY m.sent_at DESC, m.message_id DESC
        ) AS rn
    FROM stops AS st
    INNER JOIN messages AS m ON m.contact_id = st.contact_id
    WHERE m.sent_at <= st.received_at
      AND m.sent_at > st.received_at - $optout_days * INTERVAL '1' DAY
),

message_optouts AS (
    SELECT DISTINCT message_id FROM stop_touch WHERE rn = 1
),

local_hours AS (
    SELECT s.message_id, zo.local_hour
    FROM sent AS s
    INNER JOIN contacts AS c ON c.contact_id = s.contact_id
    INNER JOIN zone_ids AS z ON z.timezone = c.timezone
    INNER JOIN zone_offsets AS zo
        ON zo.zone_bucket = CAST(z.zone_id AS BIGINT) * 4294967296
                            + CAST(floor(epoch(s.sent_at) / 900) AS BIGINT)
)

SELECT
    s.message_id,
    s.campaign_id,
    COALESCE(cp.kind, 'unknown') AS kind,
    s.variant,
    s.contact_id,
    COALESCE(c.country, 'unknown') AS country,
    COALESCE(sg.segment, 'unknown') AS segment,
    CAST(lh.local_hour AS INTEGER) AS local_hour,
    s.sent_at,
    CASE
        WHEN d.delivered_at IS NOT NULL OR mc.first_click_at IS NOT NULL THEN 'delivered'
        WHEN lf.status IS NOT NULL THEN lf.status
        ELSE 'pending'
    END AS status,
    CASE WHEN d.delivered_at IS NULL AND mc.first_click_at IS NULL THEN lf.error_code END AS error_code,
    d.delivered_at,
    mc.first_click_at,
    CAST(COALESCE(mc.human_clicks, 0) AS BIGINT) AS human_clicks,
    CAST(COALESCE(mc.bot_clicks, 0) AS BIGINT) AS bot_clicks,
    CAST(COALESCE(mo.orders, 0) AS BIGINT) AS orders,
    CAST(COALESCE(mo.orders_by_click, 0) AS BIGINT) AS orders_by_click,
    CAST(COALESCE(mo.revenue, 0) AS DOUBLE) AS revenue,
    CASE WHEN oo.message_id IS NULL THEN FALSE ELSE TRUE END AS is_opted_out,
    CAST(COALESCE(s.segments, 1) AS BIGINT) AS billed_segments,
    CAST(COALESCE(s.cost, COALESCE(s.segments, 1) * COALESCE(pc.price_per_segment, pd.price_per_segment))
         AS DOUBLE) AS cost,
    CASE WHEN s.cost IS NULL THEN TRUE ELSE FALSE END AS is_cost_estimated
FROM sent AS s
LEFT JOIN contacts AS c ON c.contact_id = s.contact_id
LEFT JOIN campaigns AS cp ON cp.campaign_id = s.campaign_id
LEFT JOIN campaign_segments AS sg ON sg.contact_id = s.contact_id
LEFT JOIN local_hours AS lh ON lh.message_id = s.message_id
LEFT JOIN delivery AS d ON d.message_id = s.message_id
LEFT JOIN last_failure AS lf ON lf.message_id = s.message_id
LEFT JOIN message_clicks AS mc ON mc.message_id = s.message_id
LEFT JOIN message_orders AS mo ON mo.message_id = s.message_id
LEFT JOIN message_optouts AS oo ON oo.message_id = s.message_id
LEFT JOIN campaign_prices AS pc ON pc.country = c.country
LEFT JOIN campaign_prices AS pd ON pd.country = 'default'

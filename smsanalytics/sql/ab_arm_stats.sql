-- ab_arm_stats: sufficient statistics per arm of one campaign's A/B test.
--
-- One row per arm (variant) of campaign $campaign_id, control ('control') first:
--   is_holdout            the arm received no message (assignments.is_holdout)
--   n                     contacts assigned to the arm; when the campaign has no rows in
--                         `assignments`, the distinct contacts messaged per variant
--   delivered             contacts with a 'delivered' receipt for a message of the campaign
--   clicked               contacts with a non-bot click on a campaign message in the window
--   conversions           contacts with at least one order in the window
--   revenue_sum           sum over contacts of their order amount in the window
--   revenue_sumsq         sum over contacts of the square of that amount
--   optouts               contacts who replied STOP in the window
--   pre_<x>_sum, pre_<x>_sumsq   CUPED covariates over the pre-period, x in
--                         orders (count), revenue (amount), clicks (non-bot, any message)
--   <outcome>_x_pre_<x>   sum over contacts of outcome * covariate (CUPED cross-products)
--
-- Window:     [anchor_at, anchor_at + $attribution_days * 24 hours)
-- Pre-period: [anchor_at - $pre_period_days * 24 hours, anchor_at)
-- (hours, not calendar days: the result does not depend on the session time zone or on DST)
-- anchor_at is assignments.assigned_at (the same clock for messaged and holdout arms), or the
-- contact's first sent_at in the fallback from messages.
--
-- Parameters: $campaign_id (VARCHAR), $attribution_days (INTEGER), $pre_period_days (INTEGER).
-- Portable SQL (CTEs, CASE, COALESCE, integer * INTERVAL '24' HOUR) for sqlglot -> Spark SQL.

WITH assignment_count AS (
    SELECT COUNT(*) AS n_rows
    FROM assignments
    WHERE campaign_id = $campaign_id
),

assigned AS (
    SELECT
        a.contact_id,
        a.variant,
        a.is_holdout,
        a.assigned_at AS anchor_at
    FROM assignments AS a
    WHERE a.campaign_id = $campaign_id
),

messaged AS (
    SELECT
        m.contact_id,
        COALESCE(m.variant, 'default') AS variant,
        FALSE AS is_holdout,
        MIN(m.sent_at) AS anchor_at
    FROM messages AS m
    CROSS JOIN assignment_count AS ac
    WHERE m.campaign_id = $campaign_id
      AND ac.n_rows = 0
    GROUP BY m.contact_id, COALESCE(m.variant, 'default')
),

units AS (
    SELECT contact_id, variant, is_holdout, anchor_at FROM assigned
    UNION ALL
    SELECT contact_id, variant, is_holdout, anchor_at FROM messaged
),

campaign_messages AS (
    SELECT m.message_id, m.contact_id
    FROM messages AS m
    WHERE m.campaign_id = $campaign_id
),

delivered AS (
    SELECT DISTINCT cm.contact_id
    FROM campaign_messages AS cm
    INNER JOIN receipts AS r ON r.message_id = cm.message_id
    WHERE r.status = 'delivered'
),

post_clicks AS (
    SELECT u.contact_id, u.variant, COUNT(*) AS clicks
    FROM units AS u
    INNER JOIN campaign_messages AS cm ON cm.contact_id = u.contact_id
    INNER JOIN clicks AS c ON c.message_id = cm.message_id
    WHERE NOT c.is_bot
      AND c.clicked_at >= u.anchor_at
      AND c.clicked_at < u.anchor_at + $attribution_days * INTERVAL '24' HOUR
    GROUP BY u.contact_id, u.variant
),

post_orders AS (
    SELECT u.contact_id, u.variant, COUNT(*) AS orders, SUM(o.amount) AS revenue
    FROM units AS u
    INNER JOIN orders AS o ON o.contact_id = u.contact_id
    WHERE o.ordered_at >= u.anchor_at
      AND o.ordered_at < u.anchor_at + $attribution_days * INTERVAL '24' HOUR
    GROUP BY u.contact_id, u.variant
),

post_optouts AS (
    SELECT u.contact_id, u.variant, COUNT(*) AS stops
    FROM units AS u
    INNER JOIN inbound AS i ON i.contact_id = u.contact_id
    WHERE UPPER(i.keyword) = 'STOP'
      AND i.received_at >= u.anchor_at
      AND i.received_at < u.anchor_at + $attribution_days * INTERVAL '24' HOUR
    GROUP BY u.contact_id, u.variant
),

pre_orders AS (
    SELECT u.contact_id, u.variant, COUNT(*) AS orders, SUM(o.amount) AS revenue
    FROM units AS u
    INNER JOIN orders AS o ON o.contact_id = u.contact_id
    WHERE o.ordered_at >= u.anchor_at - $pre_period_days * INTERVAL '24' HOUR
      AND o.ordered_at < u.anchor_at
    GROUP BY u.contact_id, u.variant
),

pre_clicks AS (
    SELECT u.contact_id, u.variant, COUNT(*) AS clicks
    FROM units AS u
    INNER JOIN clicks AS c ON c.contact_id = u.contact_id
    WHERE NOT c.is_bot
      AND c.clicked_at >= u.anchor_at - $pre_period_days * INTERVAL '24' HOUR
      AND c.clicked_at < u.anchor_at
    GROUP BY u.contact_id, u.variant
),

per_contact AS (
    SELECT
        u.variant,
        u.is_holdout,
        CASE WHEN d.contact_id IS NULL THEN 0 ELSE 1 END AS is_delivered,
        CASE WHEN pc.clicks > 0 THEN 1 ELSE 0 END AS is_clicked,
        CASE WHEN po.orders > 0 THEN 1 ELSE 0 END AS is_converted,
        COALESCE(po.revenue, 0.0) AS revenue,
        CASE WHEN oo.stops > 0 THEN 1 ELSE 0 END AS is_opted_out,
        COALESCE(pro.orders, 0) AS pre_orders,
        COALESCE(pro.revenue, 0.0) AS pre_revenue,
        COALESCE(prc.clicks, 0) AS pre_clicks
    FROM units AS u
    LEFT JOIN delivered AS d ON d.contact_id = u.contact_id
    LEFT JOIN post_clicks AS pc ON pc.contact_id = u.contact_id AND pc.variant = u.variant
    LEFT JOIN post_orders AS po ON po.contact_id = u.contact_id AND po.variant = u.variant
    LEFT JOIN post_optouts AS oo ON oo.contact_id = u.contact_id AND oo.variant = u.variant
    LEFT JOIN pre_orders AS pro ON pro.contact_id = u.contact_id AND pro.variant = u.variant
    LEFT JOIN pre_clicks AS prc ON prc.contact_id = u.contact_id AND prc.variant = u.variant
)

SELECT
    variant,
    MAX(CASE WHEN is_holdout THEN 1 ELSE 0 END) = 1 AS is_holdout,
    CAST(COUNT(*) AS BIGINT) AS n,
    CAST(SUM(is_delivered) AS BIGINT) AS delivered,
    CAST(SUM(is_clicked) AS BIGINT) AS clicked,
    CAST(SUM(is_converted) AS BIGINT) AS conversions,
    CAST(SUM(revenue) AS DOUBLE) AS revenue_sum,
    CAST(SUM(revenue * revenue) AS DOUBLE) AS revenue_sumsq,
    CAST(SUM(is_opted_out) AS BIGINT) AS optouts,
    CAST(SUM(pre_orders) AS DOUBLE) AS pre_orders_sum,
    CAST(SUM(pre_orders * pre_orders) AS DOUBLE) AS pre_orders_sumsq,
    CAST(SUM(pre_revenue) AS DOUBLE) AS pre_revenue_sum,
    CAST(SUM(pre_revenue * pre_revenue) AS DOUBLE) AS pre_revenue_sumsq,
    CAST(SUM(pre_clicks) AS DOUBLE) AS pre_clicks_sum,
    CAST(SUM(pre_clicks * pre_clicks) AS DOUBLE) AS pre_clicks_sumsq,
    CAST(SUM(is_converted * pre_orders) AS DOUBLE) AS conversions_x_pre_orders,
    CAST(SUM(is_converted * pre_revenue) AS DOUBLE) AS conversions_x_pre_revenue,
    CAST(SUM(is_converted * pre_clicks) AS DOUBLE) AS conversions_x_pre_clicks,
    CAST(SUM(revenue * pre_orders) AS DOUBLE) AS revenue_x_pre_orders,
    CAST(SUM(revenue * pre_revenue) AS DOUBLE) AS revenue_x_pre_revenue,
    CAST(SUM(revenue * pre_clicks) AS DOUBLE) AS revenue_x_pre_clicks,
    CAST(SUM(is_clicked * pre_orders) AS DOUBLE) AS clicked_x_pre_orders,
    CAST(SUM(is_clicked * pre_revenue) AS DOUBLE) AS clicked_x_pre_revenue,
    CAST(SUM(is_clicked * pre_clicks) AS DOUBLE) AS clicked_x_pre_clicks,
    CAST(SUM(is_opted_out * pre_orders) AS DOUBLE) AS optouts_x_pre_orders,
    CAST(SUM(is_opted_out * pre_revenue) AS DOUBLE) AS optouts_x_pre_revenue,
    CAST(SUM(is_opted_out * pre_clicks) AS DOUBLE) AS optouts_x_pre_clicks
FROM per_contact
GROUP BY variant
ORDER BY CASE WHEN variant = 'control' THEN 0 ELSE 1 END, variant

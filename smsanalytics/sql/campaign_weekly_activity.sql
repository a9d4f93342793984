-- campaign_weekly_activity: the programme week by week (UTC weeks starting on Monday).
-- Grain: one row per week with any message, click, order or reply in [$start, $as_of).
-- Parameters: $start, $as_of (TIMESTAMPTZ). Human clicks only; revenue is every order, attributed or not.
WITH weeks AS (
    SELECT CAST(date_trunc('week', sent_at) AS DATE) AS week, 1 AS sent, 0 AS human_clicks,
           0 AS orders, CAST(0 AS DOUBLE) AS revenue, 0 AS stops
    FROM messages
    WHERE sent_at >= CAST($start AS TIMESTAMPTZ) AND sent_at < CAST($as_of AS TIMESTAMPTZ)
    UNION ALL
    SELECT CAST(date_trunc('week', clicked_at) AS DATE), 0, 1, 0, 0, 0
    FROM clicks
    WHERE clicked_at >= CAST($start AS TIMESTAMPTZ) AND clicked_at < CAST($as_of AS TIMESTAMPTZ) AND NOT is_bot
    UNION ALL
    SELECT CAST(date_trunc('week', ordered_at) AS DATE), 0, 0, 1, amount, 0
    FROM orders
    WHERE ordered_at >= CAST($start AS TIMESTAMPTZ) AND ordered_at < CAST($as_of AS TIMESTAMPTZ)
    UNION ALL
    SELECT CAST(date_trunc('week', received_at) AS DATE), 0, 0, 0, 0, 1
    FROM inbound
    WHERE received_at >= CAST($start AS TIMESTAMPTZ) AND received_at < CAST($as_of AS TIMESTAMPTZ) AND UPPER(keyword) = 'STOP'
)
SELECT
    week,
    SUM(sent) AS sent,
    SUM(human_clicks) AS human_clicks,
    SUM(orders) AS orders,
    SUM(revenue) AS revenue,
    SUM(stops) AS stops
FROM weeks
GROUP BY week
ORDER BY week

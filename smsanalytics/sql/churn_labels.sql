-- churn_labels: the observed churn label of every buyer at $cutoff (see docs/churn-and-recapture.md).
-- Grain: one row per contact with at least one order before $cutoff (the population at risk).
-- Definition: is_churned = no order in [$cutoff, $horizon_end) and, when $require_no_click is
-- true, no human (non-bot) click in that window either.
-- Point in time: the population uses orders before $cutoff only; the label uses the window only.
WITH buyers AS (
    SELECT
        o.contact_id,
        max(o.ordered_at) AS last_order_at
    FROM orders AS o
    WHERE o.ordered_at < CAST($cutoff AS TIMESTAMPTZ)
    GROUP BY o.contact_id
),
window_orders AS (
    SELECT
        o.contact_id,
        count(*) AS n_orders_horizon,
        sum(o.amount) AS amount_horizon
    FROM orders AS o
    WHERE o.ordered_at >= CAST($cutoff AS TIMESTAMPTZ)
      AND o.ordered_at < CAST($horizon_end AS TIMESTAMPTZ)
    GROUP BY o.contact_id
),
window_clicks AS (
    SELECT
        k.contact_id,
        count(*) AS n_clicks_horizon
    FROM clicks AS k
    WHERE NOT k.is_bot
      AND k.clicked_at >= CAST($cutoff AS TIMESTAMPTZ)
      AND k.clicked_at < CAST($horizon_end AS TIMESTAMPTZ)
    GROUP BY k.contact_id
)
SELECT
    b.contact_id,
    b.last_order_at,
    CAST(coalesce(w.n_orders_horizon, 0) AS BIGINT) AS n_orders_horizon,
    coalesce(w.amount_horizon, 0.0) AS amount_horizon,
    CAST(coalesce(c.n_clicks_horizon, 0) AS BIGINT) AS n_clicks_horizon,
    (coalesce(w.n_orders_horizon, 0) = 0
        AND (NOT CAST($require_no_click AS BOOLEAN) OR coalesce(c.n_clicks_horizon, 0) = 0)) AS is_churned
FROM buyers AS b
LEFT JOIN window_orders AS w ON w.contact_id = b.contact_id
LEFT JOIN window_clicks AS c ON c.contact_id = b.contact_id
ORDER BY b.contact_id

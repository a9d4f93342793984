-- uplift_recapture_assignments: outcome of every assignment of past campaigns of kind $kind
-- that kept a random control group (see docs/churn-and-recapture.md, section 7).
-- Grain: one row per (campaign_id, contact_id) assignment whose outcome window
-- [assigned_at, assigned_at + $window_days days) ended by $limit.
-- Outcome: orders of the contact in that window (either arm: the holdout measures the baseline).
WITH randomised AS (
    SELECT a.campaign_id
    FROM assignments AS a
    GROUP BY a.campaign_id
    HAVING max(CASE WHEN a.is_holdout THEN 1 ELSE 0 END) = 1
       AND min(CASE WHEN a.is_holdout THEN 1 ELSE 0 END) = 0
),
eligible AS (
    SELECT
        a.campaign_id,
        a.contact_id,
        a.assigned_at,
        a.is_holdout,
        a.assigned_at + CAST($window_days AS INTEGER) * INTERVAL 1 DAY AS window_end
    FROM assignments AS a
    JOIN campaigns AS c ON c.campaign_id = a.campaign_id
    JOIN randomised AS r ON r.campaign_id = a.campaign_id
    WHERE c.kind = $kind
)
SELECT
    e.campaign_id,
    e.contact_id,
    e.assigned_at,
    e.is_holdout,
    CAST(e.assigned_at AS DATE) AS assigned_day,
    count(o.order_id) AS n_orders_window,
    coalesce(sum(o.amount), 0.0) AS order_value
FROM eligible AS e
LEFT JOIN orders AS o
  ON o.contact_id = e.contact_id
 AND o.ordered_at >= e.assigned_at
 AND o.ordered_at < e.window_end
WHERE e.window_end <= CAST($limit AS TIMESTAMPTZ)
GROUP BY e.campaign_id, e.contact_id, e.assigned_at, e.is_holdout, e.window_end
ORDER BY e.assigned_at, e.campaign_id, e.contact_id

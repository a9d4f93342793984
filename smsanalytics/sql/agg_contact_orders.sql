-- agg_contact_orders: per-contact order history before $as_of, by UTC purchase day.
-- Grain: one row per contact with at least one order before $as_of.
-- A purchase day is the UTC date of ordered_at; several orders on one day make one purchase day
-- (lifetimes' convention for BG/NBD). previous_purchase_date is the purchase day before the last.
WITH days AS (
    SELECT
        o.contact_id,
        CAST(o.ordered_at AS DATE) AS purchase_date,
        count(*) AS n_orders,
        sum(o.amount) AS amount,
        min(o.ordered_at) AS first_at,
        max(o.ordered_at) AS last_at
    FROM orders AS o
    WHERE o.ordered_at < CAST($as_of AS TIMESTAMPTZ)
    GROUP BY o.contact_id, CAST(o.ordered_at AS DATE)
),
with_previous AS (
    SELECT
        d.*,
        lag(d.purchase_date) OVER (PARTITION BY d.contact_id ORDER BY d.purchase_date) AS previous_date
    FROM days AS d
)
SELECT
    contact_id,
    CAST(sum(n_orders) AS BIGINT) AS n_orders,
    sum(amount) AS monetary_total,
    min(first_at) AS first_order_at,
    max(last_at) AS last_order_at,
    count(*) AS n_purchase_days,
    min(purchase_date) AS first_purchase_date,
    max(purchase_date) AS last_purchase_date,
    max(previous_date) AS previous_purchase_date
FROM with_previous
GROUP BY contact_id

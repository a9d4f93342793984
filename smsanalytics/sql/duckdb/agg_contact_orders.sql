-- agg_contact_orders, DuckDB dialect: same result as ../agg_contact_orders.sql.
-- Why a DuckDB version: the portable version finds the purchase day before the last with a lag()
-- window over every (contact, purchase day), which sorts them; here it is the second value of
-- DuckDB's top-n aggregate max(purchase_date, 2) (the two latest purchase days, newest first;
-- NULL when there is only one), computed in the same per-contact aggregation.
-- Tested equal to the portable version (tests/segments/test_features_dialects.py).
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
    max(purchase_date, 2)[2] AS previous_purchase_date
FROM days
GROUP BY contact_id

-- agg_contact_orders, DuckDB dialect: same result as ../agg_contact_orders.sql.
-- Why a DuckDB version: the portable version groups the orders by (contact, purchase day) with
-- four aggregates (about as many groups as orders: ~2 million at a million contacts) and finds
-- the purchase day before the last with a lag() window. Here each part is its own cheap pass:
-- the order aggregates per contact (DuckDB's perfect hash aggregate on the dense contact_id),
-- the distinct (contact, day) pairs with no aggregate, then per contact the count of days and
-- the latest day before the last one (a join on the contact's last day). Days are counted from
-- epoch microseconds (floor division, UTC) rather than CAST(… AS DATE), which goes through
-- ICU's calendar (about 45 ns a row); they become DATEs again per contact.
-- Tested equal to the portable version (tests/segments/test_features_dialects.py).
WITH per_contact AS (
    SELECT
        o.contact_id,
        count(*) AS n_orders,
        sum(o.amount) AS monetary_total,
        min(o.ordered_at) AS first_order_at,
        max(o.ordered_at) AS last_order_at,
        min(CAST(floor(epoch_us(o.ordered_at) / 86400000000) AS INTEGER)) AS first_day,
        max(CAST(floor(epoch_us(o.ordered_at) / 86400000000) AS INTEGER)) AS last_day
    FROM orders AS o
    WHERE o.ordered_at < CAST($as_of AS TIMESTAMPTZ)
    GROUP BY o.contact_id
),
days AS (
    SELECT DISTINCT
        o.contact_id,
        CAST(floor(epoch_us(o.ordered_at) / 86400000000) AS INTEGER) AS purchase_day
    FROM orders AS o
    WHERE o.ordered_at < CAST($as_of AS TIMESTAMPTZ)
),
per_day AS (
    SELECT
        d.contact_id,
        count(*) AS n_purchase_days,
        max(d.purchase_day) FILTER (WHERE d.purchase_day < c.last_day) AS previous_day
    FROM days AS d
    JOIN per_contact AS c ON c.contact_id = d.contact_id
    GROUP BY d.contact_id
)
SELECT
    c.contact_id,
    c.n_orders,
    c.monetary_total,
    c.first_order_at,
    c.last_order_at,
    p.n_purchase_days,
    DATE '1970-01-01' + c.first_day AS first_purchase_date,
    DATE '1970-01-01' + c.last_day AS last_purchase_date,
    DATE '1970-01-01' + p.previous_day AS previous_purchase_date
FROM per_contact AS c
JOIN per_day AS p ON p.contact_id = c.contact_id

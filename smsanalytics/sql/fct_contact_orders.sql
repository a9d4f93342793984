-- fct_contact_orders: RFM inputs and BG/NBD inputs per buyer at $as_of.
-- Grain: one row per contact with at least one order before $as_of.
-- Units: days, counted between UTC dates. recency_days = as_of date - last purchase date.
-- BG/NBD (lifetimes' summary_data_from_transaction_data with freq='D' and
-- observation_period_end = as_of date): bgnbd_frequency = purchase days - 1,
-- bgnbd_recency_days = last purchase date - first purchase date,
-- bgnbd_t_days = as_of date - first purchase date.
SELECT
    a.contact_id,
    a.n_orders,
    a.monetary_total,
    a.monetary_total / a.n_orders AS monetary_mean,
    a.first_order_at,
    a.last_order_at,
    a.n_purchase_days,
    date_diff('day', a.last_purchase_date, CAST(CAST($as_of AS TIMESTAMPTZ) AS DATE)) AS recency_days,
    date_diff('day', a.previous_purchase_date, a.last_purchase_date) AS gap_before_last_purchase_days,
    a.n_purchase_days - 1 AS bgnbd_frequency,
    date_diff('day', a.first_purchase_date, a.last_purchase_date) AS bgnbd_recency_days,
    date_diff('day', a.first_purchase_date, CAST(CAST($as_of AS TIMESTAMPTZ) AS DATE)) AS bgnbd_t_days
FROM agg_contact_orders AS a

-- campaign_kpi_cells: additive campaign counts at the finest grain the KPIs are cut by.
-- Grain: one row per (campaign_id, kind, variant, segment, country, local_hour) with a message.
-- Reads campaign_message_facts (inlined as a CTE by smsanalytics.campaigns, with its parameters
-- and registered relations). Every column is a sum or a count, so any coarser grouping is the
-- sum of these rows; rates and their intervals are computed from the sums in Python.
SELECT
    f.campaign_id,
    f.kind,
    f.variant,
    f.segment,
    f.country,
    f.local_hour,
    COUNT(*) AS sent,
    SUM(CASE WHEN f.status = 'delivered' THEN 1 ELSE 0 END) AS delivered,
    SUM(CASE WHEN f.status IN ('undelivered', 'failed') THEN 1 ELSE 0 END) AS failed,
    SUM(CASE WHEN f.status = 'pending' THEN 1 ELSE 0 END) AS pending,
    SUM(CASE WHEN f.first_click_at IS NOT NULL THEN 1 ELSE 0 END) AS clicked,
    SUM(f.human_clicks) AS human_clicks,
    SUM(f.bot_clicks) AS bot_clicks,
    SUM(CASE WHEN f.orders > 0 THEN 1 ELSE 0 END) AS converted,
    SUM(f.orders) AS orders,
    SUM(f.orders_by_click) AS orders_by_click,
    SUM(f.revenue) AS revenue,
    SUM(CASE WHEN f.is_opted_out THEN 1 ELSE 0 END) AS opted_out,
    SUM(f.billed_segments) AS billed_segments,
    SUM(f.cost) AS cost,
    SUM(CASE WHEN f.is_cost_estimated THEN 1 ELSE 0 END) AS cost_estimated,
    MIN(f.sent_at) AS first_sent_at,
    MAX(f.sent_at) AS last_sent_at
FROM campaign_message_facts AS f
GROUP BY f.campaign_id, f.kind, f.variant, f.segment, f.country, f.local_hour

-- agg_contact_send_hour: per contact and local send hour of day, messages sent and messages
-- clicked by a person (before $as_of). Grain: one row per (contact_id, local_hour) with a send.
-- For the send-time model; contact_features uses the cheaper fct_contact_send_hour.
SELECT
    s.contact_id,
    s.local_hour,
    count(*) AS sends,
    CAST(sum(CASE WHEN s.is_clicked THEN 1 ELSE 0 END) AS BIGINT) AS clicked_messages
FROM stg_message_local_time AS s
GROUP BY s.contact_id, s.local_hour

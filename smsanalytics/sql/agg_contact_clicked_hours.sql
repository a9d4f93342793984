-- agg_contact_clicked_hours: per contact and local send hour of day, the messages a person (not a
-- link preview) clicked before $as_of. Grain: one row per (contact_id, local_hour) with a clicked
-- message, for contacts with a known time zone. The first step of fct_contact_send_hour, computed
-- on its own so that the next step is planned knowing its size.
SELECT
    s.contact_id,
    s.local_hour,
    count(*) AS clicked_messages
FROM stg_message_local_time AS s
WHERE s.is_clicked
GROUP BY s.contact_id, s.local_hour

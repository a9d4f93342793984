-- agg_contact_clicked_hours: per contact and local hour of the week, the messages a person (not a
-- link preview) clicked before $as_of. Grain: one row per (contact_id, local_hour_of_week) with a
-- clicked message, for contacts with a known time zone. local_hour_of_week is 0 = Monday 00:00 …
-- 167 = Sunday 23:00 in the contact's zone (the convention of sendtime_send_hours); its hour of
-- day is local_hour_of_week % 24. The first step of fct_contact_send_hour, computed on its own so
-- that the next step is planned knowing its size.
SELECT
    s.contact_id,
    CAST((CAST(s.local_dow AS SMALLINT) - 1) * 24 + s.local_hour AS SMALLINT) AS local_hour_of_week,
    count(*) AS clicked_messages
FROM stg_message_local_time AS s
WHERE s.is_clicked
GROUP BY s.contact_id, CAST((CAST(s.local_dow AS SMALLINT) - 1) * 24 + s.local_hour AS SMALLINT)

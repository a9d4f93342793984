-- sendtime_send_hours: the local hour of week (0 = Monday 00:00 … 167 = Sunday 23:00) of each send
-- of `sendtime_sends`, in its contact's IANA zone, DST-exact, with integer joins only.
-- `sendtime_zone_ids` (zone_id INTEGER, timezone VARCHAR) and `sendtime_zone_offsets` (zone_id,
-- bucket BIGINT = floor(epoch seconds / 900), utc_offset_minutes SMALLINT) are registered per run
-- by smsanalytics.sendtime.history (from ZoneOffsets.relation()): every UTC offset in use is a
-- multiple of 15 minutes and changes on a 15-minute boundary, so one offset per bucket is exact.
-- The zone string is joined once per contact, the offsets per send on integers.
-- Grain: one row per send of a contact with a known zone.
WITH contact_zone AS (
    SELECT c.contact_id, z.zone_id
    FROM contacts AS c
    JOIN sendtime_zone_ids AS z ON z.timezone = c.timezone
),
local_sends AS (
    SELECT
        s.message_id,
        s.contact_id,
        s.is_response,
        epoch(s.sent_at) + 60 * o.utc_offset_minutes AS local_seconds
    FROM sendtime_sends AS s
    JOIN contact_zone AS cz ON cz.contact_id = s.contact_id
    JOIN sendtime_zone_offsets AS o
        ON o.zone_id = cz.zone_id
        AND o.bucket = CAST(floor(epoch(s.sent_at) / 900) AS BIGINT)
)
SELECT
    message_id,
    contact_id,
    is_response,
    CAST(
        ((CAST(floor(local_seconds / 86400) AS BIGINT) + 3) % 7) * 24
        + CAST(floor((local_seconds - 86400 * floor(local_seconds / 86400)) / 3600) AS BIGINT)
        AS SMALLINT
    ) AS local_hour_of_week
FROM local_sends

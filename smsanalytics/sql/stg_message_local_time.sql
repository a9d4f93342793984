-- stg_message_local_time: the local send time (hour of day, ISO day of week) of each message
-- sent before $as_of to a contact with a known time zone, and whether a person (not a link
-- preview) clicked it before $as_of. Grain: one row per message.
-- Local time comes from `zone_offsets`, registered per run (smsanalytics.features.zone_tables):
-- for each zone and each 15-minute UTC bucket (bucket = floor(epoch seconds / 900)) the local hour
-- (0-23) and ISO day of week (1 = Monday), keyed by zone_bucket = zone_id * 2^32 + bucket. Every
-- UTC offset in use is a multiple of 15 minutes, so all instants of a bucket share one local hour
-- (DST-exact). The single integer key also keeps the optimiser from joining messages to every
-- zone's bucket before the contact's zone is known (a 12x blow-up with two separate conditions).
SELECT
    m.message_id,
    m.contact_id,
    zo.local_hour,
    zo.local_dow,
    m.message_id IN (
        SELECT k.message_id
        FROM clicks AS k
        WHERE k.clicked_at < CAST($as_of AS TIMESTAMPTZ) AND NOT k.is_bot
    ) AS is_clicked
FROM messages AS m
JOIN stg_contact_zones AS cz ON cz.contact_id = m.contact_id
JOIN zone_offsets AS zo
    ON zo.zone_bucket = CAST(cz.zone_id AS BIGINT) * 4294967296
                        + CAST(floor(epoch(m.sent_at) / 900) AS BIGINT)
WHERE m.sent_at < CAST($as_of AS TIMESTAMPTZ)

-- stg_contact_zones: the integer zone id of each contact with a known IANA time zone.
-- `zone_ids` (zone_id INTEGER, timezone VARCHAR) is registered per run by
-- smsanalytics.features.register_zone_tables; joining on the string happens once per contact
-- here so that the per-message work joins on integers only.
SELECT c.contact_id, z.zone_id
FROM contacts AS c
JOIN zone_ids AS z ON z.timezone = c.timezone

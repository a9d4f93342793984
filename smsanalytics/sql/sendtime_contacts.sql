-- sendtime_contacts: the contacts the send-time model knows at $as_of, with their IANA time zone
-- (NULL when unknown: such contacts get no local hour and no window, never a guessed one) and
-- whether they had opted out before $as_of. Grain: one row per contact. No phone number.
SELECT
    c.contact_id,
    c.timezone,
    c.country,
    CASE WHEN c.opted_out_at < CAST($as_of AS TIMESTAMPTZ) THEN TRUE ELSE FALSE END AS is_opted_out
FROM contacts AS c
WHERE c.signup_at < CAST($as_of AS TIMESTAMPTZ) OR c.signup_at IS NULL

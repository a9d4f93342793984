-- stg_contacts_asof: the contacts known at $as_of, with consent state as it was at $as_of.
-- Grain: one row per contact. Point-in-time: contacts who signed up at or after $as_of are left
-- out (contacts without signup_at are kept); consent and opt-out timestamps at or after $as_of
-- are treated as not (yet) having happened. The phone number is never selected.
SELECT
    c.contact_id,
    c.country,
    c.timezone,
    c.signup_at,
    c.birthday,
    CASE WHEN c.consent_at < CAST($as_of AS TIMESTAMPTZ) THEN c.consent_at END AS consent_at,
    CASE WHEN c.opted_out_at < CAST($as_of AS TIMESTAMPTZ) THEN c.opted_out_at END AS opted_out_at,
    c.points
FROM contacts AS c
WHERE c.signup_at < CAST($as_of AS TIMESTAMPTZ) OR c.signup_at IS NULL

"""clinics' raw SQL, in one place: the statements as named constants, each beside the dataclass of what
it returns (read by column name through kalix_site.sql). Who runs them: clinics.consent (consent at
hand-off, one query per batch), clinics.ratelimit (the shared fixed-window counter)."""

from dataclasses import dataclass

# --- Consent at hand-off (clinics.consent.withheld) ----------------------------------------------------

# Why each message of a batch must not go after all (consent changed after it was queued): one query per
# batch. The same rules as `refusal` (address opted out in the clinic; the linked patient, or any of the
# clinic's patients at that address, opted out of the channel or, for email and SMS, declined), over the
# contact indexes (clinic, upper(email)) / (clinic, mobile) / (clinic, fax). Reasons name no patient: the
# status detail is read in places (queue admin) where patient names are not shown.
WITHHELD_SQL = """
    WITH v(id, clinic_id, patient_id, channel, address) AS (
        SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::text[], %s::text[])
    )
    SELECT v.id, CASE WHEN a.opted_out THEN 'address' WHEN p.opted_out THEN 'patient'
                      WHEN p.declined THEN 'declined' END AS why
      FROM v
      LEFT JOIN LATERAL (
            SELECT true AS opted_out FROM clinics_addressconsent a
             WHERE a.clinic_id = v.clinic_id AND a.channel = v.channel AND a.state = %s
               AND a.address = CASE WHEN v.channel = 'email' THEN lower(v.address) ELSE v.address END
             LIMIT 1
      ) a ON true
      LEFT JOIN LATERAL (  -- one parameterised index probe per way a patient is at the address
            SELECT bool_or(CASE v.channel WHEN 'email' THEN p.email_opt_out WHEN 'sms' THEN p.sms_opt_out
                                          WHEN 'fax' THEN p.fax_opt_out END) AS opted_out,
                   bool_or(v.channel <> 'fax' AND p.messaging_consent = %s) AS declined
              FROM (SELECT * FROM clinics_patient p WHERE p.id = v.patient_id AND p.clinic_id = v.clinic_id
                    UNION ALL
                    SELECT * FROM clinics_patient p
                     WHERE v.channel = 'email' AND p.clinic_id = v.clinic_id AND upper(p.email) = upper(v.address)
                       AND p.email <> ''
                    UNION ALL
                    SELECT * FROM clinics_patient p
                     WHERE v.channel = 'sms' AND p.clinic_id = v.clinic_id AND p.mobile = v.address
                       AND p.mobile <> ''
                    UNION ALL
                    SELECT * FROM clinics_patient p
                     WHERE v.channel = 'fax' AND p.clinic_id = v.clinic_id AND p.fax = v.address
                       AND p.fax <> '') p
      ) p ON true
"""


@dataclass(frozen=True)
class Withheld:
    """A row of WITHHELD_SQL: the caller's id, and why it must not be sent ('address', 'patient',
    'declined'), or None when it may."""

    id: int
    why: str | None


# --- Rate limits: one atomic upsert per hit (clinics.ratelimit.hit) ------------------------------------

HIT_SQL = """
    INSERT INTO clinics_ratelimitbucket (key, window_start, hits) VALUES (%s, %s, 1)
    ON CONFLICT (key, window_start) DO UPDATE SET hits = clinics_ratelimitbucket.hits + 1
    RETURNING hits
"""

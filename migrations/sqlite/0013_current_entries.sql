-- The summary shows current allergies, problems and medicines, and the
-- medicines sources disagree about. In a long record most of these are
-- past (hundreds of stopped medicines, resolved problems), and walking
-- entries_by_kind past them made the summary of a 10,000-entry record
-- half as slow again as a small one's. These partial indexes hold only the
-- entries those lists can show, so each list reads just its page, and
-- imports of results and other kinds do not write to them.
--
-- The condition must stay exactly as `store::views::IS_CURRENT` writes it in
-- queries, or the planners cannot use the index (a test checks the plans).
CREATE INDEX entries_current ON entries (patient_id, kind, date, id)
    WHERE kind IN ('allergy', 'condition', 'medication') AND COALESCE(status, '') NOT IN
          ('inactive', 'resolved', 'remission', 'refuted', 'entered-in-error', 'cancelled', 'stopped', 'completed', 'revoked',
           'not-taken', 'not-done', 'declined');
CREATE INDEX entries_disputed ON entries (patient_id, kind, date, id) WHERE disagreement = 1;

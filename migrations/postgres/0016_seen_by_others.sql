-- "Who has seen this" on an entry page looks for other people's views and
-- downloads that name the entry. Without this index it read every record
-- of the patient's log (about 40-75 ms for 5,000 records), most of them
-- the patient's own views. This partial index holds only others' views and
-- downloads, so the patient's own page views do not write to it.
--
-- The condition must stay exactly as `store::audit::SEEN_BY_OTHERS` writes
-- it in the query, or the planners cannot use the index (a test checks).
CREATE INDEX audit_events_seen_by_others ON audit_events (patient_id, seq)
    WHERE via NOT IN ('own', 'preview') AND action IN ('view', 'export');

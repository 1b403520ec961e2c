//! Entries added by hand (a reading, an allergy, a medicine, a condition):
//! stored through the ordinary import as FHIR from a patient source named
//! for whoever entered them, labelled as chosen, refused whole with each
//! field's reason, and only by the patient or a carer acting for them. On
//! SQLite and PostgreSQL.

use kith_core::policy::{Principal, RecordAccess, Right, Scope};
use kith_core::sharing::GrantInput;
use kith_core::testing::{not_found, user, TestDb};
use kith_core::{backend_tests, CoreError, Kith};
use kith_types::record::OwnEntryForm;
use kith_types::AppError;

struct People {
    patient: RecordAccess,
    /// David acts for Margaret.
    carer: RecordAccess,
    /// Dr Shah may contribute to the whole record, but not act for her.
    clinician: RecordAccess,
    /// Dr Mind sees mental health entries only.
    mind: RecordAccess,
    /// Carol may contribute to the whole record, but does not act for her.
    helper: RecordAccess,
}

async fn people(k: &Kith) -> People {
    kith_core::demo::load(k).await.unwrap();
    let owner = k.sign_in("margaret@demo.kith.example", "kettle orange stairs", "10.0.0.1").await.unwrap();
    let patient = k.own_record(&owner, Right::Manage).await.unwrap();
    let carer = user(k, "David Jones", "dj@example.com", "carer", "").await;
    let dr = user(k, "Dr Priya Shah", "ps@example.com", "clinician", "Riverside Surgery").await;
    let mind = user(k, "Dr Mind", "mind@example.com", "clinician", "Riverside Surgery").await;
    let helper = user(k, "Carol Helper", "ch@example.com", "carer", "").await;
    for (email, role, scope, contribute, act_for) in [
        ("dj@example.com", "carer", Scope::whole(), false, true),
        ("ps@example.com", "clinician", Scope::whole(), true, false),
        ("mind@example.com", "clinician", Scope { labels: vec!["mental-health".into()], ..Default::default() }, false, false),
        ("ch@example.com", "carer", Scope::whole(), true, false),
    ] {
        let input = GrantInput { email: email.into(), role: role.into(), scope, comment: false, contribute, act_for, expires_in_days: None };
        let invitation = k.create_grant(&patient, &owner, input, "http://kith.test").await.unwrap();
        kith_core::testing::accept(k, &invitation, email).await;
    }
    let pid = patient.patient_id().to_string();
    let open = |a: kith_core::Actor, r: Right| {
        let pid = pid.clone();
        async move { k.open_patient(&Principal::User(a), &pid, r).await.unwrap() }
    };
    People {
        carer: open(carer, Right::Manage).await,
        clinician: open(dr, Right::Contribute).await,
        mind: open(mind, Right::Read).await,
        helper: open(helper, Right::Contribute).await,
        patient,
    }
}

fn form(kind: &str) -> OwnEntryForm {
    OwnEntryForm { kind: kind.into(), ..Default::default() }
}

fn fields(r: Result<String, CoreError>) -> Vec<(String, String)> {
    match r {
        Err(CoreError::User(AppError::Validation { errors, values })) => {
            assert!(values.iter().any(|(k, _)| k == "kind"), "what was typed comes back for the form");
            errors.into_iter().map(|e| (e.field, e.message)).collect()
        }
        other => panic!("expected the form to be refused, got {other:?}"),
    }
}

async fn entries(db: &TestDb, pid: &str) -> i64 {
    db.count_where("entries", "patient_id", pid).await
}

async fn a_reading_is_stored_as_fhir_from_the_person_who_entered_it(db: &TestDb) {
    let k = &db.kith;
    let p = people(k).await;
    let pid = p.patient.patient_id().to_string();
    let before = entries(db, &pid).await;
    let bp = OwnEntryForm {
        reading: "blood-pressure".into(),
        value: "142".into(),
        second_value: "88".into(),
        date: "2026-11-30".into(),
        time: "08:15".into(),
        ..form("reading")
    };
    let id = k.add_own_entry(&p.patient, &bp).await.unwrap();
    assert_eq!(entries(db, &pid).await, before + 1);
    let e = k.entry(&p.patient, &id).await.unwrap();
    assert_eq!(e.card.kind, "vital-sign");
    assert_eq!(e.card.text, "Blood pressure");
    assert_eq!(e.card.label, "general");
    assert_eq!(e.card.sources, vec!["Entered by Margaret Jones".to_string()]);
    let value = e.card.value.clone().unwrap();
    assert!(value.contains("142/88"), "whole numbers stay whole: {value}");
    assert!(e.codes.iter().any(|c| c.code == "85354-9" && c.system_name.contains("LOINC")), "{:?}", e.codes);
    let original = &e.sources[0];
    assert_eq!(original.kind, "patient");
    assert!(original.json.contains("\"2026-11-30T08:15:00+00:00\"") && original.json.contains("8462-4"), "UK time in winter is GMT: {}", original.json);
    // Summer time is written with its offset.
    let summer = OwnEntryForm { reading: "weight".into(), value: "71,4".into(), date: "2026-07-01".into(), time: "09:30".into(), ..form("reading") };
    let w = k.entry(&p.patient, &k.add_own_entry(&p.patient, &summer).await.unwrap()).await.unwrap();
    assert!(w.sources[0].json.contains("\"2026-07-01T09:30:00+01:00\""), "{}", w.sources[0].json);
    assert!(w.card.value.unwrap().contains("71.4"), "a decimal comma is read as a point");
    // Logged as the import it is, by her.
    assert!(db.log(&pid).await.iter().any(|e| e.action == "import" && e.actor_name == "Margaret Jones"));
    // And it is in her FHIR export, as entered.
    let bundle = k.export_bundle(&p.patient).await.unwrap().to_string();
    assert!(bundle.contains("8462-4") && bundle.contains("2026-11-30T08:15:00+00:00"), "in the export as entered");
}

async fn allergies_medicines_and_conditions_are_unconfirmed_and_labelled_as_chosen(db: &TestDb) {
    let k = &db.kith;
    let p = people(k).await;
    let allergy = OwnEntryForm { text: "Sticking plasters".into(), detail: "Red itchy skin".into(), ..form("allergy") };
    let a = k.entry(&p.patient, &k.add_own_entry(&p.patient, &allergy).await.unwrap()).await.unwrap();
    assert_eq!((a.card.kind.as_str(), a.card.text.as_str()), ("allergy", "Sticking plasters"));
    assert!(a.sources[0].json.contains("unconfirmed") && a.sources[0].json.contains("Red itchy skin"));
    // The summary lists it with her other allergies.
    assert!(k.summary(&p.patient).await.unwrap().allergies.iter().any(|c| c.id == a.card.id));

    let medicine = OwnEntryForm { text: "Ibuprofen 200mg tablets".into(), detail: "One when needed".into(), date: "2026-10-01".into(), ..form("medicine") };
    let m = k.entry(&p.patient, &k.add_own_entry(&p.patient, &medicine).await.unwrap()).await.unwrap();
    assert_eq!((m.card.kind.as_str(), m.card.text.as_str()), ("medication", "Ibuprofen 200mg tablets"));
    assert!(m.sources[0].json.contains("One when needed"));

    // A condition she labels mental health: only those it is shared with by
    // that label see it.
    let low = OwnEntryForm { text: "Low mood".into(), label: "mental-health".into(), ..form("condition") };
    let low = k.add_own_entry(&p.patient, &low).await.unwrap();
    assert_eq!(k.entry(&p.patient, &low).await.unwrap().card.label, "mental-health");
    assert!(k.entry(&p.mind, &low).await.is_ok());
    assert!(k.entry(&p.clinician, &low).await.is_ok(), "a whole-record grant covers every label but private");
    // One she keeps private: nobody else sees it, whatever is shared.
    let private = OwnEntryForm { text: "Something only I should know".into(), label: "private".into(), ..form("condition") };
    let private = k.add_own_entry(&p.patient, &private).await.unwrap();
    assert_eq!(k.entry(&p.patient, &private).await.unwrap().card.label, "private");
    assert!(not_found(k.entry(&p.clinician, &private).await));
    assert!(not_found(k.entry(&p.mind, &private).await));
}

async fn mistakes_are_named_field_by_field_and_nothing_is_stored(db: &TestDb) {
    let k = &db.kith;
    let p = people(k).await;
    let pid = p.patient.patient_id().to_string();
    let before = entries(db, &pid).await;
    let resources = db.count_where("resources", "patient_id", &pid).await;
    let cases: Vec<(OwnEntryForm, &str, &str)> = vec![
        (form(""), "kind", "Choose what to add"),
        (OwnEntryForm { value: "70".into(), date: "2026-11-01".into(), ..form("reading") }, "reading", "Choose what you measured"),
        (OwnEntryForm { reading: "weight".into(), date: "2026-11-01".into(), ..form("reading") }, "value", "Enter weight"),
        (
            OwnEntryForm { reading: "weight".into(), value: "seventy".into(), date: "2026-11-01".into(), ..form("reading") },
            "value",
            "as a number, for example 70.5",
        ),
        (OwnEntryForm { reading: "temperature".into(), value: "hot".into(), date: "2026-11-01".into(), ..form("reading") }, "value", "for example 36.8"),
        (
            OwnEntryForm { reading: "weight".into(), value: "70".into(), date: "2026-03-29".into(), time: "01:30".into(), ..form("reading") },
            "time",
            "did not happen in the UK",
        ),
        (
            OwnEntryForm { reading: "weight".into(), value: "70".into(), date: "1990-06-01".into(), time: "09:00".into(), ..form("reading") },
            "time",
            "give the date only",
        ),
        (OwnEntryForm { reading: "weight".into(), value: "7000".into(), date: "2026-11-01".into(), ..form("reading") }, "value", "between 0.5 and 400 kg"),
        (OwnEntryForm { reading: "weight".into(), value: "70".into(), ..form("reading") }, "date", "Enter the date you took the reading"),
        (OwnEntryForm { reading: "weight".into(), value: "70".into(), date: "01/11/2026".into(), ..form("reading") }, "date", "year-month-day"),
        (OwnEntryForm { reading: "weight".into(), value: "70".into(), date: "2099-01-01".into(), ..form("reading") }, "date", "cannot be in the future"),
        (
            OwnEntryForm { reading: "weight".into(), value: "70".into(), date: "2026-11-01".into(), time: "25:00".into(), ..form("reading") },
            "time",
            "hours and minutes",
        ),
        (
            OwnEntryForm { reading: "blood-pressure".into(), value: "80".into(), second_value: "120".into(), date: "2026-11-01".into(), ..form("reading") },
            "second_value",
            "smaller",
        ),
        (
            OwnEntryForm { reading: "blood-pressure".into(), value: "120".into(), date: "2026-11-01".into(), ..form("reading") },
            "second_value",
            "Enter the lower number",
        ),
        (form("allergy"), "text", "what you are allergic to"),
        (OwnEntryForm { text: "x".repeat(201), ..form("medicine") }, "text", "200 characters"),
        (OwnEntryForm { text: "Asthma".into(), label: "secret".into(), ..form("condition") }, "label", "Choose who may see it"),
        (OwnEntryForm { text: "Asthma".into(), time: "10:00".into(), ..form("condition") }, "date", "date as well as the time"),
        // Nothing typed is dropped: a second number for a weight is refused, not ignored.
        (
            OwnEntryForm { reading: "weight".into(), value: "70".into(), second_value: "12".into(), date: "2026-11-01".into(), ..form("reading") },
            "second_value",
            "unless you measured blood pressure",
        ),
        (OwnEntryForm { text: "Asthma".into(), detail: "since school".into(), ..form("condition") }, "detail", "does not use this"),
    ];
    for (f, field, says) in cases {
        let errors = fields(k.add_own_entry(&p.patient, &f).await);
        assert!(errors.iter().any(|(name, message)| name == field && message.contains(says)), "{f:?}: expected {field} to say {says:?}, got {errors:?}");
    }
    // Several mistakes at once are all named.
    let errors = fields(k.add_own_entry(&p.patient, &OwnEntryForm { reading: "pulse".into(), label: "nobody".into(), ..form("reading") }).await);
    let named: Vec<_> = errors.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(named, vec!["label", "value", "date"]);
    assert_eq!(entries(db, &pid).await, before, "nothing stored");
    assert_eq!(db.count_where("resources", "patient_id", &pid).await, resources);
}

async fn only_the_patient_and_those_acting_for_them_may_add(db: &TestDb) {
    let k = &db.kith;
    let p = people(k).await;
    let asthma = OwnEntryForm { text: "Asthma".into(), ..form("condition") };
    // A carer acting for her: named as such.
    let id = k.add_own_entry(&p.carer, &asthma).await.unwrap();
    let e = k.entry(&p.patient, &id).await.unwrap();
    assert_eq!(e.card.sources, vec!["Entered by David Jones for Margaret Jones".to_string()]);
    assert!(e.sources[0].json.contains("David Jones"));
    // A clinician who may contribute to the care plan, and one who may only
    // look, cannot put words in her record as hers.
    assert!(not_found(k.add_own_entry(&p.clinician, &asthma).await));
    assert!(not_found(k.add_own_entry(&p.mind, &asthma).await));
    // A carer who may contribute but does not act for her cannot either.
    assert!(not_found(k.add_own_entry(&p.helper, &asthma).await));
    // The owner looking through a share's eyes is read only.
    let shares = k.sharing_view(&p.patient).await.unwrap();
    let preview = k.preview(&p.patient, &shares.grants[0].id).await.unwrap();
    assert!(not_found(k.add_own_entry(&preview, &asthma).await));
    // A carer cannot make an entry private: they would lose sight of it,
    // and private is hers alone.
    let private = OwnEntryForm { label: "private".into(), ..asthma.clone() };
    let errors = fields(k.add_own_entry(&p.carer, &private).await);
    assert!(errors.iter().any(|(f, m)| f == "label" && m.contains("Only the patient can make an entry private")), "{errors:?}");
    // Nor can the operator's command line, which is no one in particular.
    let operator = k.open_patient(&Principal::Operator, p.patient.patient_id(), Right::Contribute).await.unwrap();
    assert!(not_found(k.add_own_entry(&operator, &asthma).await));
}

/// A hand entry is an entry of its own: never merged into another source's
/// or another hand entry, so it never lands where its author cannot see it,
/// and its label is never another entry's.
async fn hand_entries_are_never_merged(db: &TestDb) {
    let k = &db.kith;
    let p = people(k).await;
    let plasters = OwnEntryForm { text: "Sticking plasters".into(), ..form("allergy") };
    let hers = k.add_own_entry(&p.patient, &OwnEntryForm { label: "private".into(), ..plasters.clone() }).await.unwrap();
    let his = k.add_own_entry(&p.carer, &plasters).await.unwrap();
    assert_ne!(hers, his);
    assert_eq!(k.entry(&p.carer, &his).await.unwrap().card.label, "general", "he sees what he added");
    assert!(not_found(k.entry(&p.carer, &hers).await), "hers stays private");
    assert_eq!(k.entry(&p.patient, &hers).await.unwrap().card.label, "private");
    // The same reading twice is two entries too (it was typed twice).
    let weight = OwnEntryForm { reading: "weight".into(), value: "70".into(), date: "2026-11-01".into(), time: "09:00".into(), ..form("reading") };
    assert_ne!(k.add_own_entry(&p.patient, &weight).await.unwrap(), k.add_own_entry(&p.patient, &weight).await.unwrap());
}

/// A hand entry is an import of its own, so a carer who may not see
/// private entries is shown neither the log row nor the Sources page row of
/// a private one (their number would count the private entries).
async fn a_carer_sees_no_trace_of_a_private_hand_entry(db: &TestDb) {
    let k = &db.kith;
    let p = people(k).await;
    let newest_import = |access: &RecordAccess| {
        let access = access.clone();
        async move { k.access_log(&access, &Default::default()).await.unwrap().events.into_iter().filter(|e| e.action == "Imported").map(|e| e.seq).max() }
    };
    let hand_imports = |access: &RecordAccess| {
        let access = access.clone();
        async move { k.sources_view(&access).await.unwrap().sources.into_iter().find(|s| s.name == "Entered by Margaret Jones").map(|s| s.imports.len()) }
    };
    // A general one first: the carer sees it, and the source.
    k.add_own_entry(&p.patient, &OwnEntryForm { text: "Asthma".into(), ..form("condition") }).await.unwrap();
    let general = newest_import(&p.carer).await;
    assert_eq!(general, newest_import(&p.patient).await);
    // Then a private one: only she sees that it was added.
    let private = OwnEntryForm { text: "Something only I should know".into(), label: "private".into(), ..form("condition") };
    k.add_own_entry(&p.patient, &private).await.unwrap();
    assert!(newest_import(&p.patient).await > general, "she sees her import");
    assert_eq!(newest_import(&p.carer).await, general, "the carer is not shown it");
    assert_eq!(hand_imports(&p.patient).await, Some(2));
    assert_eq!(hand_imports(&p.carer).await, Some(0), "the source is named, its imports not listed");
}

/// A mistyped reading is corrected by a new version of the same FHIR
/// resource: one entry, the old version kept beside the new.
async fn a_hand_entry_is_corrected_by_a_new_version(db: &TestDb) {
    let k = &db.kith;
    let p = people(k).await;
    let pid = p.patient.patient_id().to_string();
    let weight = OwnEntryForm { reading: "weight".into(), value: "80".into(), date: "2026-11-01".into(), time: "09:00".into(), ..form("reading") };
    let id = k.add_own_entry(&p.patient, &weight).await.unwrap();
    let before = entries(db, &pid).await;
    // The form opens as it was sent.
    let own = k.own_entry(&p.patient, &id).await.unwrap();
    assert_eq!(own.form, OwnEntryForm { label: "general".into(), ..weight.clone() });
    assert!(own.can_change && !own.removed);
    assert_eq!(own.entered_by, "Margaret Jones");
    let e = k.entry(&p.patient, &id).await.unwrap();
    assert!(e.can_change && e.can_remove);
    // Corrected: the same entry, a second version.
    let fixed = OwnEntryForm { value: "70,5".into(), ..weight.clone() };
    assert_eq!(k.change_own_entry(&p.patient, &id, &fixed).await.unwrap(), id);
    let e = k.entry(&p.patient, &id).await.unwrap();
    assert!(e.card.value.as_deref().unwrap_or_default().contains("70.5"), "{:?}", e.card.value);
    assert_eq!(e.sources.len(), 1);
    assert_eq!(e.sources[0].versions.len(), 2, "the mistyped version is kept");
    assert_eq!(entries(db, &pid).await, before);
    assert!(db.log(&pid).await.iter().rev().any(|l| l.action == "import" && l.actor_name == "Margaret Jones"), "the change is logged");
    // A correction with a mistake is refused whole, field by field.
    let errors = fields(k.change_own_entry(&p.patient, &id, &OwnEntryForm { value: "7000".into(), ..weight.clone() }).await);
    assert!(errors.iter().any(|(f, _)| f == "value"), "{errors:?}");
    // An entry does not turn into another kind.
    let errors = fields(k.change_own_entry(&p.patient, &id, &OwnEntryForm { text: "Penicillin".into(), ..form("allergy") }).await);
    assert!(errors.iter().any(|(f, _)| f == "kind"), "{errors:?}");
    assert_eq!(k.entry(&p.patient, &id).await.unwrap().sources[0].versions.len(), 2, "nothing stored by a refusal");

    // A renamed allergy keeps its entry, its comments and when it was first recorded.
    let plasters = OwnEntryForm { text: "Plasters".into(), detail: "Itchy".into(), date: "2019-05-01".into(), ..form("allergy") };
    let a = k.add_own_entry(&p.patient, &plasters).await.unwrap();
    k.add_comment(&p.patient, &a, "Only the fabric ones").await.unwrap();
    let first = k.entry(&p.patient, &a).await.unwrap().sources[0].json.clone();
    let renamed = OwnEntryForm { text: "Sticking plasters".into(), ..plasters.clone() };
    assert_eq!(k.change_own_entry(&p.patient, &a, &renamed).await.unwrap(), a);
    let e = k.entry(&p.patient, &a).await.unwrap();
    assert_eq!(e.card.text, "Sticking plasters");
    assert_eq!(k.comments(&p.patient, &a).await.unwrap().comments.len(), 1);
    let recorded = |json: &str| serde_json::from_str::<serde_json::Value>(json).unwrap()["recordedDate"].clone();
    assert_eq!(recorded(&e.sources[0].json), recorded(&first));
    assert_eq!(k.own_entry(&p.patient, &a).await.unwrap().form, OwnEntryForm { label: "general".into(), ..renamed });
}

/// Removing is FHIR's entered-in-error: off the summary and the charts, the
/// page and its versions kept, and saving it again puts it back.
async fn a_hand_entry_is_removed_as_entered_in_error(db: &TestDb) {
    let k = &db.kith;
    let p = people(k).await;
    let allergy = OwnEntryForm { text: "Sticking plasters".into(), ..form("allergy") };
    let a = k.add_own_entry(&p.patient, &allergy).await.unwrap();
    let on_summary = |access: &RecordAccess| {
        let access = access.clone();
        async move { k.summary(&access).await.unwrap().allergies.iter().any(|c| c.text == "Sticking plasters") }
    };
    assert!(on_summary(&p.patient).await);
    assert_eq!(k.remove_own_entry(&p.patient, &a).await.unwrap(), a);
    assert!(!on_summary(&p.patient).await, "removed from the summary");
    let e = k.entry(&p.patient, &a).await.unwrap();
    assert_eq!(e.card.status.as_deref(), Some("entered-in-error"));
    assert_eq!(e.sources[0].versions.len(), 2);
    let json: serde_json::Value = serde_json::from_str(&e.sources[0].json).unwrap();
    assert_eq!(json["verificationStatus"]["coding"][0]["code"], "entered-in-error");
    assert!(json.get("clinicalStatus").is_none(), "FHIR: no clinical status on an entry made in error");
    assert!(k.own_entry(&p.patient, &a).await.unwrap().removed);
    // Removing again changes nothing.
    k.remove_own_entry(&p.patient, &a).await.unwrap();
    assert_eq!(k.entry(&p.patient, &a).await.unwrap().sources[0].versions.len(), 2);
    // Saving it again puts it back.
    k.change_own_entry(&p.patient, &a, &allergy).await.unwrap();
    assert!(on_summary(&p.patient).await, "put back");

    // A removed reading is neither the latest nor a point on a chart.
    let reading = |value: &str, day: &str| OwnEntryForm { reading: "pulse".into(), value: value.into(), date: day.into(), ..form("reading") };
    k.add_own_entry(&p.patient, &reading("61", "2026-11-01")).await.unwrap();
    k.add_own_entry(&p.patient, &reading("63", "2026-11-02")).await.unwrap();
    let slip = k.add_own_entry(&p.patient, &reading("190", "2026-11-03")).await.unwrap();
    let latest_pulse = || async { k.summary(&p.patient).await.unwrap().latest_results.into_iter().find(|c| c.text == "Pulse").and_then(|c| c.value) };
    assert!(latest_pulse().await.unwrap_or_default().contains("190"));
    k.remove_own_entry(&p.patient, &slip).await.unwrap();
    assert!(latest_pulse().await.unwrap_or_default().contains("63"), "the latest is the last one not removed");
    let results = k.results(&p.patient).await.unwrap();
    let pulse = results.charts.iter().find(|c| c.lines.iter().flat_map(|l| &l.points).any(|pt| pt.value == 63.0)).expect("a pulse chart");
    assert!(pulse.lines.iter().flat_map(|l| &l.points).all(|pt| pt.value != 190.0 && pt.max != Some(190.0)), "not charted: {:?}", pulse.lines);
    assert!(results.single.iter().any(|c| c.id == slip), "listed, with its status");
}

/// Only its author changes a hand entry; the patient may also remove what a
/// carer added; nobody else may do either.
async fn only_the_author_changes_a_hand_entry_and_the_patient_may_remove_it(db: &TestDb) {
    let k = &db.kith;
    let p = people(k).await;
    let asthma = OwnEntryForm { text: "Asthma".into(), ..form("condition") };
    let his = k.add_own_entry(&p.carer, &asthma).await.unwrap();
    let hers = k.add_own_entry(&p.patient, &asthma).await.unwrap();
    let changed = OwnEntryForm { text: "Mild asthma".into(), ..form("condition") };
    // He changes his, not hers.
    assert!(k.entry(&p.carer, &his).await.unwrap().can_change);
    k.change_own_entry(&p.carer, &his, &changed).await.unwrap();
    let e = k.entry(&p.carer, &hers).await.unwrap();
    assert!(!e.can_change && !e.can_remove);
    assert!(not_found(k.own_entry(&p.carer, &hers).await));
    assert!(not_found(k.change_own_entry(&p.carer, &hers, &changed).await));
    assert!(not_found(k.remove_own_entry(&p.carer, &hers).await));
    // She may remove his, not change it, and the version stays in his source.
    let e = k.entry(&p.patient, &his).await.unwrap();
    assert!(!e.can_change && e.can_remove);
    let own = k.own_entry(&p.patient, &his).await.unwrap();
    assert!(!own.can_change && own.entered_by == "David Jones");
    assert!(not_found(k.change_own_entry(&p.patient, &his, &asthma).await));
    k.remove_own_entry(&p.patient, &his).await.unwrap();
    let e = k.entry(&p.patient, &his).await.unwrap();
    assert_eq!(e.card.status.as_deref(), Some("entered-in-error"));
    assert_eq!(e.card.sources, vec!["Entered by David Jones for Margaret Jones".to_string()]);
    // Nobody else: not clinicians, not a carer who does not act for her, not a link.
    for other in [&p.clinician, &p.mind, &p.helper] {
        assert!(not_found(k.own_entry(other, &hers).await));
        assert!(not_found(k.change_own_entry(other, &hers, &changed).await));
        assert!(not_found(k.remove_own_entry(other, &hers).await));
    }
    // An entry that was not added by hand is no one's to change here.
    let gp = k.summary(&p.patient).await.unwrap().allergies.into_iter().find(|c| !c.sources.iter().any(|s| s.starts_with("Entered by"))).expect("a GP allergy");
    assert!(!k.entry(&p.patient, &gp.id).await.unwrap().can_remove);
    assert!(not_found(k.own_entry(&p.patient, &gp.id).await));
    assert!(not_found(k.remove_own_entry(&p.patient, &gp.id).await));
    // He may not put back what she removed.
    let e = k.entry(&p.carer, &his).await.unwrap();
    assert!(!e.can_change && e.can_remove);
    assert!(!k.own_entry(&p.carer, &his).await.unwrap().can_change);
    assert!(not_found(k.change_own_entry(&p.carer, &his, &asthma).await));
    // The patient makes his entry private: it is no longer his to change.
    let his2 = k.add_own_entry(&p.carer, &asthma).await.unwrap();
    k.relabel_entry(&p.patient, &his2, "private").await.unwrap();
    assert!(not_found(k.change_own_entry(&p.carer, &his2, &changed).await));
    assert!(not_found(k.remove_own_entry(&p.carer, &his2).await));
}

/// Each person's hand entries have their own source, found by who they
/// are, not by name: two carers called David Jones are told apart, and a
/// file uploaded under a hand entries' source name is refused.
async fn each_person_has_their_own_hand_entries_source(db: &TestDb) {
    let k = &db.kith;
    let p = people(k).await;
    let owner = k.sign_in("margaret@demo.kith.example", "kettle orange stairs", "10.0.0.1").await.unwrap();
    let namesake = user(k, "David Jones", "dj2@example.com", "carer", "").await;
    let input = GrantInput {
        email: "dj2@example.com".into(),
        role: "carer".into(),
        scope: Scope::whole(),
        comment: false,
        contribute: false,
        act_for: true,
        expires_in_days: None,
    };
    let invitation = k.create_grant(&p.patient, &owner, input, "http://kith.test").await.unwrap();
    kith_core::testing::accept(k, &invitation, "dj2@example.com").await;
    let other = k.open_patient(&Principal::User(namesake), p.patient.patient_id(), Right::Manage).await.unwrap();
    let asthma = OwnEntryForm { text: "Asthma".into(), ..form("condition") };
    let first = k.add_own_entry(&p.carer, &asthma).await.unwrap();
    let second = k.add_own_entry(&other, &asthma).await.unwrap();
    assert_eq!(k.entry(&p.patient, &first).await.unwrap().card.sources, vec!["Entered by David Jones for Margaret Jones".to_string()]);
    assert_eq!(k.entry(&p.patient, &second).await.unwrap().card.sources, vec!["Entered by David Jones for Margaret Jones (2)".to_string()]);
    // Each changes only his own.
    assert!(not_found(k.change_own_entry(&other, &first, &asthma).await));
    // A renamed account keeps its source, which takes the new name.
    let renamed = match p.carer.principal() {
        Principal::User(a) => kith_core::Actor { name: "David Jones-Smith".into(), ..a.clone() },
        _ => unreachable!(),
    };
    let renamed = k.open_patient(&Principal::User(renamed), p.patient.patient_id(), Right::Manage).await.unwrap();
    let third = k.add_own_entry(&renamed, &OwnEntryForm { text: "Hay fever".into(), ..form("condition") }).await.unwrap();
    let named = vec!["Entered by David Jones-Smith for Margaret Jones".to_string()];
    assert_eq!(k.entry(&p.patient, &third).await.unwrap().card.sources, named);
    assert_eq!(k.entry(&p.patient, &first).await.unwrap().card.sources, named, "one source, renamed");
    k.change_own_entry(&other, &second, &OwnEntryForm { text: "Asthma since childhood".into(), ..form("condition") }).await.unwrap();
    // A file named as a hand entries' source is refused, not slipped in beside them.
    let file = serde_json::json!({ "resourceType": "Bundle", "type": "collection", "entry": [
        { "resource": { "resourceType": "Patient", "id": "p", "identifier": [{ "system": "https://fhir.nhs.uk/Id/nhs-number", "value": p.patient.nhs_number().as_str() }] } },
        { "resource": { "resourceType": "Condition", "id": "c", "code": { "text": "Gout" }, "subject": { "reference": "Patient/p" } } }
    ] })
    .to_string()
    .into_bytes();
    let req = kith_core::import::ImportRequest {
        file_name: "gp.json".into(),
        bytes: file,
        source_kind: Some(kith_fhir::SourceKind::Patient),
        source_name: Some("Entered by David Jones for Margaret Jones".into()),
        max_bytes: usize::MAX,
    };
    let refused = |outcome: kith_core::import::ImportOutcome| match outcome {
        kith_core::import::ImportOutcome::Refused { reason, .. } => assert!(reason.contains("typed into Kith by hand"), "{reason}"),
        other => panic!("expected a refusal, got {other:?}"),
    };
    refused(k.import(&p.patient, req.clone()).await.unwrap());
    // So is one named as someone's hand entries would be, before they add any.
    refused(k.import(&p.patient, kith_core::import::ImportRequest { source_name: Some("Entered by Carol Helper".into()), ..req }).await.unwrap());
}

/// Hand sources made before they were keyed by author (found by name) get
/// their author from migration 0023: a patient source whose every import is
/// a hand entry by one user.
async fn older_hand_sources_are_given_their_author(db: &TestDb) {
    let k = &db.kith;
    let p = people(k).await;
    let id = k.add_own_entry(&p.carer, &OwnEntryForm { text: "Asthma".into(), ..form("condition") }).await.unwrap();
    // And a file of her own notes, uploaded as from a patient source.
    let notes = serde_json::json!({ "resourceType": "Bundle", "type": "collection", "entry": [
        { "resource": { "resourceType": "Patient", "id": "p", "identifier": [{ "system": "https://fhir.nhs.uk/Id/nhs-number", "value": p.patient.nhs_number().as_str() }] } },
        { "resource": { "resourceType": "Condition", "id": "c", "code": { "text": "Gout" }, "subject": { "reference": "Patient/p" } } }
    ] });
    let req = kith_core::import::ImportRequest {
        file_name: "my-notes.json".into(),
        bytes: notes.to_string().into_bytes(),
        source_kind: Some(kith_fhir::SourceKind::Patient),
        source_name: Some("My own notes".into()),
        max_bytes: usize::MAX,
    };
    assert!(matches!(k.import(&p.patient, req).await.unwrap(), kith_core::import::ImportOutcome::Accepted(_)));
    let gout = k.summary(&p.patient).await.unwrap().problems.into_iter().find(|c| c.text == "Gout").unwrap().id;
    db.exec("UPDATE sources SET hand_author = NULL").await;
    assert!(!k.entry(&p.carer, &id).await.unwrap().can_change, "without its author, no one's");
    let migration = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations/sqlite/0023_hand_sources.sql")).unwrap();
    let backfill = migration[migration.find("UPDATE sources").unwrap()..].split(';').next().unwrap();
    assert_eq!(
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations/postgres/0023_hand_sources.sql")).unwrap(),
        migration,
        "the same on both databases"
    );
    db.exec(backfill).await;
    assert!(k.entry(&p.carer, &id).await.unwrap().can_change, "his again");
    // A source with an upload in it is no one's hand source.
    assert!(!k.entry(&p.patient, &gout).await.unwrap().can_remove);
    assert!(not_found(k.own_entry(&p.patient, &gout).await));
}

backend_tests!(
    older_hand_sources_are_given_their_author,
    a_hand_entry_is_corrected_by_a_new_version,
    a_hand_entry_is_removed_as_entered_in_error,
    only_the_author_changes_a_hand_entry_and_the_patient_may_remove_it,
    each_person_has_their_own_hand_entries_source,
    a_carer_sees_no_trace_of_a_private_hand_entry,
    hand_entries_are_never_merged,
    a_reading_is_stored_as_fhir_from_the_person_who_entered_it,
    allergies_medicines_and_conditions_are_unconfirmed_and_labelled_as_chosen,
    mistakes_are_named_field_by_field_and_nothing_is_stored,
    only_the_patient_and_those_acting_for_them_may_add,
);

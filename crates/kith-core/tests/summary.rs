//! The summary's lists on SQLite and PostgreSQL: current allergies, problems
//! and medicines only, plus every medicine the sources disagree about
//! whatever its status. (These lists read partial indexes since migration
//! 0013; `store::views` tests that the planners use them.)

use kith_core::import::{ImportOutcome, ImportRequest};
use kith_core::policy::{Principal, Right};
use kith_core::testing::TestDb;
use kith_core::{backend_tests, NewUser};
use kith_fhir::{SourceKind, NHS_NUMBER_SYSTEM};
use kith_types::NhsNumber;
use serde_json::{json, Value};

const NHS: &str = "9434765919";
const SCT: &str = "http://snomed.info/sct";
const DMD: &str = "https://dmd.nhs.uk";

fn clinical(system: &str, code: &str) -> Value {
    json!({ "coding": [{ "system": format!("http://terminology.hl7.org/CodeSystem/{system}"), "code": code }] })
}

fn concept(system: &str, code: &str, text: &str) -> Value {
    json!({ "coding": [{ "system": system, "code": code, "display": text }], "text": text })
}

fn allergy(id: &str, status: &str, code: &str, text: &str, day: &str) -> Value {
    json!({ "resourceType": "AllergyIntolerance", "id": id, "clinicalStatus": clinical("allergyintolerance-clinical", status),
            "code": concept(SCT, code, text), "patient": { "reference": "urn:uuid:p1" }, "recordedDate": day })
}

fn condition(id: &str, status: &str, code: &str, text: &str, day: &str) -> Value {
    json!({ "resourceType": "Condition", "id": id, "clinicalStatus": clinical("condition-clinical", status),
            "code": concept(SCT, code, text), "subject": { "reference": "urn:uuid:p1" }, "onsetDateTime": day })
}

fn medicine(id: &str, status: &str, code: &str, text: &str, day: &str) -> Value {
    json!({ "resourceType": "MedicationRequest", "id": id, "status": status, "intent": "order",
            "medicationCodeableConcept": concept(DMD, code, text), "subject": { "reference": "urn:uuid:p1" }, "authoredOn": day })
}

fn feed(org: &str, resources: Vec<Value>) -> Vec<u8> {
    let patient = json!({ "resourceType": "Patient", "id": "p1", "identifier": [{ "system": NHS_NUMBER_SYSTEM, "value": NHS }],
                          "name": [{ "family": "Summers", "given": ["Ada"] }], "birthDate": "1948-03-02" });
    let org = json!({ "resourceType": "Organization", "id": "o1", "name": org });
    let entry: Vec<Value> =
        [patient, org].into_iter().chain(resources).map(|r| json!({ "fullUrl": format!("urn:uuid:{}", r["id"].as_str().unwrap()), "resource": r })).collect();
    serde_json::to_vec(&json!({ "resourceType": "Bundle", "type": "collection", "entry": entry })).unwrap()
}

/// Ada's new record, opened by the operator to import into.
async fn ada(k: &kith_core::Kith) -> kith_core::policy::RecordAccess {
    k.create_user(NewUser {
        name: "Ada Summers".into(),
        email: "ada@example.com".into(),
        password: "kettle orange stairs".into(),
        role: "patient".into(),
        nhs_number: NHS.into(),
        birth_date: "1948-03-02".into(),
        organisation: String::new(),
    })
    .await
    .unwrap();
    k.open_record(&Principal::Operator, &NhsNumber::parse(NHS).unwrap(), Right::Contribute).await.unwrap()
}

async fn summary_lists_only_current_and_disputed(db: &TestDb) {
    let k = &db.kith;
    let access = ada(k).await;
    let gp = feed(
        "Riverside Surgery",
        vec![
            allergy("a1", "active", "91936005", "Penicillin allergy", "2001-05-01"),
            allergy("a2", "resolved", "300913006", "Shellfish allergy", "2003-05-01"),
            // Entered in error: FHIR leaves clinicalStatus out.
            json!({ "resourceType": "AllergyIntolerance", "id": "a3", "verificationStatus": clinical("allergyintolerance-verification", "entered-in-error"),
                    "code": concept(SCT, "294505008", "Amoxicillin allergy"), "patient": { "reference": "urn:uuid:p1" }, "recordedDate": "2005-05-01" }),
            condition("c1", "active", "195967001", "Asthma", "1990-01-01"),
            condition("c2", "resolved", "263204007", "Fracture of wrist", "2015-06-01"),
            condition("c3", "remission", "363346000", "Cancer", "2010-06-01"),
            condition("c4", "inactive", "38341003", "High blood pressure", "2012-06-01"),
            json!({ "resourceType": "Condition", "id": "c5", "clinicalStatus": clinical("condition-clinical", "active"),
                    "verificationStatus": clinical("condition-ver-status", "refuted"),
                    "code": concept(SCT, "73211009", "Diabetes"), "subject": { "reference": "urn:uuid:p1" }, "onsetDateTime": "2020-06-01" }),
            medicine("m1", "active", "39113611000001102", "Salbutamol inhaler", "2024-01-10"),
            medicine("m2", "stopped", "39732311000001104", "Amoxicillin capsules", "2023-03-01"),
            medicine("m3", "completed", "42206511000001102", "Prednisolone tablets", "2022-03-01"),
            medicine("m4", "cancelled", "39695211000001102", "Ramipril capsules", "2021-03-01"),
            medicine("m5", "on-hold", "41946311000001101", "Metformin tablets", "2020-03-01"),
            medicine("m7", "not-taken", "39720311000001101", "Aspirin tablets", "2024-02-01"),
            // The GP says stopped; the hospital (below) says active.
            medicine("m6", "stopped", "42115811000001103", "Atorvastatin tablets", "2019-03-01"),
        ],
    );
    let hospital = feed("St Elsewhere Hospital", vec![medicine("h6", "active", "42115811000001103", "Atorvastatin tablets", "2019-03-01")]);
    for (name, bytes, kind) in [("gp.json", gp, SourceKind::Gp), ("hospital.json", hospital, SourceKind::Hospital)] {
        let req = ImportRequest { file_name: name.into(), bytes, source_kind: Some(kind), source_name: None, max_bytes: 1 << 20 };
        match k.import(&access, req).await.unwrap() {
            ImportOutcome::Accepted(_) => {}
            other => panic!("{name}: {other:?}"),
        }
    }
    let s = k.summary(&access).await.unwrap();
    let texts = |cards: &[kith_types::record::EntryCard]| cards.iter().map(|c| c.text.clone()).collect::<Vec<_>>();
    assert_eq!(texts(&s.allergies), ["Penicillin allergy"]);
    assert_eq!(texts(&s.problems), ["Asthma"]);
    // Newest first; on hold is still a current medicine; the disputed one is
    // shown, flagged, although one source stopped it.
    assert_eq!(texts(&s.medications), ["Salbutamol inhaler", "Metformin tablets", "Atorvastatin tablets"]);
    let disputed = s.medications.iter().find(|c| c.text == "Atorvastatin tablets").unwrap();
    assert!(disputed.disagreement, "{disputed:?}");
    assert_eq!(disputed.sources.len(), 2, "{disputed:?}");
    assert!(!s.medications[0].disagreement);
}

/// The texts of the timeline's entries that match `q`.
async fn search(k: &kith_core::Kith, access: &kith_core::policy::RecordAccess, q: &str) -> Vec<String> {
    let query = kith_types::record::TimelineQuery { q: q.into(), ..Default::default() };
    k.timeline(access, &query).await.unwrap().days.into_iter().flat_map(|(_, cards)| cards).map(|e| e.text).collect()
}

/// The timeline's search folds case and accents beyond A-Z the same on both
/// databases, treats % and _ as themselves, and entries from before the
/// folded text was kept are filled in when the database is next opened.
async fn search_folds_case_and_accents(db: &TestDb) {
    let k = &db.kith;
    let access = ada(k).await;
    let gp = feed(
        "Riverside Surgery",
        vec![
            condition("c1", "active", "13445001", "Ménière's disease", "2019-01-01"),
            condition("c2", "active", "83901003", "SJÖGREN SYNDROME", "2020-01-01"),
            condition("c3", "active", "195967001", "Asthma 100% controlled", "2021-01-01"),
            condition("c4", "active", "38341003", "Asthma 1000 controlled", "2022-01-01"),
        ],
    );
    let req = ImportRequest { file_name: "gp.json".into(), bytes: gp, source_kind: Some(SourceKind::Gp), source_name: None, max_bytes: 1 << 20 };
    assert!(matches!(k.import(&access, req).await.unwrap(), ImportOutcome::Accepted(_)));
    for q in ["meniere", "MÉNIÈRE", "ménière's"] {
        assert_eq!(search(k, &access, q).await, ["Ménière's disease"], "{q}");
    }
    assert_eq!(search(k, &access, "sjögren").await, ["SJÖGREN SYNDROME"]);
    assert_eq!(search(k, &access, "sjogren syndrome").await, ["SJÖGREN SYNDROME"]);
    assert_eq!(search(k, &access, "100%").await, ["Asthma 100% controlled"], "% is a percent sign, not a wildcard");

    // Entries from before migration 0019 have no folded text; opening the
    // database fills it in.
    db.exec("UPDATE entries SET search_text = NULL").await;
    assert!(search(k, &access, "meniere").await.is_empty());
    let owner = (db.owner_url() != db.url).then(|| db.owner_url().to_string());
    let reopened = kith_core::Db::connect_with_owner(&db.url, owner.as_deref()).await.unwrap();
    let k2 = kith_core::Kith::new(reopened, kith_core::testing::fast_settings());
    assert_eq!(search(&k2, &access, "meniere").await, ["Ménière's disease"]);
}

backend_tests!(summary_lists_only_current_and_disputed, search_folds_case_and_accents);

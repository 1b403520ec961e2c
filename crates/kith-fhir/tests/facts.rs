//! normalise() on hand-made resources: text, values, keys and labels.

use kith_fhir::*;
use serde_json::{json, Value};

fn fact(json: Value, kind: SourceKind) -> Fact {
    let feed = parse_feed(json.to_string().as_bytes(), 1 << 20).expect("parses");
    normalise(&feed.resources[0], kind).expect("is a fact")
}

fn condition(code: &str, system: &str, onset: &str) -> Value {
    json!({"resourceType": "Condition", "id": "c",
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
        "code": {"coding": [{"system": system, "code": code, "display": "Shown as sent"}]},
        "onsetDateTime": onset})
}

const SCT: &str = "http://snomed.info/sct";

#[test]
fn labels_follow_the_rules() {
    // SNOMED depressive disorder from a GP.
    let f = fact(condition("35489007", SCT, "2020-01-01"), SourceKind::Gp);
    assert_eq!(f.label, Label::MentalHealth);
    // ICD-10 F chapter.
    let f = fact(condition("F41.1", "http://hl7.org/fhir/sid/icd-10", "2020-01-01"), SourceKind::Hospital);
    assert_eq!(f.label, Label::MentalHealth);
    // meta.security HIV on an otherwise ordinary result.
    let mut obs = json!({"resourceType": "Observation", "id": "o", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7", "display": "Glucose"}]},
        "meta": {"security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "HIV"}]}});
    assert_eq!(fact(obs.clone(), SourceKind::Hospital).label, Label::SexualHealth);
    obs["meta"] = json!({});
    assert_eq!(fact(obs.clone(), SourceKind::Hospital).label, Label::General);
    // The source kind sets the default.
    assert_eq!(fact(obs.clone(), SourceKind::SocialCare).label, Label::SocialCare);
    assert_eq!(fact(obs.clone(), SourceKind::MentalHealth).label, Label::MentalHealth);
    // A sensitive value or reason counts too.
    obs["valueCodeableConcept"] = json!({"coding": [{"system": SCT, "code": "86406008"}]});
    assert_eq!(fact(obs, SourceKind::Gp).label, Label::SexualHealth);
    let med = json!({"resourceType": "MedicationRequest", "id": "m", "status": "active",
        "medicationCodeableConcept": {"text": "Sertraline 50mg tablets"},
        "reasonCode": [{"coding": [{"system": SCT, "code": "370143000"}]}], "authoredOn": "2024-02-03"});
    assert_eq!(fact(med, SourceKind::Gp).label, Label::MentalHealth);
    // Label names.
    for l in Label::ALL {
        assert_eq!(l.as_str().parse::<Label>(), Ok(l));
    }
}

#[test]
fn condition_text_codes_and_key() {
    let mut c = condition("44054006", SCT, "2019-03-04T10:00:00+01:00");
    c["code"]["text"] = json!("Type 2 diabetes");
    c["code"]["coding"].as_array_mut().unwrap().push(json!({"system": "http://hl7.org/fhir/sid/icd-10", "code": "E11"}));
    let f = fact(c.clone(), SourceKind::Gp);
    assert_eq!(f.kind, FactKind::Condition);
    assert_eq!(f.text, "Type 2 diabetes");
    assert_eq!(f.codes.len(), 2);
    assert_eq!(f.codes[0].display.as_deref(), Some("Shown as sent"));
    assert_eq!(f.status.as_deref(), Some("active"));
    assert_eq!(f.date.as_deref(), Some("2019-03-04T10:00:00+01:00"));
    assert_eq!(f.merge_key, "condition|sct:44054006|2019-03-04");

    // The same condition with the codings the other way round, date only.
    let mut other = condition("E11", "http://hl7.org/fhir/sid/icd-10", "2019-03-04");
    other["code"]["coding"].as_array_mut().unwrap().push(json!({"system": SCT, "code": "44054006"}));
    assert_eq!(fact(other, SourceKind::Hospital).merge_key, f.merge_key);
    // A different onset is a different fact.
    assert_ne!(fact(condition("44054006", SCT, "2019-03-05"), SourceKind::Gp).merge_key, f.merge_key);

    // SNOMED semantic tags are dropped from the text, kept in the codes.
    let mut tagged = condition("90460009", SCT, "2009-02-19");
    tagged["code"]["coding"][0]["display"] = json!("Injury of neck (disorder)");
    let f = fact(tagged, SourceKind::Hospital);
    assert_eq!(f.text, "Injury of neck");
    assert_eq!(f.codes[0].display.as_deref(), Some("Injury of neck (disorder)"));

    // Fallbacks for text.
    let bare = json!({"resourceType": "Condition", "id": "x", "code": {"coding": [{"system": "s", "code": "123"}]}});
    assert_eq!(fact(bare, SourceKind::Gp).text, "123");
    let none = json!({"resourceType": "Condition", "id": "x"});
    let f = fact(none, SourceKind::Gp);
    assert_eq!(f.text, "Unnamed condition");
    assert!(f.merge_key.starts_with("condition|text:unnamed condition|"));
}

#[test]
fn observations_values_and_vital_signs() {
    let bp = json!({"resourceType": "Observation", "id": "bp", "status": "final",
    "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
    "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9", "display": "Blood pressure panel"}], "text": "Blood pressure"},
    "effectiveDateTime": "2023-08-10T09:15:30+01:00",
    "component": [
        {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}, "valueQuantity": {"value": 120, "unit": "mmHg", "code": "mm[Hg]"}},
        {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]}, "valueQuantity": {"value": 80, "unit": "mmHg", "code": "mm[Hg]"}}
    ]});
    let f = fact(bp, SourceKind::Gp);
    assert_eq!(f.kind, FactKind::VitalSign);
    assert_eq!(f.value.as_deref(), Some("120/80 mmHg"));
    assert_eq!(f.numeric, None);
    assert_eq!(f.category.as_deref(), Some("vital-signs"));
    assert!(f.merge_key.starts_with("vital-sign|http://loinc.org|85354-9|2023-08-10T08:15Z|"), "{}", f.merge_key);

    let lab = json!({"resourceType": "Observation", "id": "g", "status": "final",
        "category": [{"coding": [{"code": "laboratory"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7", "display": "Glucose"}]},
        "effectiveDateTime": "2024-01-02T08:00:00Z",
        "valueQuantity": {"value": 7.9, "unit": "mmol/L", "system": "http://unitsofmeasure.org", "code": "mmol/L"},
        "referenceRange": [{"low": {"value": 3.9}, "high": {"value": 5.8}}]});
    let f = fact(lab.clone(), SourceKind::Hospital);
    assert_eq!(f.kind, FactKind::Result);
    assert_eq!(f.text, "Glucose");
    assert_eq!(f.value.as_deref(), Some("7.9 mmol/L"));
    assert_eq!((f.numeric, f.unit.as_deref(), f.low, f.high), (Some(7.9), Some("mmol/L"), Some(3.9), Some(5.8)));
    assert!(f.abnormal, "above the range");
    assert_eq!(f.merge_key, "result|http://loinc.org|2345-7|2024-01-02T08:00Z|7.9 mmol/l");

    // Same instant written in another zone, value written 7.90: same key.
    let mut again = lab.clone();
    again["effectiveDateTime"] = json!("2024-01-02T09:00:59+01:00");
    again["valueQuantity"]["value"] = json!(7.90);
    assert_eq!(fact(again, SourceKind::Gp).merge_key, f.merge_key);
    // A different value is a different result.
    let mut other = lab;
    other["valueQuantity"]["value"] = json!(5.1);
    let g = fact(other, SourceKind::Gp);
    assert_ne!(g.merge_key, f.merge_key);
    assert!(!g.abnormal);

    let flagged = json!({"resourceType": "Observation", "id": "h", "status": "final",
        "code": {"text": "Haemoglobin"}, "valueString": "low-ish",
        "interpretation": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": "L", "display": "Low"}]}]});
    let f = fact(flagged, SourceKind::Gp);
    assert_eq!((f.value.as_deref(), f.interpretation.as_deref(), f.abnormal), (Some("low-ish"), Some("Low"), true));
    assert_eq!(f.compared("interpretation"), Some("Low"));
}

#[test]
fn medications_allergies_and_others() {
    let med = |status: &str, date: &str| {
        json!({"resourceType": "MedicationRequest", "id": "m", "status": status, "intent": "order",
            "medicationCodeableConcept": {"coding": [{"system": "https://dmd.nhs.uk", "code": "39732311000001104", "display": "Amoxicillin 250mg capsules"}]},
            "authoredOn": date, "dosageInstruction": [{"text": "One three times a day"}]})
    };
    let a = fact(med("active", "2024-03-01T10:00:00Z"), SourceKind::Gp);
    let b = fact(med("stopped", "2024-03-01"), SourceKind::Hospital);
    assert_eq!(a.kind, FactKind::Medication);
    assert_eq!(a.text, "Amoxicillin 250mg capsules");
    assert_eq!(a.merge_key, b.merge_key);
    assert_eq!(a.merge_key, "medication|sct:39732311000001104|2024-03-01");
    assert_eq!(a.compared("status"), Some("active"));
    assert_eq!(b.compared("status"), Some("stopped"));
    assert_eq!(a.compared("dosage"), Some("One three times a day"));
    assert_ne!(fact(med("active", "2024-04-01"), SourceKind::Gp).merge_key, a.merge_key);

    // medicationReference to a contained Medication.
    let contained = json!({"resourceType": "MedicationStatement", "id": "s", "status": "active",
        "contained": [{"resourceType": "Medication", "id": "med", "code": {"coding": [{"system": "http://snomed.info/sct", "code": "39732311000001104", "display": "Amoxicillin 250mg capsules"}]}}],
        "medicationReference": {"reference": "#med"}, "effectiveDateTime": "2024-03-01"});
    assert_eq!(fact(contained, SourceKind::Patient).merge_key, a.merge_key);

    let allergy = |crit: &str, recorded: &str| {
        json!({"resourceType": "AllergyIntolerance", "id": "a",
            "clinicalStatus": {"coding": [{"code": "active"}]},
            "category": ["medication"], "criticality": crit,
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "91936005", "display": "Allergy to penicillin"}]},
            "recordedDate": recorded,
            "reaction": [{"severity": "mild"}, {"severity": "severe"}]})
    };
    let x = fact(allergy("high", "2001-01-01"), SourceKind::Gp);
    let y = fact(allergy("low", "2015-06-01"), SourceKind::Hospital);
    assert_eq!(x.kind, FactKind::Allergy);
    assert_eq!(x.severity.as_deref(), Some("severe"));
    assert_eq!(x.category.as_deref(), Some("medication"));
    assert_eq!(x.merge_key, y.merge_key, "one allergy per substance");
    assert_ne!(x.compared("criticality"), y.compared("criticality"));

    let imm = json!({"resourceType": "Immunization", "id": "i", "status": "completed",
        "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "140", "display": "Influenza"}]},
        "occurrenceDateTime": "2020-10-01T09:00:00Z"});
    let f = fact(imm, SourceKind::Gp);
    assert_eq!((f.kind, f.merge_key.as_str()), (FactKind::Immunisation, "immunisation|http://hl7.org/fhir/sid/cvx|140|2020-10-01"));

    let enc = json!({"resourceType": "Encounter", "id": "e", "status": "finished",
        "class": {"code": "AMB", "display": "ambulatory"},
        "type": [{"coding": [{"system": "http://snomed.info/sct", "code": "185349003", "display": "Encounter for check up"}]}],
        "period": {"start": "2020-10-01T09:00:00Z"}});
    let f = fact(enc, SourceKind::Gp);
    assert_eq!((f.kind, f.text.as_str()), (FactKind::Encounter, "Encounter for check up"));
    assert_eq!(f.compared("class"), Some("AMB"));

    let plan = json!({"resourceType": "CarePlan", "id": "p", "status": "active", "intent": "plan",
        "category": [{"coding": [{"system": "http://hl7.org/fhir/us/core/CodeSystem/careplan-category", "code": "assess-plan"}]},
                     {"coding": [{"system": "http://snomed.info/sct", "code": "698360004", "display": "Diabetes self management plan"}]}],
        "period": {"start": "2020-10-01"}});
    let f = fact(plan, SourceKind::Gp);
    assert_eq!(f.text, "Diabetes self management plan");
    assert_eq!(f.merge_key, "care-plan|sct:698360004|2020-10-01");

    let goal = json!({"resourceType": "Goal", "id": "g", "lifecycleStatus": "active",
        "description": {"text": "Walk 5,000 steps a day"}, "startDate": "2021-01-01"});
    let f = fact(goal, SourceKind::Patient);
    assert_eq!((f.kind, f.status.as_deref()), (FactKind::Goal, Some("active")));
    assert_eq!(f.merge_key, "goal|text:walk 5 000 steps a day|2021-01-01");

    let doc = json!({"resourceType": "Composition", "id": "d", "status": "final", "title": "Discharge summary",
        "type": {"coding": [{"system": "http://snomed.info/sct", "code": "373942005"}]}, "date": "2022-02-02T12:00:00Z"});
    let f = fact(doc, SourceKind::Hospital);
    assert_eq!((f.kind, f.text.as_str()), (FactKind::Document, "Discharge summary"));

    // Not facts.
    for rt in ["Patient", "Organization", "Practitioner", "MessageHeader", "Provenance"] {
        let feed = parse_feed(json!({"resourceType": rt, "id": "x"}).to_string().as_bytes(), 1 << 20).unwrap();
        assert!(normalise(&feed.resources[0], SourceKind::Gp).is_none(), "{rt}");
    }
    assert_eq!(FactKind::Condition.label(), "Conditions");
    assert_eq!(FactKind::VitalSign.as_str(), "vital-sign");
}

#[test]
fn medication_reference_in_the_feed() {
    let b = json!({"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:m1", "resource": {"resourceType": "Medication", "id": "m1",
            "code": {"coding": [{"system": "https://dmd.nhs.uk", "code": "18616211000001106", "display": "Timoptol 0.5% eye drops"}]}}},
        {"resource": {"resourceType": "MedicationRequest", "id": "r", "status": "active",
            "medicationReference": {"reference": "urn:uuid:m1"}, "authoredOn": "2022-09-10"}}
    ]});
    let feed = parse_feed(b.to_string().as_bytes(), 1 << 20).unwrap();
    let refs = RefIndex::new(&feed);
    let f = normalise_in(&feed, &refs, &feed.resources[1], SourceKind::Hospital).unwrap();
    assert_eq!(f.text, "Timoptol 0.5% eye drops");
    assert_eq!(f.merge_key, "medication|sct:18616211000001106|2022-09-10");
    // Without the feed, the name is unknown but nothing breaks.
    let g = normalise(&feed.resources[1], SourceKind::Hospital).unwrap();
    assert_eq!(g.text, "Unnamed medicine");
}

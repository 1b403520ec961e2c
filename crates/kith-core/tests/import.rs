//! Importing the multiprovider fixtures and checking the merged record
//! against each manifest's ground truth, on SQLite and PostgreSQL.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use kith_core::import::{ImportOutcome, ImportRequest};
use kith_core::policy::{Principal, RecordAccess, Right};
use kith_core::testing::TestDb;
use kith_core::{backend_tests, Kith, NewUser};
use kith_fhir::SourceKind;
use kith_types::NhsNumber;
use serde_json::Value;

const MAX: usize = 50 * 1024 * 1024;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures")
}

fn manifest(patient: &str) -> Value {
    let p = fixtures().join("multiprovider").join(patient).join("manifest.json");
    serde_json::from_slice(&std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))).unwrap()
}

/// Creates the manifest's patient and opens their record for the operator.
async fn patient_record(k: &Kith, m: &Value) -> RecordAccess {
    let nhs = m["nhs_number"].as_str().unwrap();
    let given = m["name"]["given"][0].as_str().unwrap_or("Test");
    let family = m["name"]["family"].as_str().unwrap_or("Patient");
    k.create_user(NewUser {
        name: format!("{given} {family}"),
        email: format!("{}@example.com", nhs),
        password: "kettle orange stairs".into(),
        role: "patient".into(),
        nhs_number: nhs.into(),
        birth_date: m["birth_date"].as_str().unwrap().into(),
        organisation: String::new(),
    })
    .await
    .unwrap();
    k.open_record(&Principal::Operator, &NhsNumber::parse(nhs).unwrap(), Right::Contribute).await.unwrap()
}

fn request(path: &Path, kind: Option<SourceKind>, name: Option<&str>) -> ImportRequest {
    ImportRequest {
        file_name: path.file_name().unwrap().to_string_lossy().into_owned(),
        bytes: std::fs::read(path).unwrap(),
        source_kind: kind,
        source_name: name.map(str::to_string),
        max_bytes: MAX,
    }
}

async fn import_sources(k: &Kith, access: &RecordAccess, patient: &str, m: &Value) {
    for s in m["sources"].as_array().unwrap() {
        let path = fixtures().join("multiprovider").join(patient).join(s["file"].as_str().unwrap());
        let kind: SourceKind = s["kind"].as_str().unwrap().parse().unwrap();
        match k.import(access, request(&path, Some(kind), None)).await.unwrap() {
            ImportOutcome::Accepted(sum) => {
                assert_eq!(sum.source, s["name"].as_str().unwrap(), "source named from the feed's Organization");
                let total: u64 = s["resource_counts"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
                assert_eq!(sum.new as u64, total, "{}", sum.file);
            }
            other => panic!("{} not accepted: {other:?}", s["file"]),
        }
    }
}

/// Duplicate groups that share a member describe one fact: join them.
fn union_groups(m: &Value) -> HashMap<(String, String), usize> {
    let groups = m["duplicate_groups"].as_array().unwrap();
    let mut parent: Vec<usize> = (0..groups.len()).collect();
    fn find(p: &mut Vec<usize>, i: usize) -> usize {
        if p[i] != i {
            let r = find(p, p[i]);
            p[i] = r;
        }
        p[i]
    }
    let mut owner: HashMap<(String, String), usize> = HashMap::new();
    for (g, group) in groups.iter().enumerate() {
        for mem in group["members"].as_array().unwrap() {
            let src = mem["source"].as_str().unwrap();
            let name = src.split_once(':').map(|(_, n)| n).unwrap_or(src).to_string();
            let key = (name, mem["id"].as_str().unwrap().to_string());
            if let Some(&other) = owner.get(&key) {
                let (a, b) = (find(&mut parent, g), find(&mut parent, other));
                parent[a] = b;
            } else {
                owner.insert(key, g);
            }
        }
    }
    owner.into_iter().map(|(k, g)| (k, find(&mut parent, g))).collect()
}

async fn merged_view_matches_each_manifest(db: &TestDb) {
    for patient in ["ray", "cathrine", "sirena"] {
        let m = manifest(patient);
        let k = &db.kith;
        let access = patient_record(k, &m).await;
        import_sources(k, &access, patient, &m).await;
        let record = k.record(&access).await.unwrap();

        // Where does each (organisation, resource id) live?
        let mut entry_of: HashMap<(String, String), usize> = HashMap::new();
        for (i, e) in record.iter().enumerate() {
            for s in &e.sources {
                entry_of.insert((s.organisation.clone(), s.id.clone()), i);
            }
        }
        let groups = union_groups(&m);
        // Every duplicate group shows once, with each source named.
        let mut by_group: HashMap<usize, HashSet<usize>> = HashMap::new();
        for (member, g) in &groups {
            let e = *entry_of.get(member).unwrap_or_else(|| panic!("{patient}: {member:?} missing from the record"));
            by_group.entry(*g).or_default().insert(e);
        }
        for (g, entries) in &by_group {
            assert_eq!(entries.len(), 1, "{patient}: duplicate group {g} spread over {entries:?}");
            let e = &record[*entries.iter().next().unwrap()];
            let orgs: HashSet<&str> = e.sources.iter().map(|s| s.organisation.as_str()).collect();
            assert!(orgs.len() >= 2, "{patient}: merged entry {} names one source", e.display);
        }
        // Nothing merges across organisations unless the manifest says so.
        for e in &record {
            let orgs: HashSet<&str> = e.sources.iter().map(|s| s.organisation.as_str()).collect();
            if orgs.len() > 1 {
                let gs: HashSet<Option<&usize>> = e.sources.iter().map(|s| groups.get(&(s.organisation.clone(), s.id.clone()))).collect();
                assert_eq!(
                    gs.len(),
                    1,
                    "{patient}: entry {} merges facts the manifest keeps apart: {:?}",
                    e.display,
                    e.sources.iter().map(|s| (&s.organisation, &s.id)).collect::<Vec<_>>()
                );
                assert!(!gs.contains(&None));
            }
        }
        // Each disagreement is flagged on the entry, showing each source's value.
        let conflict_members: HashSet<String> =
            m["conflicts"].as_array().unwrap().iter().flat_map(|c| c["values"].as_object().unwrap().keys().cloned()).collect();
        for c in m["conflicts"].as_array().unwrap() {
            let field = c["field"].as_str().unwrap();
            let ids: Vec<&String> = c["values"].as_object().unwrap().keys().collect();
            let entries: HashSet<usize> = record.iter().enumerate().filter(|(_, e)| e.sources.iter().any(|s| ids.contains(&&s.id))).map(|(i, _)| i).collect();
            assert_eq!(entries.len(), 1, "{patient}: conflicting resources are one fact");
            let e = &record[*entries.iter().next().unwrap()];
            let d = e.disagreements.iter().find(|d| d.field == field).unwrap_or_else(|| panic!("{patient}: {} not flagged on {field}", e.display));
            let values: HashSet<&str> = d.values.iter().map(|(_, v)| v.as_str()).collect();
            let expected: HashSet<&str> = c["values"].as_object().unwrap().values().map(|v| v.as_str().unwrap()).collect();
            assert_eq!(values, expected);
        }
        // And only those are flagged.
        for e in record.iter().filter(|e| !e.disagreements.is_empty()) {
            assert!(e.sources.iter().any(|s| conflict_members.contains(&s.id)), "{patient}: unexpected disagreement on {}: {:?}", e.display, e.disagreements);
        }
        // Codes keep their original display text.
        assert!(record.iter().any(|e| e.codes.iter().any(|c| c.system == "http://snomed.info/sct" && c.display.as_deref().is_some_and(|d| d.contains('(')))));
    }
}

async fn reimport_is_idempotent_and_changes_make_versions(db: &TestDb) {
    let k = &db.kith;
    let m = manifest("ray");
    let access = patient_record(k, &m).await;
    import_sources(k, &access, "ray", &m).await;
    let before = k.record_row_counts(&access).await.unwrap();
    let gp = &m["sources"][0];
    let path = fixtures().join("multiprovider/ray").join(gp["file"].as_str().unwrap());
    match k.import(&access, request(&path, None, None)).await.unwrap() {
        ImportOutcome::Accepted(s) => {
            assert!(s.nothing_changed(), "{s:?}");
            assert_eq!(s.source_kind, "gp", "a known source keeps its kind");
        }
        other => panic!("{other:?}"),
    }
    let after = k.record_row_counts(&access).await.unwrap();
    assert_eq!(before.iter().filter(|(t, _)| t != "imports").collect::<Vec<_>>(), after.iter().filter(|(t, _)| t != "imports").collect::<Vec<_>>());

    // The same feed as NDJSON, attributed to the same organisation: all unchanged.
    let ndjson = fixtures().join("multiprovider/ray/extra-gp-bulk.ndjson");
    match k.import(&access, request(&ndjson, None, gp["name"].as_str())).await.unwrap() {
        ImportOutcome::Accepted(s) => assert!(s.nothing_changed() && s.unchanged > 0, "{s:?}"),
        other => panic!("{other:?}"),
    }

    // Change one medicine's status in the GP feed: a new version, old kept.
    let mut bundle: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let entry = bundle["entry"].as_array_mut().unwrap().iter_mut().find(|e| e["resource"]["id"] == "9225a063-dd1e-4c29-bb8e-e2bffedcbddb").unwrap();
    entry["resource"]["status"] = "stopped".into();
    let req = ImportRequest {
        file_name: "gp-changed.json".into(),
        bytes: serde_json::to_vec(&bundle).unwrap(),
        source_kind: None,
        source_name: None,
        max_bytes: MAX,
    };
    match k.import(&access, req).await.unwrap() {
        ImportOutcome::Accepted(s) => assert_eq!((s.new, s.changed), (0, 1), "{s:?}"),
        other => panic!("{other:?}"),
    }
    let counts: HashMap<String, i64> = k.record_row_counts(&access).await.unwrap().into_iter().collect();
    let before: HashMap<String, i64> = before.into_iter().collect();
    assert_eq!(counts["resources"], before["resources"] + 1, "the old version is kept");
    // The entry now shows the GP's new value beside the others'.
    let record = k.record(&access).await.unwrap();
    let e = record.iter().find(|e| e.sources.iter().any(|s| s.id == "9225a063-dd1e-4c29-bb8e-e2bffedcbddb")).unwrap();
    let status = e.disagreements.iter().find(|d| d.field == "status").expect("the community copy still says active");
    assert!(status.values.contains(&(gp["name"].as_str().unwrap().to_string(), "stopped".to_string())), "{status:?}");
}

/// Files started together (as `kith import` starts the next file before the
/// current one is stored) are parsed in the background but stored one at a
/// time in order: the same outcome as importing them one after another.
async fn files_started_together_are_stored_in_order(db: &TestDb) {
    let k = &db.kith;
    let m = manifest("ray");
    let access = patient_record(k, &m).await;
    let dir = fixtures().join("multiprovider/ray");
    let mut started = Vec::new();
    for s in m["sources"].as_array().unwrap() {
        let kind: SourceKind = s["kind"].as_str().unwrap().parse().unwrap();
        started.push(k.start_import(&access, request(&dir.join(s["file"].as_str().unwrap()), Some(kind), None)).unwrap());
    }
    // The GP feed again as NDJSON: unchanged only if the GP feed was stored first.
    let gp = &m["sources"][0];
    started.push(k.start_import(&access, request(&dir.join("extra-gp-bulk.ndjson"), None, gp["name"].as_str())).unwrap());
    let other = fixtures().join("multiprovider/cathrine/bad-wrong-patient.json");
    started.push(k.start_import(&access, request(&other, Some(SourceKind::Gp), None)).unwrap());
    let mut outcomes = Vec::new();
    for s in started {
        outcomes.push(s.finish().await.unwrap());
    }
    for (s, outcome) in m["sources"].as_array().unwrap().iter().zip(&outcomes) {
        let total: u64 = s["resource_counts"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
        match outcome {
            ImportOutcome::Accepted(sum) => assert_eq!((sum.source.as_str(), sum.new as u64), (s["name"].as_str().unwrap(), total)),
            other => panic!("{other:?}"),
        }
    }
    let n = m["sources"].as_array().unwrap().len();
    assert!(matches!(&outcomes[n], ImportOutcome::Accepted(s) if s.nothing_changed() && s.unchanged > 0), "{:?}", outcomes[n]);
    assert!(matches!(&outcomes[n + 1], ImportOutcome::Refused { reason, .. } if reason.contains("this record is for")), "{:?}", outcomes[n + 1]);
    let merged = k.record(&access).await.unwrap();
    assert!(merged.iter().any(|e| e.sources.len() > 1), "facts from several sources merged");
}

async fn bad_files_are_refused_whole_and_change_nothing(db: &TestDb) {
    let k = &db.kith;
    let m = manifest("cathrine");
    let access = patient_record(k, &m).await;
    import_sources(k, &access, "cathrine", &m).await;
    let before = k.record_row_counts(&access).await.unwrap();
    let dir = fixtures().join("multiprovider/cathrine");
    let mut cases: Vec<(ImportRequest, &str)> = vec![
        (request(&dir.join("bad-wrong-patient.json"), Some(SourceKind::Gp), None), "this record is for"),
        (request(&dir.join("bad-truncated.json"), Some(SourceKind::Gp), None), "truncated"),
    ];
    let raw = |name: &str, body: &str| ImportRequest {
        file_name: name.into(),
        bytes: body.as_bytes().to_vec(),
        source_kind: Some(SourceKind::Gp),
        source_name: None,
        max_bytes: MAX,
    };
    cases.push((raw("notjson.json", "this is not json"), "JSON"));
    cases.push((raw("array.json", "[1, 2, 3]"), "FHIR"));
    cases.push((raw("r5.json", r#"{"resourceType": "SubscriptionTopic", "id": "x"}"#), "SubscriptionTopic"));
    let mut too_big = request(&dir.join(m["sources"][0]["file"].as_str().unwrap()), Some(SourceKind::Gp), None);
    too_big.max_bytes = 1024;
    cases.push((too_big, "larger than"));
    let nhs = m["nhs_number"].as_str().unwrap();
    let dup = format!(
        r#"{{"resourceType":"Bundle","type":"collection","entry":[
        {{"resource":{{"resourceType":"Patient","id":"p","identifier":[{{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"{nhs}"}}]}}}},
        {{"resource":{{"resourceType":"Condition","id":"c1","subject":{{"reference":"Patient/p"}}}}}},
        {{"resource":{{"resourceType":"Condition","id":"c1","subject":{{"reference":"Patient/p"}}}}}}]}}"#
    );
    cases.push((raw("dup.json", &dup), "c1"));
    let invalid = r#"{"resourceType":"Patient","id":"p","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9434765918"}]}"#;
    cases.push((raw("badnhs.json", invalid), "not a valid NHS Number"));

    for (req, expect) in cases {
        let file = req.file_name.clone();
        match k.import(&access, req).await.unwrap() {
            ImportOutcome::Refused { reason, file: f } => {
                assert_eq!(f, file);
                assert!(reason.to_lowercase().contains(&expect.to_lowercase()), "{file}: {reason}");
            }
            other => panic!("{file} should be refused, got {other:?}"),
        }
        assert_eq!(k.record_row_counts(&access).await.unwrap(), before, "{file} changed the database");
    }
    // The wrong-patient message names both numbers.
    match k.import(&access, request(&dir.join("bad-wrong-patient.json"), Some(SourceKind::Gp), None)).await.unwrap() {
        ImportOutcome::Refused { reason, .. } => {
            let ours = NhsNumber::parse(nhs).unwrap().formatted();
            assert!(reason.contains(&ours), "{reason}");
            let theirs = m["must_refuse"]["bad-wrong-patient.json"].as_str().unwrap().split_whitespace().nth(2).unwrap().to_string();
            assert!(reason.contains(&NhsNumber::parse(&theirs).unwrap().formatted()), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

async fn feed_without_nhs_number_is_held(db: &TestDb) {
    let k = &db.kith;
    let m = manifest("ray");
    let access = patient_record(k, &m).await;
    let body = r#"{"resourceType":"Bundle","type":"collection","entry":[
        {"resource":{"resourceType":"Patient","id":"p","name":[{"given":["Ray"],"family":"Lindgren"}],"birthDate":"1995-06-22"}},
        {"resource":{"resourceType":"Condition","id":"c1","subject":{"reference":"Patient/p"},"code":{"text":"Hay fever"}}}]}"#;
    let req = ImportRequest {
        file_name: "app.json".into(),
        bytes: body.as_bytes().to_vec(),
        source_kind: Some(SourceKind::Patient),
        source_name: Some("My symptom diary".into()),
        max_bytes: MAX,
    };
    match k.import(&access, req).await.unwrap() {
        ImportOutcome::Held { found_name, found_birth_date, .. } => {
            assert_eq!(found_name.as_deref(), Some("Ray Lindgren"));
            assert_eq!(found_birth_date.as_deref(), Some("1995-06-22"));
        }
        other => panic!("{other:?}"),
    }
    assert!(k.record(&access).await.unwrap().is_empty(), "held, not merged");

    // The patient compares and confirms: now it is merged, and no longer waiting.
    let owner = k.sign_in("9992649690@example.com", "kettle orange stairs", "10.7.0.1").await.unwrap();
    let own = k.own_record(&owner, Right::Manage).await.unwrap();
    let held = k.sources_view(&own).await.unwrap().held;
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].source_kind, "patient", "the kind chosen on upload is kept for confirming");
    match k.confirm_held(&own, &held[0].id, None, MAX).await.unwrap() {
        ImportOutcome::Accepted(s) => assert_eq!((s.source.as_str(), s.source_kind.as_str()), ("My symptom diary", "patient")),
        other => panic!("{other:?}"),
    }
    assert!(k.record(&access).await.unwrap().iter().any(|e| e.display == "Hay fever"));
    assert!(k.sources_view(&own).await.unwrap().held.is_empty());

    // One that is not theirs is discarded, leaving nothing behind.
    let other = r#"{"resourceType":"Patient","id":"q","name":[{"given":["Someone"],"family":"Else"}]}"#;
    let req = ImportRequest {
        file_name: "else.json".into(),
        bytes: other.as_bytes().to_vec(),
        source_kind: Some(SourceKind::Hospital),
        source_name: None,
        max_bytes: MAX,
    };
    let ImportOutcome::Held { held_id, .. } = k.import(&access, req).await.unwrap() else { panic!("held") };
    k.reject_held(&own, &held_id).await.unwrap();
    assert!(k.sources_view(&own).await.unwrap().held.is_empty());

    // Held from a new organisation with no kind chosen: confirming it needs
    // one. Without, it is refused and keeps waiting; with one, it is added.
    let body = body.replace("My symptom diary", "x").replace("Hay fever", "Sneezing");
    // The walking club's file, naming `condition`, held (no NHS Number).
    let held_walk = |file: &'static str, condition: &'static str, kind: Option<SourceKind>| {
        let req = ImportRequest {
            file_name: file.into(),
            bytes: body.replace("Sneezing", condition).into_bytes(),
            source_kind: kind,
            source_name: Some("Walking club".into()),
            max_bytes: MAX,
        };
        let access = &access;
        async move {
            let ImportOutcome::Held { held_id, .. } = k.import(access, req).await.unwrap() else { panic!("held") };
            held_id
        }
    };
    let held_id = held_walk("walk.json", "Sneezing", None).await;
    assert_eq!(k.sources_view(&own).await.unwrap().held[0].source_kind, "", "nothing chosen is not taken for a hospital");
    match k.confirm_held(&own, &held_id, None, MAX).await.unwrap() {
        ImportOutcome::Refused { reason, .. } => assert!(reason.contains("say what kind of organisation"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(k.sources_view(&own).await.unwrap().held.len(), 1, "a refused confirmation loses nothing");
    match k.confirm_held(&own, &held_id, Some(SourceKind::Community), MAX).await.unwrap() {
        ImportOutcome::Accepted(s) => assert_eq!((s.source.as_str(), s.source_kind.as_str()), ("Walking club", "community")),
        other => panic!("{other:?}"),
    }
    assert!(k.sources_view(&own).await.unwrap().held.is_empty());

    // Confirmed twice at once (two tabs), or confirmed while discarded: one
    // goes ahead, the other finds it gone; it is never imported twice.
    let held_id = held_walk("walk-2.json", "Wheezing", Some(SourceKind::Community)).await;
    let (first, second) = tokio::join!(k.confirm_held(&own, &held_id, None, MAX), k.confirm_held(&own, &held_id, None, MAX));
    let accepted = [&first, &second].iter().filter(|r| matches!(r, Ok(ImportOutcome::Accepted(_)))).count();
    assert_eq!(accepted, 1, "{first:?} {second:?}");
    assert!([first, second].into_iter().any(kith_core::testing::not_found));
    let imports = |v: kith_types::record::SourcesView| v.sources.iter().flat_map(|s| s.imports.clone()).filter(|i| i.file == "walk-2.json").count();
    assert_eq!(imports(k.sources_view(&own).await.unwrap()), 1, "imported once");
    let held_id = held_walk("walk-3.json", "Coughing", Some(SourceKind::Community)).await;
    k.reject_held(&own, &held_id).await.unwrap();
    assert!(kith_core::testing::not_found(k.confirm_held(&own, &held_id, None, MAX).await), "a discarded file cannot be added");
}

async fn a_new_source_needs_a_kind(db: &TestDb) {
    let k = &db.kith;
    let m = manifest("ray");
    let access = patient_record(k, &m).await;
    let path = fixtures().join("multiprovider/ray").join(m["sources"][1]["file"].as_str().unwrap());
    match k.import(&access, request(&path, None, None)).await.unwrap() {
        ImportOutcome::Refused { reason, .. } => assert!(reason.contains("what kind of organisation"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

async fn export_has_every_original_and_a_provenance_per_source(db: &TestDb) {
    let k = &db.kith;
    let m = manifest("ray");
    let access = patient_record(k, &m).await;
    import_sources(k, &access, "ray", &m).await;
    let bundle = k.export_bundle(&access).await.unwrap();
    assert_eq!(bundle["type"], "collection");
    let entries = bundle["entry"].as_array().unwrap();
    let provenances: Vec<&Value> = entries.iter().filter(|e| e["resource"]["resourceType"] == "Provenance").collect();
    assert_eq!(provenances.len(), m["sources"].as_array().unwrap().len());
    let total: u64 =
        m["sources"].as_array().unwrap().iter().flat_map(|s| s["resource_counts"].as_object().unwrap().values()).map(|v| v.as_u64().unwrap()).sum();
    assert_eq!((entries.len() - provenances.len()) as u64, total);
    // Originals are verbatim: equal as JSON to what the feed held.
    let gp: Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("multiprovider/ray").join(m["sources"][0]["file"].as_str().unwrap())).unwrap()).unwrap();
    let first = &gp["entry"][5]["resource"];
    assert!(entries.iter().any(|e| &e["resource"] == first));
}

/// Every UK Core and NHS API example goes through import without a crash:
/// accepted, held, or refused with a reason.
async fn every_shared_example_is_accepted_held_or_refused(db: &TestDb) {
    let k = &db.kith;
    k.create_user(NewUser {
        name: "Jane Smith".into(),
        email: "pds@example.com".into(),
        password: "kettle orange stairs".into(),
        role: "patient".into(),
        nhs_number: "9000000009".into(),
        birth_date: "1980-01-01".into(),
        organisation: String::new(),
    })
    .await
    .unwrap();
    let access = k.open_record(&Principal::Operator, &NhsNumber::parse("9000000009").unwrap(), Right::Contribute).await.unwrap();
    let mut files = Vec::new();
    for dir in ["ukcore", "nhs-api"] {
        let mut stack = vec![fixtures().join(dir)];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "json" || x == "ndjson") {
                    files.push(p);
                }
            }
        }
    }
    assert!(files.len() > 200, "expected the shared examples, found {}", files.len());
    let (mut accepted, mut held, mut refused) = (0, 0, 0);
    for f in files {
        match k.import(&access, request(&f, Some(SourceKind::Hospital), Some("Examples"))).await {
            Ok(ImportOutcome::Accepted(_)) => accepted += 1,
            Ok(ImportOutcome::Held { .. }) => held += 1,
            Ok(ImportOutcome::Refused { reason, .. }) => {
                assert!(!reason.trim().is_empty(), "{}: refused without a reason", f.display());
                refused += 1;
            }
            Err(e) => panic!("{}: import failed: {e:?}", f.display()),
        }
    }
    assert!(accepted > 0 && held > 0 && refused > 0, "accepted {accepted}, held {held}, refused {refused}");
}

/// A resource amended without changing what it is about (the same
/// condition, now resolved) updates the entry it states, when no other
/// source states that entry: the record does not go on showing it as active.
async fn an_amended_status_shows_on_its_entry(db: &TestDb) {
    let k = &db.kith;
    let m = manifest("ray");
    let access = patient_record(k, &m).await;
    let bundle = |status: &str| {
        serde_json::json!({ "resourceType": "Bundle", "type": "collection", "entry": [
            { "resource": { "resourceType": "Patient", "id": "p", "identifier": [{ "system": "https://fhir.nhs.uk/Id/nhs-number", "value": m["nhs_number"] }] } },
            { "resource": { "resourceType": "Condition", "id": "gout", "subject": { "reference": "Patient/p" }, "onsetDateTime": "2024-02-01",
                "clinicalStatus": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": status }] },
                "code": { "coding": [{ "system": "http://snomed.info/sct", "code": "90560007", "display": "Gout" }], "text": "Gout" } } },
            { "resource": { "resourceType": "Condition", "id": "low-mood", "subject": { "reference": "Patient/p" }, "onsetDateTime": "2024-03-01",
                "clinicalStatus": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": status }] },
                "code": { "coding": [{ "system": "http://snomed.info/sct", "code": "35489007", "display": "Depressive disorder" }], "text": "Depressive disorder" } } }
        ] })
    };
    let send = |b: Value| ImportRequest {
        file_name: "gp.json".into(),
        bytes: serde_json::to_vec(&b).unwrap(),
        source_kind: Some(SourceKind::Gp),
        source_name: Some("Test Surgery".into()),
        max_bytes: MAX,
    };
    assert!(matches!(k.import(&access, send(bundle("active"))).await.unwrap(), ImportOutcome::Accepted(_)));
    let gout = |record: Vec<kith_core::record::RecordEntry>| record.into_iter().filter(|e| e.display == "Gout").collect::<Vec<_>>();
    let before = gout(k.record(&access).await.unwrap());
    assert_eq!(before.len(), 1);
    // The patient files the mental health entry under another label of her choosing.
    let mood = |record: Vec<kith_core::record::RecordEntry>| record.into_iter().find(|e| e.display == "Depressive disorder").unwrap();
    let mood_before = mood(k.record(&access).await.unwrap());
    assert_eq!(mood_before.label, "mental-health");
    let owner = k.open_record(&Principal::Operator, &NhsNumber::parse(m["nhs_number"].as_str().unwrap()).unwrap(), Right::Manage).await.unwrap();
    k.relabel_entry(&owner, &mood_before.id, "sexual-health").await.unwrap();
    match k.import(&access, send(bundle("resolved"))).await.unwrap() {
        ImportOutcome::Accepted(s) => assert_eq!((s.new, s.changed), (0, 2), "{s:?}"),
        other => panic!("{other:?}"),
    }
    let after = gout(k.record(&access).await.unwrap());
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].id, before[0].id, "the same entry");
    assert_eq!(after[0].status.as_deref(), Some("resolved"));
    assert!(!k.summary(&access).await.unwrap().problems.iter().any(|c| c.text == "Gout"), "no longer a current problem");
    let mood_after = mood(k.record(&access).await.unwrap());
    assert_eq!((mood_after.id, mood_after.status.as_deref()), (mood_before.id, Some("resolved")));
    assert_eq!(mood_after.label, "sexual-health", "the label she chose stays");
}

/// FHIR lets a condition have no date at all: it is shown as undated, on
/// every page, on both databases (it was once stored as NULL, which the
/// pages could not read).
async fn an_undated_fact_is_shown_as_undated(db: &TestDb) {
    let k = &db.kith;
    let m = manifest("ray");
    let access = patient_record(k, &m).await;
    let bundle = serde_json::json!({ "resourceType": "Bundle", "type": "collection", "entry": [
        { "resource": { "resourceType": "Patient", "id": "p", "identifier": [{ "system": "https://fhir.nhs.uk/Id/nhs-number", "value": m["nhs_number"] }] } },
        { "resource": { "resourceType": "Condition", "id": "c", "code": { "text": "Gout" }, "subject": { "reference": "Patient/p" } } }
    ] });
    let req = ImportRequest {
        file_name: "gp.json".into(),
        bytes: serde_json::to_vec(&bundle).unwrap(),
        source_kind: Some(SourceKind::Gp),
        source_name: Some("Test Surgery".into()),
        max_bytes: MAX,
    };
    assert!(matches!(k.import(&access, req).await.unwrap(), ImportOutcome::Accepted(_)));
    let gout = k.summary(&access).await.unwrap().problems.into_iter().find(|c| c.text == "Gout").expect("on the summary");
    assert_eq!(gout.date, None);
    let timeline = k.timeline(&access, &Default::default()).await.unwrap();
    let (heading, _) = timeline.days.iter().find(|(_, cards)| cards.iter().any(|c| c.id == gout.id)).expect("on the timeline");
    assert_eq!(heading, "Undated");
    assert_eq!(k.entry(&access, &gout.id).await.unwrap().card.date, None);
}

backend_tests!(
    an_undated_fact_is_shown_as_undated,
    an_amended_status_shows_on_its_entry,
    an_amended_fact_keeps_its_entry_comments_and_label,
    files_started_together_are_stored_in_order,
    every_shared_example_is_accepted_held_or_refused,
    merged_view_matches_each_manifest,
    reimport_is_idempotent_and_changes_make_versions,
    bad_files_are_refused_whole_and_change_nothing,
    feed_without_nhs_number_is_held,
    a_new_source_needs_a_kind,
    export_has_every_original_and_a_provenance_per_source,
);

/// A source corrects a fact so that it is now another fact (a new code):
/// the entry it alone stated takes the new fact and keeps its id, so the
/// comments on it and the label the patient gave it stay. A fact corrected
/// into one another entry already shows hands that entry its comments and
/// (stricter) label. Nothing anyone wrote is dropped.
async fn an_amended_fact_keeps_its_entry_comments_and_label(db: &TestDb) {
    let k = &db.kith;
    let m = manifest("ray");
    let access = patient_record(k, &m).await;
    import_sources(k, &access, "ray", &m).await;
    let gp = &m["sources"][0];
    let path = fixtures().join("multiprovider/ray").join(gp["file"].as_str().unwrap());
    let mut bundle: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let record = k.record(&access).await.unwrap();
    // Conditions only the GP states, each in its own entry.
    let gp_only: Vec<_> = record
        .iter()
        .filter(|e| e.kind == "condition" && e.sources.len() == 1 && e.sources[0].resource_type == "Condition")
        .filter(|e| bundle["entry"].as_array().unwrap().iter().any(|x| x["resource"]["id"] == e.sources[0].id.as_str()))
        .collect();
    assert!(gp_only.len() >= 4, "the fixture has GP-only conditions");
    let (a, b, c) = (gp_only[0].clone(), gp_only[1].clone(), gp_only[2].clone());
    let d = gp_only[3..].iter().find(|e| e.display != a.display).map(|e| (*e).clone()).expect("another GP-only condition");
    let commenting = k.open_record(&Principal::Operator, &NhsNumber::parse(m["nhs_number"].as_str().unwrap()).unwrap(), Right::Manage).await.unwrap();
    k.add_comment(&commenting, &a.id, "Diagnosed after the fall in March.").await.unwrap();
    k.relabel_entry(&commenting, &a.id, "mental-health").await.unwrap();
    k.add_comment(&commenting, &b.id, "Ask about this at the next review.").await.unwrap();
    k.relabel_entry(&commenting, &b.id, "private").await.unwrap();
    k.add_comment(&commenting, &d.id, "Better since the new inhaler.").await.unwrap();

    let before_same = record.iter().filter(|e| e.display == a.display).count();
    let at = |bundle: &Value, id: &str| bundle["entry"].as_array().unwrap().iter().position(|x| x["resource"]["id"] == id).unwrap();
    let (ia, ib, ic, id) = (at(&bundle, &a.sources[0].id), at(&bundle, &b.sources[0].id), at(&bundle, &c.sources[0].id), at(&bundle, &d.sources[0].id));
    // D: corrected into a mental health diagnosis, which is labelled so.
    bundle["entry"][id]["resource"]["code"] = serde_json::json!({"coding": [{"system": "http://snomed.info/sct", "code": "35489007", "display": "Depressive disorder"}], "text": "Depressive disorder"});
    // A: a corrected code. B: corrected into C (C's code and dates).
    bundle["entry"][ia]["resource"]["code"] = serde_json::json!({"coding": [{"system": "http://snomed.info/sct", "code": "73211009", "display": "Diabetes mellitus"}], "text": "Diabetes mellitus (corrected)"});
    let rc = bundle["entry"][ic]["resource"].clone();
    let rb = &mut bundle["entry"][ib]["resource"];
    for field in ["code", "onsetDateTime", "onsetPeriod", "recordedDate", "abatementDateTime"] {
        match rc.get(field) {
            Some(v) => rb[field] = v.clone(),
            None => {
                rb.as_object_mut().unwrap().remove(field);
            }
        }
    }
    let req = ImportRequest {
        file_name: "gp-corrected.json".into(),
        bytes: serde_json::to_vec(&bundle).unwrap(),
        source_kind: None,
        source_name: None,
        max_bytes: MAX,
    };
    match k.import(&access, req).await.unwrap() {
        ImportOutcome::Accepted(s) => assert_eq!((s.new, s.changed), (0, 3), "{s:?}"),
        other => panic!("{other:?}"),
    }
    let record = k.record(&access).await.unwrap();
    let a2 = record.iter().find(|e| e.id == a.id).expect("the amended entry keeps its id");
    assert_eq!(a2.display, "Diabetes mellitus (corrected)");
    assert_eq!(a2.label, "mental-health", "the patient's label stays");
    assert_eq!(record.iter().filter(|e| e.display == a.display).count(), before_same - 1, "no copy of the old fact is left");
    let comments = k.comments(&commenting, &a.id).await.unwrap().comments;
    assert_eq!(comments.iter().map(|c| c.body.as_str()).collect::<Vec<_>>(), ["Diagnosed after the fall in March."]);

    assert!(record.iter().all(|e| e.id != b.id), "B's fact is now C's: one entry");
    let c2 = record.iter().find(|e| e.id == c.id).unwrap();
    assert_eq!(c2.sources.len(), 2, "both GP resources state C");
    assert_eq!(c2.label, "private", "B's stricter label goes with it");
    let comments = k.comments(&commenting, &c.id).await.unwrap().comments;
    assert!(comments.iter().any(|c| c.body == "Ask about this at the next review."), "B's comment moved to C");

    // D's fact now has a label of its own: it is a new entry, so nothing
    // shared as D (on its own, or as a general entry) shows it; D's comment
    // goes with it.
    assert!(record.iter().all(|e| e.id != d.id), "D's id is not reused for a mental health diagnosis");
    let d2 = record.iter().find(|e| e.display == "Depressive disorder" && e.sources.iter().any(|s| s.id == d.sources[0].id)).unwrap();
    assert_eq!(d2.label, "mental-health");
    let comments = k.comments(&commenting, &d2.id).await.unwrap().comments;
    assert_eq!(comments.iter().map(|c| c.body.as_str()).collect::<Vec<_>>(), ["Better since the new inhaler."]);
    assert!(k.verify_chain(access.patient_id()).await.unwrap().ok());
}

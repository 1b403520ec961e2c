//! The three synthetic patients of fixtures/multiprovider, checked against
//! their manifests: parsing, identity, references, and merge keys.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};

use common::*;
use kith_fhir::*;
use kith_types::NhsNumber;
use serde_json::Value;

#[test]
fn every_source_parses_with_the_manifest_counts_and_identity() {
    for patient in PATIENTS {
        let m = manifest(patient);
        let nhs = NhsNumber::parse(m["nhs_number"].as_str().unwrap()).unwrap();
        let given = m["name"]["given"][0].as_str().unwrap();
        let family = m["name"]["family"].as_str().unwrap();
        for s in m["sources"].as_array().unwrap() {
            let file = s["file"].as_str().unwrap();
            let feed = feed(patient, file);
            assert!(matches!(feed.kind, FeedKind::Bundle { .. }), "{patient}/{file}");

            let mut counts: BTreeMap<String, u64> = BTreeMap::new();
            for r in &feed.resources {
                *counts.entry(r.resource_type.clone()).or_default() += 1;
            }
            let expected: BTreeMap<String, u64> = s["resource_counts"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_u64().unwrap())).collect();
            assert_eq!(counts, expected, "{patient}/{file}");

            assert_eq!(check_identity(&feed, &nhs), Identity::Matches, "{patient}/{file}");
            let people = patients(&feed);
            assert_eq!(people.len(), 1, "{patient}/{file}");
            assert_eq!(people[0].name.as_deref(), Some(format!("{given} {family}").as_str()));
            assert_eq!(people[0].birth_date.as_deref(), m["birth_date"].as_str());
            assert_eq!(people[0].nhs_numbers, vec![nhs.as_str().to_string()]);

            let org = source_organisation(&feed).expect("source organisation");
            assert_eq!(org.name, s["name"].as_str().unwrap(), "{patient}/{file}");
            assert!(org.identifier.is_some());
        }
    }
}

#[test]
fn ndjson_is_the_same_feed_as_its_bundle() {
    for patient in PATIENTS {
        let m = manifest(patient);
        for (ndjson, bundle) in m["same_as"].as_object().unwrap() {
            let a = feed(patient, ndjson);
            let b = feed(patient, bundle.as_str().unwrap());
            assert_eq!(a.kind, FeedKind::Ndjson);
            assert_eq!(a.resources.len(), b.resources.len(), "{patient}");
            for (x, y) in a.resources.iter().zip(&b.resources) {
                assert_eq!((&x.resource_type, &x.id), (&y.resource_type, &y.id));
                assert_eq!(x.json, y.json, "{patient} {}/{}", x.resource_type, x.id);
                assert!(matches!(x.location, Location::Line(_)));
            }
            let nhs = NhsNumber::parse(m["nhs_number"].as_str().unwrap()).unwrap();
            assert_eq!(check_identity(&a, &nhs), Identity::Matches);
        }
    }
}

#[test]
fn must_refuse_files_are_refused() {
    for patient in PATIENTS {
        let m = manifest(patient);
        let nhs = NhsNumber::parse(m["nhs_number"].as_str().unwrap()).unwrap();
        let refuse = m["must_refuse"].as_object().unwrap();

        // The wrong patient: parses, but names another valid NHS Number.
        let why = refuse["bad-wrong-patient.json"].as_str().unwrap();
        let other: String = why.split_whitespace().find(|w| w.len() == 10 && w.bytes().all(|b| b.is_ascii_digit())).unwrap().into();
        let wrong = feed(patient, "bad-wrong-patient.json");
        assert_eq!(check_identity(&wrong, &nhs), Identity::Other { found: other }, "{patient}");

        // The truncated file: invalid JSON that says it looks cut short.
        let bytes = read(&patient_dir(patient).join("bad-truncated.json"));
        let err = parse_feed(&bytes, MAX).unwrap_err();
        assert!(matches!(err, FeedError::InvalidJson { truncated: true, .. }), "{patient}: {err:?}");
        let msg = err.to_string();
        assert!(msg.contains("truncated") && msg.contains("line"), "{msg}");
    }
}

#[test]
fn references_resolve_within_each_feed() {
    for patient in PATIENTS {
        let m = manifest(patient);
        for (file, _, kind) in sources(&m) {
            let feed = feed(patient, &file);
            let ix = RefIndex::new(&feed);
            let patient_res = feed.resources.iter().find(|r| r.resource_type == "Patient").unwrap();
            // Every subject reference, urn:uuid or relative, finds the Patient.
            let mut subjects = 0;
            for r in &feed.resources {
                if let Some(s) = r.json.get("subject").and_then(|s| s["reference"].as_str()) {
                    assert_eq!(ix.resolve(s), Some(("Patient".into(), patient_res.id.clone())), "{s}");
                    subjects += 1;
                }
            }
            assert!(subjects > 0);
            // What does not resolve points into another provider's feed: the
            // hospital and community copies keep the GP's urn:uuid reasons.
            let missing = unresolved(&feed);
            for (rt, id, reference) in &missing {
                assert!(reference.starts_with("urn:uuid:"), "{patient}/{file} {rt}/{id} -> {reference}");
            }
            if kind == "gp" {
                assert!(missing.is_empty(), "{patient}/{file}: {missing:?}");
            }
        }
    }
}

/// `(source, id)` as the manifest names a resource.
type Member = (String, String);

struct Normalised {
    facts: HashMap<Member, Fact>,
    /// Union of duplicate groups that share a member: the manifest lists the
    /// GP resource once with the hospital copy and again with the community
    /// copy, so "same fact" is transitive across groups.
    component: HashMap<Member, usize>,
    components: usize,
}

fn normalise_patient(patient: &str, m: &Value) -> Normalised {
    let mut facts = HashMap::new();
    for (file, source, kind) in sources(m) {
        let feed = feed(patient, &file);
        let refs = RefIndex::new(&feed);
        let kind: SourceKind = kind.parse().unwrap();
        for r in &feed.resources {
            if let Some(f) = normalise_in(&feed, &refs, r, kind) {
                assert!(f.merge_key.starts_with(f.kind.as_str()), "{}", f.merge_key);
                assert!(!f.text.is_empty());
                facts.insert((source.clone(), r.id.clone()), f);
            }
        }
    }
    // Union-find over group members.
    let groups = m["duplicate_groups"].as_array().unwrap();
    let mut parent: HashMap<Member, Member> = HashMap::new();
    fn find(p: &mut HashMap<Member, Member>, x: &Member) -> Member {
        let mut cur = x.clone();
        while let Some(next) = p.get(&cur).filter(|n| **n != cur) {
            cur = next.clone();
        }
        cur
    }
    for g in groups {
        let members: Vec<Member> =
            g["members"].as_array().unwrap().iter().map(|x| (x["source"].as_str().unwrap().to_string(), x["id"].as_str().unwrap().to_string())).collect();
        for x in &members {
            parent.entry(x.clone()).or_insert_with(|| x.clone());
        }
        let root = find(&mut parent, &members[0]);
        for x in &members[1..] {
            let r = find(&mut parent, x);
            parent.insert(r, root.clone());
        }
    }
    let mut ids: HashMap<Member, usize> = HashMap::new();
    let mut component = HashMap::new();
    let members: Vec<Member> = parent.keys().cloned().collect();
    for x in members {
        let root = find(&mut parent, &x);
        let n = ids.len();
        let c = *ids.entry(root).or_insert(n);
        component.insert(x, c);
    }
    Normalised { facts, component, components: ids.len() }
}

#[test]
fn duplicate_groups_share_a_merge_key_and_nothing_else_does() {
    for patient in PATIENTS {
        let m = manifest(patient);
        let n = normalise_patient(patient, &m);
        let groups = m["duplicate_groups"].as_array().unwrap();
        assert!(n.components < groups.len(), "{patient}: groups are expected to chain through the GP copy");

        // 1. Every group: one key, and the same compare values unless the
        //    manifest lists the pair as a conflict.
        let conflicting: HashSet<String> = m["conflicts"].as_array().unwrap().iter().flat_map(|c| c["values"].as_object().unwrap().keys().cloned()).collect();
        let mut key_of_component: HashMap<usize, String> = HashMap::new();
        for g in groups {
            let members: Vec<Member> =
                g["members"].as_array().unwrap().iter().map(|x| (x["source"].as_str().unwrap().to_string(), x["id"].as_str().unwrap().to_string())).collect();
            let facts: Vec<&Fact> = members.iter().map(|x| n.facts.get(x).unwrap_or_else(|| panic!("{patient}: {x:?} not normalised"))).collect();
            for (x, f) in members.iter().zip(&facts) {
                assert_eq!(f.merge_key, facts[0].merge_key, "{patient}: {x:?} in group {g}");
                let c = n.component[x];
                let k = key_of_component.entry(c).or_insert_with(|| f.merge_key.clone());
                assert_eq!(*k, f.merge_key);
            }
            if !members.iter().any(|x| conflicting.contains(&x.1)) {
                for f in &facts[1..] {
                    let (mut a, mut b) = (facts[0].compare.clone(), f.compare.clone());
                    a.sort();
                    b.sort();
                    assert_eq!(a, b, "{patient}: plain duplicates must not disagree: {g}");
                }
            }
        }
        // 2. Different components, different keys.
        let distinct: HashSet<&String> = key_of_component.values().collect();
        assert_eq!(distinct.len(), n.components, "{patient}: two groups share a key");

        // 3. Across sources, a shared key means a manifest duplicate.
        let mut by_key: HashMap<&str, Vec<&Member>> = HashMap::new();
        for (member, f) in &n.facts {
            by_key.entry(f.merge_key.as_str()).or_default().push(member);
        }
        for (key, members) in &by_key {
            let sources: HashSet<&String> = members.iter().map(|m| &m.0).collect();
            if sources.len() < 2 {
                continue;
            }
            let comps: HashSet<Option<&usize>> = members.iter().map(|m| n.component.get(*m)).collect();
            assert!(comps.len() == 1 && !comps.contains(&None), "{patient}: {key} merges resources the manifest does not: {members:?}");
        }

        // 4. Plausibility: the merged record is smaller by exactly the
        //    number of cross-source copies, per kind.
        let mut per_kind: BTreeMap<&str, (usize, HashSet<&str>)> = BTreeMap::new();
        for f in n.facts.values() {
            let e = per_kind.entry(f.kind.as_str()).or_default();
            e.0 += 1;
            e.1.insert(&f.merge_key);
        }
        let summary: Vec<String> = per_kind.iter().map(|(k, (all, keys))| format!("{k} {all}->{}", keys.len())).collect();
        eprintln!("{patient}: facts -> distinct keys: {}", summary.join(", "));
    }
}

#[test]
fn conflicts_share_a_key_and_differ_in_the_named_field() {
    for patient in PATIENTS {
        let m = manifest(patient);
        let n = normalise_patient(patient, &m);
        for c in m["conflicts"].as_array().unwrap() {
            let field = c["field"].as_str().unwrap();
            let values = c["values"].as_object().unwrap();
            let facts: Vec<(&Fact, &str)> = values
                .iter()
                .map(|(id, v)| {
                    let f = n.facts.iter().find(|((_, i), _)| i == id).map(|(_, f)| f).unwrap_or_else(|| panic!("{patient}: {id} not found"));
                    (f, v.as_str().unwrap())
                })
                .collect();
            for (f, expected) in &facts {
                assert_eq!(f.merge_key, facts[0].0.merge_key, "{patient}");
                assert_eq!(f.compared(field), Some(*expected), "{patient}: {field}");
            }
            let seen: HashSet<Option<&str>> = facts.iter().map(|(f, _)| f.compared(field)).collect();
            assert!(seen.len() > 1, "{patient}: conflict on {field} not visible");
        }
    }
}

#[test]
fn gp_facts_read_sensibly() {
    let feed = feed("ray", "01-gp-children-s-hospital-pediatric-associates.json");
    let facts: Vec<Fact> = feed.resources.iter().filter_map(|r| normalise(r, SourceKind::Gp)).collect();
    let bp = facts.iter().find(|f| f.codes.iter().any(|c| c.code == "85354-9") && f.kind == FactKind::VitalSign).expect("a blood pressure");
    let value = bp.value.as_deref().unwrap();
    assert!(value.ends_with(" mmHg") && value.contains('/'), "{value}");
    let sumatriptan: Vec<&Fact> = facts.iter().filter(|f| f.text.starts_with("sumatriptan")).collect();
    assert_eq!(sumatriptan.len(), 2, "the GP prescribed it twice");
    assert_ne!(sumatriptan[0].merge_key, sumatriptan[1].merge_key, "2021 and 2023 are different facts");
    let heights = facts.iter().find(|f| f.text == "Body Height").unwrap();
    assert_eq!(heights.unit.as_deref(), Some("cm"));
    assert!(heights.numeric.is_some());
    assert_eq!(heights.category.as_deref(), Some("vital-signs"));
    let lab = facts.iter().find(|f| f.kind == FactKind::Result && f.category.as_deref() == Some("laboratory"));
    assert!(lab.is_some());
    let neck = facts.iter().find(|f| f.codes.iter().any(|c| c.code == "314529007")).unwrap();
    assert_eq!(neck.text, "Medication review due", "semantic tag dropped for reading");
    for f in &facts {
        assert_eq!(f.label, Label::General, "{}: {:?}", f.text, f.codes);
        assert!(!f.codes.is_empty() || f.kind == FactKind::Document, "{} has no codes", f.text);
        assert!(f.date.is_some(), "{} has no date", f.text);
    }
}

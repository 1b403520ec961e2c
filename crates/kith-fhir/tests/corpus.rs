//! Every UK Core example and NHS API example goes through the whole crate
//! without panicking: accepted, or refused with a FeedError.

mod common;

use common::*;
use kith_fhir::*;
use kith_types::NhsNumber;

#[test]
fn ukcore_and_nhs_api_examples_never_panic() {
    let root = fixtures();
    let mut accepted = 0;
    let mut refused = Vec::new();
    let mut facts = 0;
    for dir in ["ukcore", "nhs-api"] {
        for path in files_under(&root.join(dir)) {
            let name = path.strip_prefix(&root).unwrap().display().to_string();
            match parse_feed(&read(&path), MAX) {
                Ok(feed) => {
                    accepted += 1;
                    let _ = patients(&feed);
                    let _ = source_organisation(&feed);
                    let _ = unresolved(&feed);
                    let refs = RefIndex::new(&feed);
                    for r in &feed.resources {
                        if let Some(f) = normalise_in(&feed, &refs, r, SourceKind::Hospital) {
                            assert!(!f.text.is_empty(), "{name}");
                            assert!(f.merge_key.starts_with(f.kind.as_str()), "{name}");
                            facts += 1;
                        }
                    }
                }
                Err(e) => {
                    assert!(!e.to_string().is_empty());
                    refused.push(format!("{name}: {e}"));
                }
            }
        }
    }
    eprintln!("accepted {accepted}, facts {facts}, refused {}:\n{}", refused.len(), refused.join("\n"));
    assert!(accepted > 220, "most examples are valid R4");
    // The only refusal: a batch of GET requests, which carries no records.
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(refused[0].contains("UKCore-Bundle-Batch-Example") && refused[0].contains("GET"));
}

#[test]
fn known_traps_in_the_examples() {
    let root = fixtures();
    let me = NhsNumber::parse("9000000009").unwrap();
    // The baby's NHS Number fails modulus 11 (kept upstream on purpose).
    let baby = parse_feed(&read(&root.join("ukcore/UKCore-Patient-BabyPatient-Example.json")), MAX).unwrap();
    assert_eq!(check_identity(&baby, &me), Identity::Invalid { value: "9912003890".into() });
    // PDS test patient.
    let pds = parse_feed(&read(&root.join("nhs-api/pds/Patient.json")), MAX).unwrap();
    assert_eq!(check_identity(&pds, &me), Identity::Matches);
    // EPS message bundles: no ids (synthetic ones), urn:uuid references.
    let eps = root.join("nhs-api/eps/primary-care__acute__nominated-pharmacy__medical-prescriber__1-Process-Request-Send-200_OK.json");
    let feed = parse_feed(&read(&eps), MAX).unwrap();
    assert!(feed.resources.iter().filter(|r| r.resource_type != "Provenance").all(|r| r.synthetic_id));
    assert!(unresolved(&feed).iter().all(|(_, _, r)| !r.starts_with("urn:uuid:")), "{:?}", unresolved(&feed));
    let meds: Vec<Fact> = feed.resources.iter().filter_map(|r| normalise(r, SourceKind::Gp)).collect();
    assert_eq!(meds.len(), 4);
    assert!(meds.iter().all(|m| m.kind == FactKind::Medication && m.merge_key.contains("|sct:")));
    assert_eq!(source_organisation(&feed).map(|o| o.identifier.is_some()), Some(true));
}

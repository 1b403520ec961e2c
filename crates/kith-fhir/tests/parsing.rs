//! parse_feed on hand-made input: formats, refusals and their messages.

use kith_fhir::*;
use serde_json::json;

const MAX: usize = 1024 * 1024;

fn parse(s: &str) -> Result<Feed, FeedError> {
    parse_feed(s.as_bytes(), MAX)
}

fn err(s: &str) -> (FeedError, String) {
    let e = parse(s).expect_err("should be refused");
    let msg = e.to_string();
    (e, msg)
}

#[test]
fn single_resource_bundle_and_ndjson_are_told_apart() {
    let single = parse(r#"{"resourceType":"Patient","id":"p1"}"#).unwrap();
    assert_eq!(single.kind, FeedKind::Single);
    assert_eq!(single.resources[0].id, "p1");
    assert_eq!(single.resources[0].location, Location::File);

    for bundle_type in ["collection", "searchset", "transaction", "document", "message", "batch"] {
        let b = json!({"resourceType": "Bundle", "type": bundle_type, "entry": [
            {"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Patient", "id": "p1"}}
        ]});
        let feed = parse(&b.to_string()).unwrap();
        assert_eq!(feed.kind, FeedKind::Bundle { bundle_type: Some(bundle_type.into()) });
        assert_eq!(feed.resources[0].full_url.as_deref(), Some("urn:uuid:1"));
    }

    let nd = "\u{feff}{\"resourceType\":\"Patient\",\"id\":\"p1\"}\n\n  \n{\"resourceType\":\"Observation\",\"id\":\"o1\"}\r\n";
    let feed = parse(nd).unwrap();
    assert_eq!(feed.kind, FeedKind::Ndjson);
    assert_eq!(feed.resources.len(), 2);
    assert_eq!(feed.resources[1].location, Location::Line(4));
    assert_eq!(feed.resources[1].index, 1);

    // A pretty-printed Bundle stays one document.
    let pretty = serde_json::to_string_pretty(&json!({"resourceType": "Bundle", "type": "collection"})).unwrap();
    let feed = parse(&pretty).unwrap();
    assert!(feed.resources.is_empty());
}

#[test]
fn empty_and_too_large() {
    assert_eq!(parse("").unwrap_err(), FeedError::Empty);
    assert_eq!(parse(" \n\t ").unwrap_err(), FeedError::Empty);

    let big = vec![b' '; 3 * 1024 * 1024];
    let e = parse_feed(&big, 2 * 1024 * 1024).unwrap_err();
    assert_eq!(e, FeedError::TooLarge { size: 3 * 1024 * 1024, max: 2 * 1024 * 1024 });
    let msg = e.to_string();
    assert!(msg.contains("3.0 MB") && msg.contains("2.0 MB"), "{msg}");
    // Sizes that round alike get more decimals.
    let msg = parse_feed(&vec![b' '; 10_500_000], 10_485_760).unwrap_err().to_string();
    assert!(msg.contains("10.01 MB") && msg.contains("10.00 MB"), "{msg}");
}

#[test]
fn invalid_json_names_line_and_column() {
    let (e, msg) = err("{\n  \"resourceType\": \"Patient\",\n  \"id\": p1\n}");
    assert!(matches!(e, FeedError::InvalidJson { line: 3, truncated: false, .. }), "{e:?}");
    assert!(msg.contains("not valid JSON") && msg.contains("line 3"), "{msg}");

    let (e, msg) = err("{\"resourceType\": \"Bundle\", \"entry\": [");
    assert!(matches!(e, FeedError::InvalidJson { truncated: true, .. }), "{e:?}");
    assert!(msg.contains("truncated"), "{msg}");

    // NDJSON: the line number is the file's line.
    let (e, msg) = err("{\"resourceType\":\"Patient\"}\n{\"resourceType\":\"Patient\",}\n");
    assert!(matches!(e, FeedError::InvalidJson { at: Location::Line(2), .. }), "{e:?}");
    assert!(msg.starts_with("Line 2"), "{msg}");

    let (_, msg) = err("{\n\"resourceType\":\"Patient\"\n}\n{}");
    assert!(msg.contains("more content after the end"), "{msg}");
}

#[test]
fn json_that_is_not_fhir() {
    for (input, says) in
        [("[1, 2, 3]", "JSON array"), ("42", "number"), ("\"hello\"", "text"), ("{\"name\": \"x\"}", "resourceType"), ("{\"resourceType\": 7}", "resourceType")]
    {
        let (e, msg) = err(input);
        assert!(matches!(e, FeedError::NotFhir { .. }), "{input}: {e:?}");
        assert!(msg.contains("not FHIR") && msg.contains(says), "{input}: {msg}");
    }
    let (e, msg) = err("{\"resourceType\":\"Patient\"}\n{\"hello\": 1}\n");
    assert!(matches!(e, FeedError::NotFhir { at: Location::Line(2), .. }), "{e:?}");
    assert!(msg.contains("line 2"), "{msg}");
}

#[test]
fn fhir_that_is_not_r4_shaped() {
    let cases = [
        (json!({"resourceType": "Patientt"}), "resourceType", "Patientt"),
        (json!({"resourceType": "Ingredient", "id": "x"}), "resourceType", "R4"),
        (json!({"resourceType": "Bundle", "type": "collection", "entry": {"resource": {}}}), "Bundle.entry", "list"),
        (json!({"resourceType": "Bundle", "type": "collection", "entry": [{"fullUrl": "urn:uuid:1"}]}), "Bundle.entry[0]", "no resource"),
        (json!({"resourceType": "Bundle", "type": "batch", "entry": [{"request": {"method": "GET", "url": "Patient/1"}}]}), "Bundle.entry[0]", "GET Patient/1"),
        (
            json!({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "Patient", "id": "a b"}}]}),
            "Bundle.entry[0].resource.id",
            "\"a b\"",
        ),
        (
            json!({"resourceType": "Bundle", "type": "collection", "entry": [{}, {"resource": {"resourceType": "Patient", "id": 12}}]}),
            "Bundle.entry[0]",
            "no resource",
        ),
        (
            json!({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "Patient", "id": 12}}]}),
            "Bundle.entry[0].resource.id",
            "number",
        ),
        (
            json!({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "Patient", "meta": "x"}}]}),
            "Bundle.entry[0].resource.meta",
            "object",
        ),
        (json!({"resourceType": "Patient", "id": "x".repeat(65)}), "id", "valid FHIR id"),
        (json!({"resourceType": "Bundle", "id": "b_1", "type": "collection"}), "Bundle.id", "b_1"),
    ];
    for (input, field, says) in cases {
        let (e, msg) = err(&input.to_string());
        assert!(matches!(e, FeedError::NotR4 { .. }), "{input}: {e:?}");
        assert!(msg.contains(field) && msg.contains(says), "{input}: {msg}");
    }
}

#[test]
fn duplicate_ids_name_both_entries() {
    let b = json!({"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Patient", "id": "p1"}},
        {"resource": {"resourceType": "Observation", "id": "o1"}},
        {"resource": {"resourceType": "Observation", "id": "p1"}},
        {"resource": {"resourceType": "Patient", "id": "p1"}},
    ]});
    let (e, msg) = err(&b.to_string());
    assert_eq!(e, FeedError::DuplicateId { resource_type: "Patient".into(), id: "p1".into(), first: Location::Entry(0), second: Location::Entry(3) });
    assert!(msg.contains("Bundle.entry[0]") && msg.contains("Bundle.entry[3]"), "{msg}");

    let (_, msg) = err("{\"resourceType\":\"Patient\",\"id\":\"a\"}\n{\"resourceType\":\"Patient\",\"id\":\"a\"}");
    assert!(msg.contains("line 1") && msg.contains("line 2"), "{msg}");
}

#[test]
fn resources_without_id_get_a_stable_synthetic_one() {
    let a = parse(r#"{"resourceType":"Observation","status":"final","code":{"text":"x"}}"#).unwrap();
    // Same content, other key order and spacing: same id.
    let b = parse("{ \"code\": {\"text\": \"x\"}, \"status\": \"final\",\n \"resourceType\": \"Observation\" }").unwrap();
    let id = &a.resources[0].id;
    assert!(a.resources[0].synthetic_id);
    assert_eq!(id, &b.resources[0].id);
    assert!(id.starts_with("kith-") && id.len() == 5 + 32, "{id}");
    assert!(is_valid_id(id));
    let c = parse(r#"{"resourceType":"Observation","status":"amended","code":{"text":"x"}}"#).unwrap();
    assert_ne!(id, &c.resources[0].id);

    // Two identical id-less resources in one file are both kept.
    let obs = json!({"resourceType": "Observation", "status": "final"});
    let b = json!({"resourceType": "Bundle", "type": "batch", "entry": [{"resource": obs}, {"resource": obs}]});
    let feed = parse(&b.to_string()).unwrap();
    assert_eq!(feed.resources.len(), 2);
    assert_ne!(feed.resources[0].id, feed.resources[1].id);
}

#[test]
fn resources_are_kept_verbatim_and_nested_content_stays_nested() {
    let inner = json!({"resourceType": "Bundle", "type": "message", "entry": [
        {"fullUrl": "urn:uuid:mh", "resource": {"resourceType": "MessageHeader", "focus": [{"reference": "urn:uuid:pt"}]}},
        {"fullUrl": "urn:uuid:pt", "resource": {"resourceType": "Patient",
            "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "943 476 5919"}],
            "name": [{"use": "usual", "given": ["Ann"], "family": "Other"}, {"use": "official", "given": ["Anne", "M"], "family": "Smith"}],
            "birthDate": "1980-01-02"}}
    ]});
    let cond = json!({"resourceType": "Condition", "id": "c1",
        "contained": [{"resourceType": "Practitioner", "id": "dr"}],
        "asserter": {"reference": "#dr"},
        "subject": {"reference": "Patient/elsewhere"}});
    let outer = json!({"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": inner.clone()}, {"resource": cond.clone()}
    ]});
    let feed = parse(&outer.to_string()).unwrap();
    assert_eq!(feed.resources.len(), 2, "nested resources are not flattened");
    assert_eq!(feed.resources[0].json, inner);
    assert_eq!(feed.resources[1].json, cond);

    let people = patients(&feed);
    assert_eq!(people.len(), 1);
    assert_eq!(people[0].nhs_numbers, vec!["9434765919".to_string()]);
    assert_eq!(people[0].name.as_deref(), Some("Anne M Smith"));
    let me = kith_types::NhsNumber::parse("9434765919").unwrap();
    assert_eq!(check_identity(&feed, &me), Identity::Matches);

    // References: the message header's focus resolves inside the nested
    // Bundle; the contained one resolves in place; Patient/elsewhere does not.
    let missing = unresolved(&feed);
    assert_eq!(missing, vec![("Condition".into(), "c1".into(), "Patient/elsewhere".into())]);
}

#[test]
fn references_in_every_style() {
    let b = json!({"resourceType": "Bundle", "type": "searchset", "entry": [
        {"fullUrl": "https://gp.example.nhs.uk/fhir/Patient/p1", "resource": {"resourceType": "Patient", "id": "p1"}},
        {"fullUrl": "urn:uuid:8a5b0c44-0000-4000-8000-000000000001", "resource": {"resourceType": "Organization", "id": "o1"}},
        {"resource": {"resourceType": "Observation", "id": "x",
            "subject": {"reference": "Patient/p1"},
            "performer": [{"reference": "urn:uuid:8a5b0c44-0000-4000-8000-000000000001"}, {"reference": "https://other.example/fhir/Organization/o1/_history/3"}],
            "derivedFrom": [{"reference": "#c"}, {"reference": "Observation/missing"}],
            "basedOn": [{"display": "no reference here"}]}}
    ]});
    let feed = parse(&b.to_string()).unwrap();
    let ix = RefIndex::new(&feed);
    let p = Some(("Patient".to_string(), "p1".to_string()));
    let o = Some(("Organization".to_string(), "o1".to_string()));
    assert_eq!(ix.resolve("Patient/p1"), p);
    assert_eq!(ix.resolve("https://gp.example.nhs.uk/fhir/Patient/p1"), p);
    assert_eq!(ix.resolve("https://gp.example.nhs.uk/fhir/Patient/p1/_history/2"), p);
    assert_eq!(ix.resolve("urn:uuid:8a5b0c44-0000-4000-8000-000000000001"), o);
    assert_eq!(ix.resolve("Organization/o1"), o);
    assert_eq!(ix.resolve("#c"), None);
    assert_eq!(ix.resolve("urn:uuid:nope"), None);
    assert_eq!(ix.resolve("Patient?identifier=x"), None);
    assert_eq!(references(&feed.resources[2].json).len(), 5);
    let missing = unresolved(&feed);
    assert_eq!(missing, vec![("Observation".into(), "x".into(), "Observation/missing".into())]);
}

#[test]
fn identity_outcomes() {
    let me = kith_types::NhsNumber::parse("9434765919").unwrap();
    let patient = |ids: serde_json::Value| {
        parse(
            &json!({"resourceType": "Patient", "id": "p", "identifier": ids,
            "name": [{"given": ["Jo"], "family": "Bloggs"}], "birthDate": "1990-05-06"})
            .to_string(),
        )
        .unwrap()
    };
    let nhs = |v: &str| json!({"system": "https://fhir.nhs.uk/Id/nhs-number", "value": v});

    assert_eq!(check_identity(&patient(json!([nhs("943 476 5919")])), &me), Identity::Matches);
    assert_eq!(check_identity(&patient(json!([nhs("9000000009")])), &me), Identity::Other { found: "9000000009".into() });
    assert_eq!(check_identity(&patient(json!([nhs("9434765918")])), &me), Identity::Invalid { value: "9434765918".into() });
    assert_eq!(
        check_identity(&patient(json!([{"system": "https://example/mrn", "value": "1"}])), &me),
        Identity::Missing { name: Some("Jo Bloggs".into()), birth_date: Some("1990-05-06".into()) }
    );
    // Someone else's number anywhere in the file wins over a match.
    let two = json!({"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Patient", "id": "a", "identifier": [nhs("9434765919")]}},
        {"resource": {"resourceType": "Patient", "id": "b", "identifier": [nhs("9000000009")]}},
    ]});
    let feed = parse(&two.to_string()).unwrap();
    assert_eq!(check_identity(&feed, &me), Identity::Other { found: "9000000009".into() });

    // Clinical resources that name their patient by NHS Number count too:
    // my Patient with someone else's results is someone else's data.
    let obs = |n: &str| {
        json!({"resourceType": "Observation", "id": format!("o{n}"), "status": "final",
        "code": {"text": "Sodium"}, "subject": {"identifier": nhs(n)}})
    };
    let mixed = json!({"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Patient", "id": "a", "identifier": [nhs("9434765919")]}},
        {"resource": obs("9000000009")},
    ]});
    assert_eq!(check_identity(&parse(&mixed.to_string()).unwrap(), &me), Identity::Other { found: "9000000009".into() });
    // An NDJSON file with no Patient is identified by its references.
    let ndjson = |n: &str| format!("{}\n{}\n", obs(n), json!({"resourceType": "AllergyIntolerance", "id": "c", "patient": {"identifier": nhs(n)}}));
    assert_eq!(check_identity(&parse(&ndjson("9000000009")).unwrap(), &me), Identity::Other { found: "9000000009".into() });
    assert_eq!(check_identity(&parse(&ndjson("9434765919")).unwrap(), &me), Identity::Matches);
    // A contained Patient is a Patient.
    let contained = json!({"resourceType": "Observation", "id": "o", "status": "final", "code": {"text": "Sodium"},
        "contained": [{"resourceType": "Patient", "id": "p", "identifier": [nhs("9000000009")]}], "subject": {"reference": "#p"}});
    assert_eq!(check_identity(&parse(&contained.to_string()).unwrap(), &me), Identity::Other { found: "9000000009".into() });
}

#[test]
fn source_organisation_choices() {
    // Several organisations: the one most referenced as an actor wins.
    let b = json!({"resourceType": "Bundle", "type": "collection", "meta": {"source": "https://trust.example.nhs.uk/fhir"}, "entry": [
        {"resource": {"resourceType": "Organization", "id": "lab", "name": "Path Lab"}},
        {"resource": {"resourceType": "Organization", "id": "gp", "name": "Hill Surgery",
            "identifier": [{"system": "https://example/other", "value": "X"}, {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "A12345"}]}},
        {"resource": {"resourceType": "Encounter", "id": "e1", "serviceProvider": {"reference": "Organization/gp"}}},
        {"resource": {"resourceType": "Procedure", "id": "p1", "performer": [{"actor": {"reference": "Organization/gp"}}]}},
        {"resource": {"resourceType": "Observation", "id": "o1", "performer": [{"reference": "Organization/lab"}]}},
    ]});
    let feed = parse(&b.to_string()).unwrap();
    assert_eq!(source_organisation(&feed), Some(SourceOrg { name: "Hill Surgery".into(), identifier: Some("A12345".into()) }));
    // No Organization: fall back to meta.source.
    let b = json!({"resourceType": "Bundle", "type": "collection", "meta": {"source": "https://trust.example.nhs.uk/fhir"}, "entry": []});
    let org = source_organisation(&parse(&b.to_string()).unwrap()).unwrap();
    assert_eq!(org.name, "trust.example.nhs.uk");
    let nd = "{\"resourceType\":\"Observation\",\"meta\":{\"source\":\"https://app.example.com/x\"}}\n{\"resourceType\":\"Patient\"}";
    assert_eq!(source_organisation(&parse(nd).unwrap()).unwrap().name, "app.example.com");
    assert_eq!(source_organisation(&parse("{\"resourceType\":\"Patient\"}").unwrap()), None);
}

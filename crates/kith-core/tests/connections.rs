//! Provider connections seen from the record (the protocol is tested against
//! a real FHIR server in the browser tests): who may connect, tokens sealed
//! at rest and bound to their row, disconnect deleting them, and scheduling.

use kith_core::connections::PullResult;
use kith_core::policy::{Principal, Right};
use kith_core::testing::{not_found, user, TestDb};
use kith_core::{backend_tests, NewUser};

const TOKENS: &str = r#"{"access":"secret-access-token-123","refresh":"secret-refresh-token-456","expires_at_ms":null,"patient":"p1"}"#;

async fn margaret(db: &TestDb) -> kith_core::Actor {
    db.kith
        .create_user(NewUser {
            name: "Margaret Jones".into(),
            email: "margaret@example.com".into(),
            password: "kettle orange stairs".into(),
            role: "patient".into(),
            nhs_number: "9434765919".into(),
            birth_date: "1948-03-27".into(),
            organisation: String::new(),
        })
        .await
        .unwrap()
}

async fn tokens_are_sealed_at_rest_and_open_only_for_their_row(db: &TestDb) {
    let k = &db.kith;
    let m = margaret(db).await;
    let access = k.own_record(&m, Right::Manage).await.unwrap();
    let id = k.connect_provider(&access, "smart", "Riverside Community Health", TOKENS).await.unwrap();
    let stored = db.query_text("SELECT tokens FROM connections WHERE id = $1", &id).await.unwrap();
    assert!(!stored.contains("secret-access-token"), "tokens are not stored in the clear");
    assert!(stored.starts_with("v1:"));
    assert_eq!(k.pullable(&access, &id).await.unwrap().tokens, TOKENS);
    // Moved to another row (another provider), the sealed value does not open.
    db.execute(
        "INSERT INTO connections (id, patient_id, provider, name, status, tokens, connected_at) VALUES ('x', $1, 'other', 'Other', 'connected', $2, 0)",
        &[access.patient_id(), &stored],
    )
    .await;
    assert!(k.pullable_by_id("x").await.is_err());
    // Connecting is in the access log.
    assert!(db.log(access.patient_id()).await.iter().any(|e| e.action == "update" && e.what.contains("connected Riverside")));
}

async fn only_whoever_manages_the_record_connects_or_sees_connections(db: &TestDb) {
    let k = &db.kith;
    let m = margaret(db).await;
    let own = k.own_record(&m, Right::Manage).await.unwrap();
    let id = k.connect_provider(&own, "smart", "Riverside", TOKENS).await.unwrap();
    let dr = user(k, "Dr Shah", "shah@example.com", "clinician", "Riverside Surgery").await;
    let input = kith_core::sharing::GrantInput {
        email: "shah@example.com".into(),
        role: "clinician".into(),
        scope: kith_core::policy::Scope::whole(),
        comment: true,
        contribute: true,
        act_for: false,
        expires_in_days: None,
    };
    let invitation = k.create_grant(&own, &m, input, "http://kith.test").await.unwrap();
    kith_core::testing::accept(k, &invitation, "shah@example.com").await;
    let theirs = k.open_patient(&Principal::User(dr), own.patient_id(), Right::Read).await.unwrap();
    assert!(k.connections(&theirs).await.unwrap().is_empty(), "a viewer does not see connections");
    assert!(not_found(k.pullable(&theirs, &id).await));
    assert!(not_found(k.disconnect_provider(&theirs, &id).await));
    assert!(not_found(k.connect_provider(&theirs, "smart", "Riverside", TOKENS).await));
    // Another patient: not found either.
    let other = k
        .create_user(NewUser {
            name: "Ray".into(),
            email: "ray@example.com".into(),
            password: "kettle orange stairs".into(),
            role: "patient".into(),
            nhs_number: "9992649690".into(),
            birth_date: "1961-07-04".into(),
            organisation: String::new(),
        })
        .await
        .unwrap();
    let ray = k.own_record(&other, Right::Manage).await.unwrap();
    assert!(not_found(k.pullable(&ray, &id).await));
    assert!(not_found(k.disconnect_provider(&ray, &id).await));
}

async fn disconnect_deletes_the_tokens_and_stops_pulls(db: &TestDb) {
    let k = &db.kith;
    let m = margaret(db).await;
    let access = k.own_record(&m, Right::Manage).await.unwrap();
    let id = k.connect_provider(&access, "smart", "Riverside", TOKENS).await.unwrap();
    k.record_pull(&id, PullResult::Imported("3 new, 0 changed, 0 unchanged".into()), Some(1)).await.unwrap();
    assert_eq!(k.due_connections().await.unwrap(), vec![id.clone()], "due once its time has come");
    let view = &k.connections(&access).await.unwrap()[0];
    assert_eq!((view.status.as_str(), view.summary.as_deref()), ("connected", Some("3 new, 0 changed, 0 unchanged")));
    k.disconnect_provider(&access, &id).await.unwrap();
    assert_eq!(db.query_text("SELECT tokens FROM connections WHERE id = $1", &id).await, None);
    assert!(k.due_connections().await.unwrap().is_empty());
    assert!(not_found(k.pullable(&access, &id).await));
    assert_eq!(k.connections(&access).await.unwrap()[0].status, "disconnected");
    // A pull that was under way when it was disconnected does not bring it back.
    k.record_pull(&id, PullResult::Imported("1 new".into()), Some(1)).await.unwrap();
    assert_eq!(k.connections(&access).await.unwrap()[0].status, "disconnected");
}

async fn revoked_access_waits_for_the_patient(db: &TestDb) {
    let k = &db.kith;
    let m = margaret(db).await;
    let access = k.own_record(&m, Right::Manage).await.unwrap();
    let id = k.connect_provider(&access, "smart", "Riverside", TOKENS).await.unwrap();
    k.record_pull(&id, PullResult::NeedsReconnect("no longer accepts".into()), Some(1)).await.unwrap();
    assert!(k.due_connections().await.unwrap().is_empty(), "not retried on a schedule");
    let v = &k.connections(&access).await.unwrap()[0];
    assert_eq!((v.status.as_str(), v.error.as_deref()), ("needs-reconnect", Some("no longer accepts")));
    // Connecting again renews the same connection.
    let again = k.connect_provider(&access, "smart", "Riverside", TOKENS).await.unwrap();
    assert_eq!(again, id);
    assert_eq!(k.connections(&access).await.unwrap()[0].status, "connected");
}

/// A carer acting for the patient sees her connections, but not a provider
/// that sent only private entries, nor any pull's counts (which count
/// private entries too).
async fn a_carer_acting_for_the_patient_is_not_told_of_private_providers(db: &TestDb) {
    use kith_core::import::{ImportOutcome, ImportRequest, SourceKind};
    let k = &db.kith;
    let m = margaret(db).await;
    let own = k.own_record(&m, Right::Manage).await.unwrap();
    for (key, name, condition) in [("riverside", "Riverside", "Asthma"), ("clinic", "Clinic 56", "Chlamydia")] {
        let body = serde_json::json!({ "resourceType": "Bundle", "type": "collection", "entry": [
            { "fullUrl": "urn:uuid:p1", "resource": { "resourceType": "Patient", "id": "p1",
                "identifier": [{ "system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765919" }],
                "name": [{ "family": "Jones", "given": ["Margaret"] }], "birthDate": "1948-03-27" } },
            { "fullUrl": "urn:uuid:c1", "resource": { "resourceType": "Condition", "id": "c1",
                "code": { "text": condition }, "subject": { "reference": "urn:uuid:p1" } } } ] });
        let req = ImportRequest {
            file_name: format!("{name}.json"),
            bytes: serde_json::to_vec(&body).unwrap(),
            source_kind: Some(SourceKind::Gp),
            source_name: Some(name.into()),
            max_bytes: 1 << 20,
        };
        assert!(matches!(k.import(&own, req).await.unwrap(), ImportOutcome::Accepted(_)));
        let id = k.connect_provider(&own, key, name, TOKENS).await.unwrap();
        k.record_pull(&id, PullResult::Imported("1 new, 0 changed, 0 unchanged".into()), None).await.unwrap();
    }
    let clinic = k.sources_view(&own).await.unwrap().sources.into_iter().find(|s| s.name == "Clinic 56").unwrap();
    k.relabel_source(&own, &clinic.id, "private").await.unwrap();

    let carer = user(k, "David Jones", "david@example.com", "carer", "").await;
    let input = kith_core::sharing::GrantInput {
        email: "david@example.com".into(),
        role: "carer".into(),
        scope: kith_core::policy::Scope::whole(),
        comment: true,
        contribute: true,
        act_for: true,
        expires_in_days: None,
    };
    let invitation = k.create_grant(&own, &m, input, "http://kith.test").await.unwrap();
    kith_core::testing::accept(k, &invitation, "david@example.com").await;
    let acting = k.open_patient(&Principal::User(carer), own.patient_id(), Right::Manage).await.unwrap();

    let hers = k.connections(&own).await.unwrap();
    assert_eq!(hers.len(), 2);
    assert!(hers.iter().all(|c| c.summary.as_deref() == Some("1 new, 0 changed, 0 unchanged")));
    let his = k.connections(&acting).await.unwrap();
    assert_eq!(his.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["Riverside"]);
    assert_eq!(his[0].summary.as_deref(), Some("Records received"));
}

backend_tests!(
    a_carer_acting_for_the_patient_is_not_told_of_private_providers,
    tokens_are_sealed_at_rest_and_open_only_for_their_row,
    only_whoever_manages_the_record_connects_or_sees_connections,
    disconnect_deletes_the_tokens_and_stops_pulls,
    revoked_access_waits_for_the_patient,
);

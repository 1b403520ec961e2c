//! Signing in through an identity provider, once the provider's tokens have
//! passed every check (those checks are tested against a real provider in
//! the browser tests): accounts made, found and linked; records attached only
//! for a proved NHS Number; sign-in methods and sessions.

use kith_core::identity::{IdentityOutcome, VerifiedIdentity};
use kith_core::policy::{Origin, Right};
use kith_core::testing::{user, with_mail, TestDb};
use kith_core::{backend_tests, CoreError, NewUser};
use kith_types::{AppError, Role};

fn origin() -> Origin {
    Origin { address: "10.0.0.9".into(), user_agent: "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0".into() }
}

fn nhs_login(subject: &str, email: &str, nhs: Option<&str>) -> VerifiedIdentity {
    VerifiedIdentity {
        provider_id: "nhs-login".into(),
        provider_name: "NHS login".into(),
        staff: false,
        issuer: "https://auth.example.nhs.uk".into(),
        subject: subject.into(),
        name: Some("Ray Patel".into()),
        email: Some(email.into()),
        email_verified: true,
        birth_date: Some("1961-07-04".into()),
        verified_nhs_number: nhs.map(str::to_string),
        organisation: None,
    }
}

fn signed_in(o: IdentityOutcome) -> (kith_core::Actor, Option<String>) {
    match o {
        IdentityOutcome::SignedIn { actor, note } => (actor, note),
        other => panic!("expected a sign-in, got {other:?}"),
    }
}

async fn first_sign_in_makes_the_account_and_record_and_the_next_finds_it(db: &TestDb) {
    let k = &db.kith;
    let (ray, note) = signed_in(k.sign_in_with_identity(&nhs_login("sub-1", "ray@example.com", Some("9992649690")), &origin()).await.unwrap());
    assert_eq!(note, None);
    assert_eq!(ray.role, Role::Patient);
    let me = k.me(&ray).await.unwrap();
    assert_eq!(me.patient.expect("record attached").nhs_number, "999 264 9690");
    // The record is really his: the policy opens it.
    k.own_record(&ray, Right::Read).await.unwrap();
    assert!(k.me(&ray).await.unwrap().email_confirmed, "the provider checked the address");
    let (again, _) = signed_in(k.sign_in_with_identity(&nhs_login("sub-1", "ray@example.com", Some("9992649690")), &origin()).await.unwrap());
    assert_eq!(again.user_id, ray.user_id, "same account");
    assert_eq!(db.count_where("users", "email", "ray@example.com").await, 1);
    let methods = k.sign_in_methods(&ray).await.unwrap();
    assert_eq!(methods.len(), 1, "no password: only the provider");
    assert_eq!(methods[0].kind, "nhs-login");
    // The sign-in is in his access log.
    let patient = k.own_record(&ray, Right::Read).await.unwrap().patient_id().to_string();
    assert_eq!(db.log(&patient).await.iter().filter(|e| e.action == "sign-in").count(), 2);
}

/// A record kept for someone with no account yet (made by an organisation's
/// feed) becomes theirs when they prove its NHS Number; the record's log says so.
async fn a_proved_nhs_number_claims_a_waiting_record(db: &TestDb) {
    let k = &db.kith;
    db.exec(
        "INSERT INTO patients (id, nhs_number, name, birth_date, user_id, created_at) VALUES ('waiting', '9992649690', 'Ray Patel', '1961-07-04', NULL, 0)",
    )
    .await;
    let (ray, note) = signed_in(k.sign_in_with_identity(&nhs_login("sub-9", "ray@example.com", Some("9992649690")), &origin()).await.unwrap());
    assert_eq!(note, None);
    assert_eq!(k.own_record(&ray, Right::Read).await.unwrap().patient_id(), "waiting");
    let log = db.log("waiting").await;
    assert!(
        log.iter().any(|e| e.action == "update" && e.what.contains("this record attached to the account") && e.address == "10.0.0.9"),
        "{:?}",
        log.iter().map(|e| &e.what).collect::<Vec<_>>()
    );
}

async fn an_unproved_nhs_number_attaches_nothing(db: &TestDb) {
    let k = &db.kith;
    let (ray, _) = signed_in(k.sign_in_with_identity(&nhs_login("sub-2", "ray@example.com", None), &origin()).await.unwrap());
    assert!(k.me(&ray).await.unwrap().patient.is_none());
    assert_eq!(db.count_where("patients", "nhs_number", "9992649690").await, 0);
}

async fn another_accounts_record_is_not_taken(db: &TestDb) {
    let k = &db.kith;
    k.create_user(NewUser {
        name: "Margaret Jones".into(),
        email: "margaret@example.com".into(),
        password: "kettle orange stairs".into(),
        role: "patient".into(),
        nhs_number: "9434765919".into(),
        birth_date: "1948-03-27".into(),
        organisation: String::new(),
    })
    .await
    .unwrap();
    let (other, note) = signed_in(k.sign_in_with_identity(&nhs_login("sub-3", "someone@example.com", Some("9434765919")), &origin()).await.unwrap());
    assert!(note.unwrap().contains("belongs to another Kith account"));
    assert!(k.me(&other).await.unwrap().patient.is_none());
}

async fn an_existing_email_must_be_proved_with_the_password_before_linking(db: &TestDb) {
    let k = &db.kith;
    let ray = user(k, "Ray Patel", "ray@example.com", "patient", "").await;
    db.execute("UPDATE users SET email_confirmed_at = NULL WHERE email = $1", &["ray@example.com"]).await;
    let id = nhs_login("sub-4", "RAY@example.com", Some("9992649690"));
    match k.sign_in_with_identity(&id, &origin()).await.unwrap() {
        IdentityOutcome::ProveAccount { email, user_id } => assert_eq!((email.as_str(), user_id.as_str()), ("ray@example.com", ray.user_id.as_str())),
        other => panic!("linked without proof: {other:?}"),
    }
    assert_eq!(db.count_where("linked_identities", "subject", "sub-4").await, 0);
    // After the password sign-in, the server links it.
    let proved = k.sign_in("ray@example.com", "kettle orange stairs", "10.0.0.9").await.unwrap();
    assert_eq!(k.link_identity(&proved, &id, &Origin::default()).await.unwrap(), None);
    let (again, _) = signed_in(k.sign_in_with_identity(&id, &origin()).await.unwrap());
    assert_eq!(again.user_id, ray.user_id);
    assert!(k.me(&ray).await.unwrap().patient.is_some(), "the proved NHS Number attached his record");
    assert_eq!(k.sign_in_methods(&ray).await.unwrap().len(), 2);
    assert!(k.me(&ray).await.unwrap().email_confirmed, "the provider checked his address, so it is confirmed");
}

async fn one_identity_links_to_one_account(db: &TestDb) {
    let k = &db.kith;
    let a = user(k, "Ann", "ann@example.com", "patient", "").await;
    let b = user(k, "Bob", "bob@example.com", "patient", "").await;
    let id = nhs_login("sub-5", "ann@example.com", None);
    k.link_identity(&a, &id, &Origin::default()).await.unwrap();
    let e = k.link_identity(&b, &id, &Origin::default()).await.unwrap_err();
    assert!(matches!(e, CoreError::User(AppError::Conflict(m)) if m.contains("already linked")));
    // Staff providers do not link to patients' accounts.
    let staff = VerifiedIdentity { staff: true, provider_id: "trust".into(), provider_name: "Trust staff".into(), subject: "s".into(), ..id.clone() };
    assert!(matches!(k.link_identity(&a, &staff, &Origin::default()).await, Err(CoreError::User(AppError::Conflict(_)))));
}

async fn never_the_last_sign_in_method(db: &TestDb) {
    let k = &db.kith;
    let ann = user(k, "Ann", "ann@example.com", "patient", "").await;
    // Only the password: it stays.
    assert!(matches!(k.remove_sign_in_method(&ann, "", &Origin::default()).await, Err(CoreError::User(AppError::Conflict(_)))));
    k.link_identity(&ann, &nhs_login("sub-6", "ann@example.com", None), &Origin::default()).await.unwrap();
    let methods = k.sign_in_methods(&ann).await.unwrap();
    assert_eq!(methods.len(), 2);
    // Remove the password; then the provider is the last and stays.
    k.remove_sign_in_method(&ann, "", &Origin::default()).await.unwrap();
    assert!(k.sign_in("ann@example.com", "kettle orange stairs", "10.0.0.9").await.is_err(), "password gone");
    let link = &k.sign_in_methods(&ann).await.unwrap()[0];
    assert!(matches!(k.remove_sign_in_method(&ann, &link.id, &Origin::default()).await, Err(CoreError::User(AppError::Conflict(_)))));
    // Someone else's method id is not found.
    let bob = user(k, "Bob", "bob@example.com", "patient", "").await;
    assert!(kith_core::testing::not_found(k.remove_sign_in_method(&bob, &link.id, &Origin::default()).await));
}

async fn staff_providers_make_clinicians_with_their_organisation(db: &TestDb) {
    let k = &db.kith;
    let staff = VerifiedIdentity {
        provider_id: "trust".into(),
        provider_name: "Riverside staff sign-in".into(),
        staff: true,
        issuer: "https://login.riverside.example".into(),
        subject: "dr-1".into(),
        name: Some("Dr Priya Shah".into()),
        email: Some("priya@riverside.example".into()),
        email_verified: true,
        birth_date: None,
        verified_nhs_number: Some("9434765919".into()),
        organisation: Some("Riverside Surgery".into()),
    };
    let (dr, _) = signed_in(k.sign_in_with_identity(&staff, &origin()).await.unwrap());
    assert_eq!((dr.role, dr.organisation.as_str()), (Role::Clinician, "Riverside Surgery"));
    assert!(k.me(&dr).await.unwrap().patient.is_none(), "a clinician gets no record");
    let moved = VerifiedIdentity { organisation: Some("Hilltop Hospital".into()), ..staff };
    let (dr, _) = signed_in(k.sign_in_with_identity(&moved, &origin()).await.unwrap());
    assert_eq!(dr.organisation, "Hilltop Hospital", "the organisation follows the provider's claim");
    assert!(dr.verified_clinician, "the staff provider checked who they are: they may use emergency access");
    assert_eq!(
        db.query_text("SELECT clinician_verified_by FROM users WHERE id = $1", &dr.user_id).await.as_deref(),
        Some("staff sign-in through Riverside staff sign-in")
    );
    // A clinician who signed up with a password is checked once they link
    // their staff sign-in (and not before).
    let pw = user(k, "Dr Pass", "pass@riverside.example", "clinician", "Riverside Surgery").await;
    assert!(!k.actor(&pw.user_id).await.unwrap().unwrap().verified_clinician);
    let theirs = VerifiedIdentity { subject: "dr-2".into(), email: Some("pass@riverside.example".into()), ..moved };
    k.link_identity(&pw, &theirs, &origin()).await.unwrap();
    assert!(k.actor(&pw.user_id).await.unwrap().unwrap().verified_clinician);
    // A patient's provider checks nobody as a clinician.
    let (ann, _) = signed_in(k.sign_in_with_identity(&nhs_login("sub-10", "ann10@example.com", None), &origin()).await.unwrap());
    assert!(!ann.verified_clinician);
}

async fn no_email_no_account(db: &TestDb) {
    let k = &db.kith;
    let id = VerifiedIdentity { email: None, ..nhs_login("sub-7", "x@example.com", Some("9992649690")) };
    assert!(matches!(k.sign_in_with_identity(&id, &origin()).await, Err(CoreError::User(AppError::Conflict(m))) if m.contains("email")));
    assert_eq!(db.count_where("linked_identities", "subject", "sub-7").await, 0);
}

async fn a_provider_only_account_can_add_a_password(db: &TestDb) {
    let (on, inbox) = with_mail(db).await;
    let k = &on.kith;
    let (ray, _) = signed_in(k.sign_in_with_identity(&nhs_login("sub-8", "ray@example.com", None), &origin()).await.unwrap());
    let e = k.add_password(&ray, "short", "short", &Origin::default()).await.unwrap_err();
    assert!(matches!(e, CoreError::User(AppError::Validation { .. })));
    let e = k.add_password(&ray, "violet canal drum", "violet canal drums", &Origin::default()).await.unwrap_err();
    assert!(matches!(e, CoreError::User(AppError::Validation { .. })));
    k.add_password(&ray, "violet canal drum", "violet canal drum", &Origin::default()).await.unwrap();
    // He is told by email (his address came checked from the provider).
    let told = inbox.wait_for(1).await;
    assert!(told.contains("To: ray@example.com") && told.contains("Subject: A password was added to your Kith account"), "{told}");
    assert_eq!(k.sign_in("ray@example.com", "violet canal drum", "10.0.0.9").await.unwrap().user_id, ray.user_id);
    assert_eq!(k.sign_in_methods(&ray).await.unwrap().len(), 2);
    // Only once: after that it is changed with the current one.
    assert!(matches!(k.add_password(&ray, "amber window fjord", "amber window fjord", &Origin::default()).await, Err(CoreError::User(AppError::Conflict(_)))));
}

async fn an_unconfirmed_email_makes_no_account(db: &TestDb) {
    let k = &db.kith;
    let id = VerifiedIdentity { email_verified: false, ..nhs_login("sub-9", "new@example.com", Some("9992649690")) };
    assert!(matches!(k.sign_in_with_identity(&id, &origin()).await, Err(CoreError::User(AppError::Conflict(m))) if m.contains("not confirmed")));
    assert_eq!(db.count_where("users", "email", "new@example.com").await, 0);
}

async fn failures_are_kept_without_secrets(db: &TestDb) {
    let k = &db.kith;
    k.record_sign_in_failure("NHS login", "refused: signature", &origin()).await.unwrap();
    let f = k.sign_in_failures(10).await.unwrap();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["reason"], "refused: signature");
    assert_eq!(f[0]["address"], "10.0.0.9");
}

backend_tests!(
    first_sign_in_makes_the_account_and_record_and_the_next_finds_it,
    an_unproved_nhs_number_attaches_nothing,
    a_proved_nhs_number_claims_a_waiting_record,
    another_accounts_record_is_not_taken,
    an_existing_email_must_be_proved_with_the_password_before_linking,
    one_identity_links_to_one_account,
    never_the_last_sign_in_method,
    staff_providers_make_clinicians_with_their_organisation,
    no_email_no_account,
    failures_are_kept_without_secrets,
    a_provider_only_account_can_add_a_password,
    an_unconfirmed_email_makes_no_account,
);

//! Accounts, sessions and throttling against real databases: every test runs
//! on a fresh SQLite file and on a fresh PostgreSQL database.

use kith_core::policy::Origin;
use kith_core::testing::TestDb;
use kith_core::{backend_tests, CoreError, NewUser};
use kith_types::{AppError, Role};
use std::time::Instant;

fn margaret() -> NewUser {
    NewUser {
        name: "Margaret Jones".into(),
        email: "Margaret@Example.com".into(),
        password: "kettle orange stairs".into(),
        role: "patient".into(),
        nhs_number: "943 476 5919".into(),
        birth_date: "1948-03-27".into(),
        organisation: String::new(),
    }
}

fn user_error(e: kith_core::CoreError) -> AppError {
    match e {
        kith_core::CoreError::User(e) => e,
        other => panic!("expected a user error, got {other:?}"),
    }
}

async fn sign_up_creates_account_and_record(db: &TestDb) {
    let k = &db.kith;
    let actor = k.create_user(margaret()).await.unwrap();
    assert_eq!(actor.role, Role::Patient);
    let me = k.me(&actor).await.unwrap();
    assert_eq!(me.email, "margaret@example.com", "email is normalised");
    let p = me.patient.expect("patient record created");
    assert_eq!(p.nhs_number, "943 476 5919");
    assert_eq!(p.birth_date, "27 Mar 1948");
}

async fn duplicate_email_and_nhs_number_refused(db: &TestDb) {
    let k = &db.kith;
    k.create_user(margaret()).await.unwrap();
    let again = user_error(k.create_user(NewUser { nhs_number: "".into(), birth_date: "".into(), ..margaret() }).await.unwrap_err());
    assert!(again.field_error("email").unwrap().contains("already exists"));
    let other = user_error(k.create_user(NewUser { email: "someone@example.com".into(), name: "Someone Else".into(), ..margaret() }).await.unwrap_err());
    assert!(other.field_error("nhs_number").is_some());
    // Nothing half-made: the refused user does not exist.
    assert!(k.sign_in("someone@example.com", "kettle orange stairs", "10.0.0.1").await.is_err());
}

async fn sign_in_checks_password_and_gives_one_message(db: &TestDb) {
    let k = &db.kith;
    k.create_user(margaret()).await.unwrap();
    let ok = k.sign_in(" MARGARET@example.com ", "kettle orange stairs", "10.0.0.1").await.unwrap();
    assert_eq!(ok.name, "Margaret Jones");

    let wrong = user_error(k.sign_in("margaret@example.com", "kettle orange stair", "10.0.0.2").await.unwrap_err());
    let unknown = user_error(k.sign_in("nobody@example.com", "kettle orange stairs", "10.0.0.3").await.unwrap_err());
    let msg = |e: &AppError| match e {
        AppError::SignInFailed { message, .. } => message.clone(),
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(msg(&wrong), msg(&unknown));
}

async fn unknown_and_wrong_take_similar_time(db: &TestDb) {
    let k = &db.kith;
    k.create_user(margaret()).await.unwrap();
    // Warm both paths, then time several of each.
    let _ = k.sign_in("margaret@example.com", "nope nope nope", "10.1.0.1").await;
    let _ = k.sign_in("nobody@example.com", "nope nope nope", "10.1.0.2").await;
    let mut wrong = std::time::Duration::ZERO;
    let mut unknown = std::time::Duration::ZERO;
    for i in 0..2 {
        let t = Instant::now();
        let _ = k.sign_in("margaret@example.com", "nope nope nope", &format!("10.2.0.{i}")).await;
        wrong += t.elapsed();
        let t = Instant::now();
        let _ = k.sign_in(&format!("nobody{i}@example.com"), "nope nope nope", &format!("10.3.0.{i}")).await;
        unknown += t.elapsed();
    }
    let ratio = wrong.as_secs_f64() / unknown.as_secs_f64();
    // Without the dummy hash, an unknown email would skip argon2 and be ~100x faster.
    assert!((0.3..3.0).contains(&ratio), "wrong {wrong:?} vs unknown {unknown:?}");
}

async fn repeated_failures_slow_then_lock_the_account(db: &TestDb) {
    let k = &db.kith;
    k.create_user(margaret()).await.unwrap();
    let s = k.settings.throttle.clone();
    let mut timings = Vec::new();
    for i in 0..s.account_limit {
        let t = Instant::now();
        let e = user_error(k.sign_in("margaret@example.com", "wrong wrong wrong", &format!("10.4.0.{i}")).await.unwrap_err());
        timings.push(t.elapsed());
        if i < s.account_limit - 1 {
            assert!(matches!(e, AppError::SignInFailed { .. }), "attempt {i}: {e:?}");
        } else {
            assert!(matches!(e, AppError::Throttled { .. }), "the limit-th failure locks: {e:?}");
        }
    }
    // Attempts after `slow_after` failures are slowed by at least one step.
    let slowed = timings[s.slow_after as usize];
    assert!(slowed >= s.slow_step, "attempt after {} failures took {slowed:?}", s.slow_after);
    assert!(timings[0] < s.slow_step + std::time::Duration::from_millis(150) || timings[0] < slowed);
    // Now even the right password is refused, and the message says to wait.
    let e = user_error(k.sign_in("margaret@example.com", "kettle orange stairs", "10.4.1.1").await.unwrap_err());
    match e {
        AppError::Throttled { message, .. } => assert!(message.contains("Try again in 15 minutes"), "{message}"),
        other => panic!("expected throttled, got {other:?}"),
    }
}

async fn one_address_guessing_many_accounts_is_locked(db: &TestDb) {
    let k = &db.kith;
    k.create_user(margaret()).await.unwrap();
    let limit = k.settings.throttle.address_limit;
    for i in 0..limit {
        let _ = k.sign_in(&format!("guess{i}@example.com"), "wrong wrong wrong", "192.0.2.7").await;
    }
    let e = user_error(k.sign_in("margaret@example.com", "kettle orange stairs", "192.0.2.7").await.unwrap_err());
    assert!(matches!(e, AppError::Throttled { .. }), "{e:?}");
    // Another address is unaffected.
    k.sign_in("margaret@example.com", "kettle orange stairs", "192.0.2.8").await.unwrap();
}

async fn change_password_checks_current_and_policy(db: &TestDb) {
    let k = &db.kith;
    let a = k.create_user(margaret()).await.unwrap();
    let e = user_error(k.change_password(&a, "not it at all", "river lantern moss", "river lantern moss", "s1", &Origin::default()).await.unwrap_err());
    assert!(e.field_error("current_password").is_some());
    let e = user_error(k.change_password(&a, "kettle orange stairs", "password123", "password123", "s1", &Origin::default()).await.unwrap_err());
    assert!(e.field_error("new_password").is_some());
    let e = user_error(k.change_password(&a, "kettle orange stairs", "river lantern moss", "river lantern mos", "s1", &Origin::default()).await.unwrap_err());
    assert!(e.field_error("confirm_password").is_some());
    k.change_password(&a, "kettle orange stairs", "river lantern moss", "river lantern moss", "s1", &Origin::default()).await.unwrap();
    assert!(k.sign_in("margaret@example.com", "kettle orange stairs", "10.5.0.1").await.is_err());
    k.sign_in("margaret@example.com", "river lantern moss", "10.5.0.1").await.unwrap();
}

/// Someone with a stolen session cannot guess the password without end on
/// the Account page: wrong guesses there count against the sign-in limit,
/// for a new password and a new address alike, and then both are refused.
async fn wrong_current_passwords_are_limited_like_sign_ins(db: &TestDb) {
    let k = &db.kith;
    let a = k.create_user(margaret()).await.unwrap();
    let limit = k.settings.throttle.account_limit;
    for n in 1..limit {
        let e = if n % 2 == 0 {
            k.change_email(&a, "new@example.com", "a wrong guess", &Origin::default()).await.unwrap_err()
        } else {
            k.change_password(&a, "a wrong guess", "river lantern moss", "river lantern moss", "s1", &Origin::default()).await.unwrap_err()
        };
        assert!(matches!(user_error(e), AppError::Validation { .. }), "guess {n}");
    }
    let e = user_error(k.change_password(&a, "another wrong guess", "river lantern moss", "river lantern moss", "s1", &Origin::default()).await.unwrap_err());
    assert!(matches!(&e, AppError::Conflict(m) if m.contains("Try again in")), "{e:?}");
    // Locked now: the right password too, here and at sign-in.
    let e = user_error(k.change_email(&a, "new@example.com", "kettle orange stairs", &Origin::default()).await.unwrap_err());
    assert!(matches!(&e, AppError::Conflict(m) if m.contains("Try again in")), "{e:?}");
    assert!(matches!(user_error(k.sign_in("margaret@example.com", "kettle orange stairs", "10.5.0.2").await.unwrap_err()), AppError::Throttled { .. }));
}

async fn demo_loads_three_people_once(db: &TestDb) {
    let k = &db.kith;
    let first = kith_core::demo::load(k).await.unwrap();
    assert_eq!(first.len(), 3);
    assert!(first.iter().all(|(_, s)| matches!(s, kith_core::demo::Loaded::Created)));
    let second = kith_core::demo::load(k).await.unwrap();
    assert!(second.iter().all(|(_, s)| matches!(s, kith_core::demo::Loaded::AlreadyThere)));
    for p in kith_core::demo::DEMO_PEOPLE.iter() {
        let a = k.sign_in(p.email, p.password, "10.6.0.1").await.unwrap();
        assert_eq!(a.role.as_str(), p.role);
    }
    // The demo patient's record comes from several organisations, with merged
    // facts and at least one disagreement.
    let patient = k.sign_in("margaret@demo.kith.example", "kettle orange stairs", "10.6.0.2").await.unwrap();
    let access = k.own_record(&patient, kith_core::policy::Right::Read).await.unwrap();
    let record = k.record(&access).await.unwrap();
    let orgs: std::collections::HashSet<&str> = record.iter().flat_map(|e| e.sources.iter().map(|s| s.organisation.as_str())).collect();
    assert!(orgs.len() >= 3, "{orgs:?}");
    assert!(record.iter().any(|e| e.sources.len() >= 3), "a fact stated by three organisations");
    let disagreements: Vec<&str> = record.iter().filter(|e| !e.disagreements.is_empty()).map(|e| e.display.as_str()).collect();
    assert!(disagreements.iter().any(|d| d.contains("Ramipril")), "{disagreements:?}");
    assert!(disagreements.iter().any(|d| d.contains("Penicillin")), "{disagreements:?}");
}

async fn two_step_verification(db: &TestDb) {
    let k = &db.kith;
    let actor = k.create_user(margaret()).await.unwrap();
    assert!(!k.two_step_enabled(&actor.user_id).await.unwrap());
    let setup = k.begin_totp(&actor, "margaret@example.com").await.unwrap();
    assert!(setup.uri.starts_with("otpauth://totp/Kith:") && setup.qr_svg.contains("<svg"));
    // A wrong code does not switch it on.
    let wrong = if kith_core::two_step::current_code(&setup.secret) == "000000" { "111111" } else { "000000" };
    assert!(matches!(k.confirm_totp(&actor, wrong, &Origin::default()).await, Err(CoreError::User(AppError::Validation { .. }))));
    assert!(!k.two_step_enabled(&actor.user_id).await.unwrap());
    let code = kith_core::two_step::current_code(&setup.secret);
    let recovery = k.confirm_totp(&actor, &code, &Origin::default()).await.unwrap();
    assert_eq!(recovery.len(), 10);
    assert!(k.two_step_enabled(&actor.user_id).await.unwrap());
    // The code that switched it on cannot be used again (each step once).
    assert!(k.verify_second_step(&actor.user_id, &code, &Origin::default()).await.is_err());
    assert!(k.verify_second_step(&actor.user_id, "not a code", &Origin::default()).await.is_err());
    // A recovery code works once, however it is typed.
    k.verify_second_step(&actor.user_id, &recovery[0].to_uppercase().replace('-', " "), &Origin::default()).await.unwrap();
    assert!(k.verify_second_step(&actor.user_id, &recovery[0], &Origin::default()).await.is_err(), "used up");
    assert_eq!(k.recovery_codes_left(&actor.user_id).await.unwrap(), 9);
    // The recovery codes are stored hashed.
    let stored: i64 = sqlx_count(db, &recovery[1]).await;
    assert_eq!(stored, 0, "a recovery code is stored in the clear");
    // Switching off needs the password.
    assert!(k.disable_totp(&actor, "wrong password", &Origin::default()).await.is_err());
    k.disable_totp(&actor, "kettle orange stairs", &Origin::default()).await.unwrap();
    assert!(!k.two_step_enabled(&actor.user_id).await.unwrap());
}

async fn sqlx_count(db: &TestDb, needle: &str) -> i64 {
    db.count_where("recovery_codes", "code_hash", needle).await
}

async fn two_step_required_for_clinicians(same_kind: &TestDb) {
    let settings = kith_core::Settings { two_step_roles: vec![Role::Clinician], ..kith_core::testing::fast_settings() };
    let db = match same_kind.kith.db.backend() {
        kith_core::Backend::Sqlite => TestDb::sqlite_with(settings).await,
        kith_core::Backend::Postgres => TestDb::postgres_with(settings).await,
    };
    let k = &db.kith;
    let dr = k
        .create_user(NewUser {
            name: "Dr Two".into(),
            email: "two@example.com".into(),
            password: "kettle orange stairs".into(),
            role: "clinician".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(k.two_step_required(&dr));
    let patient = k.create_user(margaret()).await.unwrap();
    assert!(!k.two_step_required(&patient));
    let setup = k.begin_totp(&dr, "two@example.com").await.unwrap();
    k.confirm_totp(&dr, &kith_core::two_step::current_code(&setup.secret), &Origin::default()).await.unwrap();
    assert!(
        matches!(k.disable_totp(&dr, "kettle orange stairs", &Origin::default()).await, Err(CoreError::User(AppError::Conflict(_)))),
        "required: it stays on"
    );
}

backend_tests!(
    session_rows_do_not_hold_session_ids,
    two_step_verification,
    two_step_required_for_clinicians,
    sign_up_creates_account_and_record,
    duplicate_email_and_nhs_number_refused,
    sign_in_checks_password_and_gives_one_message,
    unknown_and_wrong_take_similar_time,
    repeated_failures_slow_then_lock_the_account,
    one_address_guessing_many_accounts_is_locked,
    change_password_checks_current_and_policy,
    wrong_current_passwords_are_limited_like_sign_ins,
    demo_loads_three_people_once,
);

/// The sessions table is keyed by a hash of each session id and never holds
/// the id itself, so reading it does not let anyone take over a session.
async fn session_rows_do_not_hold_session_ids(db: &TestDb) {
    use tower_sessions::session::{Id, Record};
    use tower_sessions::SessionStore;
    let k = &db.kith;
    let ann = kith_core::testing::user(k, "Ann", "ann@example.com", "patient", "").await;
    let store = k.session_store();
    let mut record = Record { id: Id::default(), data: Default::default(), expiry_date: time::OffsetDateTime::now_utc() + time::Duration::minutes(5) };
    record.data.insert("user_id".into(), serde_json::json!(ann.user_id));
    store.create(&mut record).await.unwrap();
    let id = record.id.to_string();
    assert_eq!(db.count_where("sessions", "id", &id).await, 0, "not keyed by the id");
    let data = db.query_text("SELECT data FROM sessions WHERE user_id = $1", &ann.user_id).await.unwrap();
    assert!(!data.contains(&id) && !data.contains(&record.id.0.to_string()), "the id is not in the stored data: {data}");
    let loaded = store.load(&record.id).await.unwrap().expect("found by its id");
    assert_eq!((loaded.id, loaded.data.get("user_id").cloned()), (record.id, Some(serde_json::json!(ann.user_id))));
    assert!(k.sessions(&ann, &id).await.unwrap().iter().any(|s| s.this_one), "the Account page still knows which is this one");
    assert!(store.load(&Id::default()).await.unwrap().is_none());
    store.delete(&record.id).await.unwrap();
    assert!(store.load(&record.id).await.unwrap().is_none());
    // A request still under way saves the session it loaded: that must not
    // bring back a session ended meanwhile (sign-out everywhere, a new
    // password).
    store.save(&loaded).await.unwrap();
    assert!(store.load(&record.id).await.unwrap().is_none(), "an ended session stays ended");
    let mut other = Record { id: Id::default(), data: Default::default(), expiry_date: time::OffsetDateTime::now_utc() + time::Duration::minutes(5) };
    store.create(&mut other).await.unwrap();
    other.data.insert("note".into(), serde_json::json!("changed"));
    store.save(&other).await.unwrap();
    assert_eq!(store.load(&other.id).await.unwrap().unwrap().data.get("note"), Some(&serde_json::json!("changed")), "a live session saves");
}

//! "Forgot your password?" on SQLite and PostgreSQL, with the link delivered
//! through a real SMTP conversation to a small server in this test (the
//! browser test end2end/tests/accounts.spec.ts drives it through the pages).

use std::time::Duration;

use kith_core::policy::Origin;
use kith_core::testing::{link_token, user, with_mail, TestDb};
use kith_core::{backend_tests, CoreError, Kith};
use kith_types::AppError;

const MARGARET: &str = "margaret@demo.kith.example";
const OLD: &str = "kettle orange stairs";
const NEW: &str = "silver harbour lantern";

/// The token at the end of the reset link in an email.
fn token_in(message: &str) -> String {
    link_token(message, "/reset-password/")
}

fn conflict(r: Result<impl std::fmt::Debug, CoreError>) -> String {
    match r {
        Err(CoreError::User(AppError::Conflict(m))) => m,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

async fn a_link_by_email_sets_a_new_password_once(db: &TestDb) {
    let origin = Origin { address: "10.9.0.7".into(), user_agent: "test".into() };
    // Without a mail server there is nothing to send the link with.
    let m = conflict(db.kith.request_password_reset(MARGARET, &origin).await);
    assert!(m.contains("cannot send email"), "{m}");

    let (on, inbox) = with_mail(db).await;
    let k = &on.kith;
    // The same answer for an address with no account, and nothing sent.
    k.request_password_reset("nobody@example.com", &origin).await.unwrap();
    k.request_password_reset("Margaret@Demo.Kith.Example", &origin).await.unwrap();
    let message = inbox.wait_for(1).await;
    assert_eq!(inbox.count(), 1, "only Margaret's address got one");
    assert!(message.contains("To: margaret@demo.kith.example") && message.contains("Subject: Set a new password for Kith"), "{message}");
    let token = token_in(&message);
    assert_eq!(token.len(), 64);
    assert!(!on.database_contains(&token).await, "only the link's hash is stored");
    k.check_password_reset(&token).await.unwrap();
    assert!(conflict(k.check_password_reset(&"0".repeat(64)).await).contains("expired or has already been used"));

    // A weak or mistyped password is refused and the link still works.
    let weak = k.reset_password(&token, "password", "password", &origin).await;
    assert!(matches!(weak, Err(CoreError::User(AppError::Validation { .. }))), "{weak:?}");
    let mismatch = k.reset_password(&token, NEW, "silver harbour lanterns", &origin).await;
    assert!(matches!(&mismatch, Err(CoreError::User(AppError::Validation { errors, .. })) if errors[0].field == "confirm_password"), "{mismatch:?}");

    // Locked out by wrong passwords, Margaret sets a new one: the lock goes.
    for _ in 0..5 {
        assert!(k.sign_in(MARGARET, "wrong guess", "10.9.0.8").await.is_err());
    }
    assert!(matches!(k.sign_in(MARGARET, OLD, "10.9.0.8").await, Err(CoreError::User(AppError::Throttled { .. }))));
    let actor = k.reset_password(&token, NEW, NEW, &origin).await.unwrap();
    // She is told it changed, in case it was not her.
    let told = inbox.wait_for(2).await;
    assert!(told.contains("Subject: Your Kith password was changed") && told.contains("with a link sent by email"), "{told}");
    k.sign_in(MARGARET, NEW, "10.9.0.8").await.unwrap();
    assert!(k.sign_in(MARGARET, OLD, "10.9.0.9").await.is_err(), "the old password is gone");
    assert!(conflict(k.reset_password(&token, "another fine phrase", "another fine phrase", &origin).await).contains("already been used"));

    // A change on the Account page is told by email too.
    k.change_password(&actor, NEW, "another fine phrase", "another fine phrase", "", &origin).await.unwrap();
    let told = inbox.wait_for(3).await;
    assert!(told.contains("Subject: Your Kith password was changed") && told.contains("on your Account page"), "{told}");

    // A link asked for earlier stops working when she changes her password
    // another way.
    k.request_password_reset(MARGARET, &origin).await.unwrap();
    let earlier = token_in(&inbox.wait_for(4).await);
    k.check_password_reset(&earlier).await.unwrap();
    k.change_password(&actor, "another fine phrase", NEW, NEW, "", &origin).await.unwrap();
    inbox.wait_for(5).await;
    assert!(conflict(k.check_password_reset(&earlier).await).contains("already been used"));

    // It is in her record's access log, where she can see it.
    let pid = k.own_record(&actor, kith_core::policy::Right::Read).await.unwrap().patient_id().to_string();
    assert!(on.log(&pid).await.iter().any(|e| e.what.contains("new password set through an emailed link")));
}

async fn links_end_together_and_are_limited(db: &TestDb) {
    let origin = Origin { address: "10.9.0.7".into(), user_agent: "test".into() };
    let (on, inbox) = with_mail(db).await;
    let k = &on.kith;
    for n in 1..=3 {
        k.request_password_reset(MARGARET, &origin).await.unwrap();
        inbox.wait_for(n).await;
    }
    // A fourth within the hour is not sent (someone may be pestering her).
    k.request_password_reset(MARGARET, &origin).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(inbox.count(), 3);
    let tokens: Vec<String> = inbox.messages().iter().map(|m| token_in(m)).collect();
    // Two uses of one link at once set one password.
    let (a, b) = tokio::join!(k.reset_password(&tokens[0], NEW, NEW, &origin), k.reset_password(&tokens[0], NEW, NEW, &origin));
    assert_eq!([a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count(), 1, "{a:?} {b:?}");
    // The other links stopped working with it.
    for t in &tokens[1..] {
        conflict(k.check_password_reset(t).await);
    }
    assert!(inbox.wait_for(4).await.contains("Subject: Your Kith password was changed"));

    // An account with no password (it signs in through NHS login) is told so.
    user(k, "Olive Oidc", "olive@example.com", "carer", "").await;
    on.execute("UPDATE users SET password_hash = NULL WHERE email = $1", &["olive@example.com"]).await;
    k.request_password_reset("olive@example.com", &origin).await.unwrap();
    let told = inbox.wait_for(5).await;
    assert!(told.contains("Subject: Signing in to Kith") && told.contains("has no password") && !told.contains("/reset-password/"), "{told}");
    // These too are limited to 3 an hour.
    for _ in 0..3 {
        k.request_password_reset("olive@example.com", &origin).await.unwrap();
    }
    inbox.wait_for(7).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(inbox.count(), 7);
}

/// Asking from one address counts against its sign-in limit: the form
/// cannot flood mailboxes or probe addresses without end.
async fn asking_is_limited_per_network_address(db: &TestDb) {
    let (on, _inbox) = with_mail(db).await;
    let k: &Kith = &on.kith;
    let origin = Origin { address: "10.9.0.50".into(), user_agent: "test".into() };
    let limit = k.settings.throttle.address_limit;
    let mut refused = None;
    for n in 0..=limit {
        if let Err(e) = k.request_password_reset(&format!("someone{n}@example.com"), &origin).await {
            refused = Some((n, e));
            break;
        }
    }
    let (n, e) = refused.expect("refused in the end");
    assert!(n <= limit && matches!(&e, CoreError::User(AppError::Throttled { .. })), "{n}: {e:?}");
    assert!(e.to_string().contains("Too many links"), "{e:?}");
    let elsewhere = Origin { address: "10.9.0.51".into(), user_agent: "test".into() };
    k.request_password_reset("someone@example.com", &elsewhere).await.unwrap();
    // Signing in from the same network is not held up by it.
    k.sign_in(MARGARET, OLD, "10.9.0.50").await.unwrap();
}

/// `kith user set-password`: for a Kith without email, or a lost mailbox.
async fn the_operator_can_set_a_password(db: &TestDb) {
    let k = &db.kith;
    kith_core::demo::load(k).await.unwrap();
    assert!(!k.set_password_by_operator("nobody@example.com", NEW).await.unwrap());
    assert!(matches!(k.set_password_by_operator(MARGARET, "short").await, Err(CoreError::User(AppError::Validation { .. }))));
    k.sign_in(MARGARET, OLD, "10.9.0.8").await.expect("a refused password changes nothing");
    assert!(k.set_password_by_operator("Margaret@Demo.Kith.Example", NEW).await.unwrap());
    assert!(k.sign_in(MARGARET, OLD, "10.9.0.8").await.is_err());
    let actor = k.sign_in(MARGARET, NEW, "10.9.0.8").await.unwrap();
    let pid = k.own_record(&actor, kith_core::policy::Right::Read).await.unwrap().patient_id().to_string();
    assert!(db.log(&pid).await.iter().any(|e| e.what.contains("set by the operator") && e.address == "command line" && e.actor_name == "Server operator"));
}

backend_tests!(
    a_link_by_email_sets_a_new_password_once,
    links_end_together_and_are_limited,
    asking_is_limited_per_network_address,
    the_operator_can_set_a_password
);

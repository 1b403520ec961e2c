//! Confirming email addresses, on SQLite and PostgreSQL, with the links
//! delivered through a real SMTP conversation (kith_core::testing's
//! capturing server). Kith sends nothing but the link to an address until
//! its owner, signed in, confirms it. (end2end/tests/mail.spec.ts drives it
//! through the pages.)

use std::time::Duration;

use kith_core::email_confirmation::{confirmation_hash, EmailChange};
use kith_core::mail::MailRun;
use kith_core::policy::{Origin, Right, Scope};
use kith_core::sharing::LinkInput;
use kith_core::testing::{link_token, with_mail, TestDb};
use kith_core::{backend_tests, Actor, CoreError, Kith, NewUser};
use kith_types::{AppError, EmailConfirmationView};

const EDNA: &str = "edna@example.com";
const PASSWORD: &str = "kettle orange stairs";

fn conflict(r: Result<impl std::fmt::Debug, CoreError>) -> String {
    match r {
        Err(CoreError::User(AppError::Conflict(m))) => m,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

/// A patient who signs up with a password: her address is not confirmed.
async fn edna(k: &Kith) -> Actor {
    k.create_user(NewUser {
        name: "Edna Mailer".into(),
        email: "Edna@Example.com".into(),
        password: PASSWORD.into(),
        role: "patient".into(),
        nhs_number: "9990770018".into(),
        birth_date: "1941-05-06".into(),
        organisation: String::new(),
    })
    .await
    .unwrap()
}

/// Locks a new link to her record with wrong passcodes: a notice to email.
async fn lock_a_link(k: &Kith, owner: &Actor) {
    let manage = k.own_record(owner, Right::Manage).await.unwrap();
    let link = LinkInput { name: "A&E".into(), scope: Scope::whole(), expires_in_hours: None, passcode: Some("4821".into()), single_use: false };
    let url = k.create_link(&manage, owner, link, "https://kith.example").await.unwrap().url;
    let token = url.rsplit('/').next().unwrap();
    for _ in 0..kith_core::sharing::LINK_PASSCODE_LIMIT {
        assert!(k.open_link(token, "0000", "X", "Y", "Z", &Origin::default()).await.is_err());
    }
}

async fn nothing_is_sent_until_the_owner_confirms_the_address(db: &TestDb) {
    let (on, inbox) = with_mail(db).await;
    let k = &on.kith;
    let origin = Origin { address: "10.9.1.1".into(), user_agent: "test".into() };
    let edna = edna(k).await;
    let pid = k.own_record(&edna, Right::Read).await.unwrap().patient_id().to_string();
    assert!(!k.me(&edna).await.unwrap().email_confirmed);

    // Unconfirmed: no reset link, no word of a password change, and a
    // notice is given up, not sent.
    k.request_password_reset(EDNA, &origin).await.unwrap();
    k.change_password(&edna, PASSWORD, "amber window fjord", "amber window fjord", "", &origin).await.unwrap();
    k.change_password(&edna, "amber window fjord", PASSWORD, PASSWORD, "", &origin).await.unwrap();
    lock_a_link(k, &edna).await;
    assert_eq!(k.send_due_mail().await.unwrap(), MailRun { sent: 0, failed: 0, given_up: 1 });
    let given_up = on.mail_outbox(&pid).await.pop().unwrap();
    assert_eq!(given_up.last_error.as_deref(), Some("the email address is not confirmed"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(inbox.count(), 0, "nothing went to the unconfirmed address");
    let edna_id = edna.user_id.clone();
    assert_eq!(on.count_where("password_resets", "user_id", &edna_id).await, 0, "no reset link was even made");
    // Her access log says so.
    let manage = k.own_record(&edna, Right::Manage).await.unwrap();
    let told = k.access_log(&manage, &Default::default()).await.unwrap().notice_email.unwrap();
    assert!(told.on && !told.confirmed, "{told:?}");

    // She asks for the link (sign-up does this too).
    k.send_email_confirmation(&edna).await.unwrap();
    let message = inbox.wait_for(1).await;
    assert!(message.contains("To: edna@example.com") && message.contains("Subject: Confirm your email address for Kith"), "{message}");
    let token = link_token(&message, "/confirm-email/");
    assert_eq!(token.len(), 64);
    assert!(!on.database_contains(&token).await, "only the link's hash is stored");
    let hash = confirmation_hash(&token);

    // Whoever holds the link is asked to sign in; another account cannot use it.
    assert_eq!(k.email_confirmation(&hash, None).await.unwrap(), EmailConfirmationView::SignIn);
    let margaret = k.sign_in("margaret@demo.kith.example", PASSWORD, "10.9.1.2").await.unwrap();
    assert_eq!(k.email_confirmation(&hash, Some(&margaret)).await.unwrap(), EmailConfirmationView::OtherAccount);
    assert!(conflict(k.confirm_email(&margaret, &hash, &origin).await).contains("different Kith account"));
    assert!(k.me(&margaret).await.unwrap().email_confirmed, "the demo's people are confirmed");
    assert_eq!(k.email_confirmation(&hash, Some(&edna)).await.unwrap(), EmailConfirmationView::Ready { email: EDNA.into(), change: false });
    assert!(conflict(k.email_confirmation(&confirmation_hash(&"0".repeat(64)), Some(&edna)).await).contains("expired or has already been used"));

    // Signed in, she confirms it: once.
    k.confirm_email(&edna, &hash, &origin).await.unwrap();
    assert!(k.me(&edna).await.unwrap().email_confirmed);
    assert!(conflict(k.confirm_email(&edna, &hash, &origin).await).contains("already been used"));
    assert!(on.log(&pid).await.iter().any(|e| e.what == "account: email address confirmed"));
    // Asking again sends nothing: there is nothing to confirm.
    k.send_email_confirmation(&edna).await.unwrap();

    // Now the emails go to her.
    lock_a_link(k, &edna).await;
    assert_eq!(k.send_due_mail().await.unwrap(), MailRun { sent: 1, failed: 0, given_up: 0 });
    assert!(inbox.wait_for(2).await.contains("Subject: A shared link to your Kith record was locked"));
    k.request_password_reset(EDNA, &origin).await.unwrap();
    assert!(inbox.wait_for(3).await.contains("Subject: Set a new password for Kith"));
    assert_eq!(inbox.count(), 3, "asking to confirm a confirmed address sent nothing");
}

async fn links_are_limited_and_end_together(db: &TestDb) {
    let (on, inbox) = with_mail(db).await;
    let k = &on.kith;
    let origin = Origin::default();
    let edna = edna(k).await;
    for n in 1..=3 {
        k.send_email_confirmation(&edna).await.unwrap();
        inbox.wait_for(n).await;
    }
    // A fourth within the hour is refused, and says why.
    assert!(conflict(k.send_email_confirmation(&edna).await).contains("3 links in the last hour"));
    let hashes: Vec<String> = inbox.messages().iter().map(|m| confirmation_hash(&link_token(m, "/confirm-email/"))).collect();
    // Two uses of one link at once confirm once; the others end with it.
    let (a, b) = tokio::join!(k.confirm_email(&edna, &hashes[1], &origin), k.confirm_email(&edna, &hashes[1], &origin));
    assert_eq!([a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count(), 1, "{a:?} {b:?}");
    // The other was told the link is used, not refused by the database.
    let loser = if a.is_ok() { b } else { a };
    assert!(conflict(loser).contains("already been used"));
    for h in [&hashes[0], &hashes[2]] {
        conflict(k.email_confirmation(h, Some(&edna)).await);
    }

    // A link out of date does not work.
    let olive = k
        .create_user(NewUser {
            name: "Olive Late".into(),
            email: "olive@example.com".into(),
            password: PASSWORD.into(),
            role: "carer".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    k.send_email_confirmation(&olive).await.unwrap();
    let hash = confirmation_hash(&link_token(&inbox.wait_for(4).await, "/confirm-email/"));
    on.execute("UPDATE email_confirmations SET expires_at = 1 WHERE token_hash = $1", &[hash.as_str()]).await;
    assert!(conflict(k.confirm_email(&olive, &hash, &origin).await).contains("expired"));
    assert!(!k.me(&olive).await.unwrap().email_confirmed);

    // A link confirms the address it was sent to, not one the account has since.
    on.execute("UPDATE email_confirmations SET expires_at = 9999999999999 WHERE token_hash = $1", &[hash.as_str()]).await;
    on.execute("UPDATE users SET email = 'olive.new@example.com' WHERE email = 'olive@example.com'", &[]).await;
    conflict(k.confirm_email(&olive, &hash, &origin).await);
    assert!(!k.me(&olive).await.unwrap().email_confirmed);
}

/// Without a mail server nothing can be sent; the operator may vouch for an
/// address (`kith user confirm-email`), logged as theirs.
async fn the_operator_can_confirm_an_address(db: &TestDb) {
    let k = &db.kith;
    let edna = edna(k).await;
    assert!(conflict(k.send_email_confirmation(&edna).await).contains("does not send email"));
    assert!(!k.confirm_email_by_operator("nobody@example.com").await.unwrap());
    assert!(k.confirm_email_by_operator("EDNA@example.com").await.unwrap());
    assert!(k.me(&edna).await.unwrap().email_confirmed);
    let pid = k.own_record(&edna, Right::Read).await.unwrap().patient_id().to_string();
    assert!(db
        .log(&pid)
        .await
        .iter()
        .any(|e| e.what.contains("confirmed by the operator") && e.address == "command line" && e.actor_name == "Server operator"));
}

/// `kith user send-confirmations`: a link to each unconfirmed address that
/// has none still working, once.
async fn the_operator_can_send_links_to_everyone_unconfirmed(db: &TestDb) {
    assert!(conflict(db.kith.send_pending_confirmations().await).contains("no mail server"));
    let (on, inbox) = with_mail(db).await;
    let k = &on.kith;
    let edna = edna(k).await;
    let olive = k
        .create_user(NewUser {
            name: "Olive Linked".into(),
            email: "olive@example.com".into(),
            password: PASSWORD.into(),
            role: "carer".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    k.send_email_confirmation(&olive).await.unwrap();
    inbox.wait_for(1).await;
    // The demo's people are confirmed; Olive has a link: only Edna gets one.
    assert_eq!(k.send_pending_confirmations().await.unwrap(), (1, 0));
    let message = inbox.wait_for(2).await;
    assert!(message.contains("To: edna@example.com") && message.contains("Subject: Confirm your email address for Kith"), "{message}");
    assert_eq!(k.send_pending_confirmations().await.unwrap(), (0, 0), "once");
    k.confirm_email(&edna, &confirmation_hash(&link_token(&message, "/confirm-email/")), &Origin::default()).await.unwrap();
    assert_eq!(inbox.count(), 2);
}

/// Migration 0022's backfill, run again on accounts as they were before it:
/// only an account a provider made (no password, and the provider's
/// identity labelled with the account's address) counts as confirmed.
async fn the_migration_confirms_only_provider_made_accounts(db: &TestDb) {
    let file = match db.kith.db.backend() {
        kith_core::Backend::Sqlite => include_str!("../../../migrations/sqlite/0022_email_confirmations.sql"),
        kith_core::Backend::Postgres => include_str!("../../../migrations/postgres/0022_email_confirmations.sql"),
    };
    let backfill = &file[file.find("UPDATE users").expect("the backfill")..];
    let backfill = &backfill[..=backfill.find(';').unwrap()];
    let k = &db.kith;
    let mut ids = Vec::new();
    for (name, email) in [("Pam Password", "pam@example.com"), ("Pru Provider", "pru@example.com"), ("Rex Removed", "rex@example.com")] {
        let a = k
            .create_user(NewUser { name: name.into(), email: email.into(), password: PASSWORD.into(), role: "carer".into(), ..Default::default() })
            .await
            .unwrap();
        ids.push(a.user_id);
    }
    // Pru signs in only through a provider that gave her address; Rex linked
    // one that knows him by another address, then removed his password.
    for (id, subject, label) in [(&ids[1], "pru-1", "pru@example.com"), (&ids[2], "rex-1", "rex@elsewhere.example")] {
        db.execute(
            "INSERT INTO linked_identities (id, user_id, provider, issuer, subject, label, linked_at) VALUES ($1, $2, 'nhs-login', 'https://auth.example', $3, $4, 0)",
            &[&format!("li-{subject}"), id, subject, label],
        )
        .await;
        db.execute("UPDATE users SET password_hash = NULL WHERE id = $1", &[id]).await;
    }
    db.execute(backfill, &[]).await;
    let confirmed =
        |id: String| async move { db.query_text("SELECT CASE WHEN email_confirmed_at IS NULL THEN 'no' ELSE 'yes' END FROM users WHERE id = $1", &id).await };
    assert_eq!(confirmed(ids[0].clone()).await.as_deref(), Some("no"), "a password account");
    assert_eq!(confirmed(ids[1].clone()).await.as_deref(), Some("yes"), "a provider-made account");
    assert_eq!(confirmed(ids[2].clone()).await.as_deref(), Some("no"), "a password removed after linking another address");
}

fn field_error(r: Result<impl std::fmt::Debug, CoreError>) -> (String, String) {
    match r {
        Err(CoreError::User(AppError::Validation { errors, .. })) => (errors[0].field.clone(), errors[0].message.clone()),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// A new address takes over only when its link is used, signed in; the
/// old one is told. Links from before a change, and an address another
/// account took meanwhile, change nothing.
async fn changing_the_address_waits_for_the_new_one(db: &TestDb) {
    let (on, inbox) = with_mail(db).await;
    let k = &on.kith;
    let origin = Origin::default();
    let edna = edna(k).await;
    assert!(k.confirm_email_by_operator(EDNA).await.unwrap());
    assert_eq!(field_error(k.change_email(&edna, "not an address", PASSWORD, &origin).await).0, "new_email");
    assert_eq!(field_error(k.change_email(&edna, "edna@EXAMPLE.com", PASSWORD, &origin).await).1, "This is already your email address");
    assert_eq!(field_error(k.change_email(&edna, "margaret@demo.kith.example", PASSWORD, &origin).await).1, "Another Kith account uses this email address");
    assert_eq!(field_error(k.change_email(&edna, "edna.new@example.com", "wrong guess", &origin).await).0, "email_password");
    assert_eq!(inbox.count(), 0);

    assert_eq!(k.change_email(&edna, "Edna.New@example.com", PASSWORD, &origin).await.unwrap(), EmailChange::LinkSent);
    let message = inbox.wait_for(1).await;
    assert!(message.contains("To: edna.new@example.com") && message.contains("Subject: Confirm your new email address for Kith"), "{message}");
    // Nothing has changed yet.
    assert_eq!(k.me(&edna).await.unwrap().email, EDNA);
    k.sign_in(EDNA, PASSWORD, "10.9.2.1").await.unwrap();
    let hash = confirmation_hash(&link_token(&message, "/confirm-email/"));
    assert_eq!(k.email_confirmation(&hash, Some(&edna)).await.unwrap(), EmailConfirmationView::Ready { email: "edna.new@example.com".into(), change: true });
    k.confirm_email(&edna, &hash, &origin).await.unwrap();
    let me = k.me(&edna).await.unwrap();
    assert_eq!((me.email.as_str(), me.email_confirmed), ("edna.new@example.com", true));
    k.sign_in("edna.new@example.com", PASSWORD, "10.9.2.1").await.unwrap();
    assert!(k.sign_in(EDNA, PASSWORD, "10.9.2.1").await.is_err(), "the old address no longer signs in");
    let told = inbox.wait_for(2).await;
    assert!(told.contains("To: edna@example.com") && told.contains("Subject: The email address of your Kith account was changed"), "{told}");
    assert!(!told.contains("edna.new"), "the old address is not told the new one");
    let pid = k.own_record(&edna, Right::Read).await.unwrap().patient_id().to_string();
    assert!(on.log(&pid).await.iter().any(|e| e.what == "account: email address changed, the new one confirmed"));

    // Two changes asked for: the first used kills the other.
    let fay = k
        .create_user(NewUser {
            name: "Fay Mover".into(),
            email: "fay@example.com".into(),
            password: PASSWORD.into(),
            role: "carer".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    k.change_email(&fay, "fay.c@example.com", PASSWORD, &origin).await.unwrap();
    let to_c = confirmation_hash(&link_token(&inbox.wait_for(3).await, "/confirm-email/"));
    k.change_email(&fay, "fay.d@example.com", PASSWORD, &origin).await.unwrap();
    let to_d = confirmation_hash(&link_token(&inbox.wait_for(4).await, "/confirm-email/"));
    k.confirm_email(&fay, &to_d, &origin).await.unwrap();
    assert!(conflict(k.confirm_email(&fay, &to_c, &origin).await).contains("expired or has already been used"));
    assert_eq!(k.me(&fay).await.unwrap().email, "fay.d@example.com");
    // Her old address was never confirmed: it is not told.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(inbox.count(), 4);
    // An address someone else signs up with meanwhile is theirs.
    k.change_email(&fay, "fay.e@example.com", PASSWORD, &origin).await.unwrap();
    let to_e = confirmation_hash(&link_token(&inbox.wait_for(5).await, "/confirm-email/"));
    k.create_user(NewUser {
        name: "Eve Early".into(),
        email: "fay.e@example.com".into(),
        password: PASSWORD.into(),
        role: "carer".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(conflict(k.confirm_email(&fay, &to_e, &origin).await).contains("Another Kith account has started to use fay.e@example.com"));
    assert_eq!(k.me(&fay).await.unwrap().email, "fay.d@example.com");

    // Where Kith sends no email, the address changes at once, unconfirmed.
    let plain = &db.kith;
    let gus = plain
        .create_user(NewUser {
            name: "Gus Plain".into(),
            email: "gus@example.com".into(),
            password: PASSWORD.into(),
            role: "carer".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(plain.change_email(&gus, "gus.new@example.com", PASSWORD, &origin).await.unwrap(), EmailChange::Changed);
    let me = plain.me(&gus).await.unwrap();
    assert_eq!((me.email.as_str(), me.email_confirmed), ("gus.new@example.com", false));
}

backend_tests!(
    nothing_is_sent_until_the_owner_confirms_the_address,
    links_are_limited_and_end_together,
    the_operator_can_confirm_an_address,
    the_operator_can_send_links_to_everyone_unconfirmed,
    the_migration_confirms_only_provider_made_accounts,
    changing_the_address_waits_for_the_new_one
);

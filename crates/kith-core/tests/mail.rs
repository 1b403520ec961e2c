//! Emails to patients (kith_core::mail), on SQLite and PostgreSQL: queued
//! with the notification they repeat, only when a mail server is configured,
//! and kept for later when the server cannot take them. (Delivery through a
//! real SMTP server is driven end to end in end2end/tests/mail.spec.ts.)

use kith_core::mail::{MailRun, MailSettings};
use kith_core::policy::{Origin, Principal, Right, Scope};
use kith_core::sharing::{GrantInput, LinkInput};
use kith_core::testing::{fast_settings, user, TestDb};
use kith_core::{backend_tests, Actor, Kith, Settings};
use kith_types::audit::{AccessLogQuery, NoticeEmail};
use kith_types::record::TimelineQuery;
use kith_types::NhsNumber;

const MARGARET: &str = "margaret@demo.kith.example";

/// A clinician may view the whole record (no comments, no expiry).
fn whole_record_view(email: &str) -> GrantInput {
    GrantInput {
        email: email.into(),
        role: "clinician".into(),
        scope: Scope::whole(),
        comment: false,
        contribute: false,
        act_for: false,
        expires_in_days: None,
    }
}

async fn same_kind(db: &TestDb, settings: Settings) -> TestDb {
    match db.kith.db.backend() {
        kith_core::Backend::Sqlite => TestDb::sqlite_with(settings).await,
        kith_core::Backend::Postgres => TestDb::postgres_with(settings).await,
    }
}

/// A mail server address where nothing listens: every send is refused.
fn unreachable_mail() -> MailSettings {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    MailSettings::new(&format!("smtp://127.0.0.1:{port}"), "Kith <kith@example.org>", "https://kith.example").unwrap()
}

async fn margaret(k: &Kith) -> (Actor, String) {
    kith_core::demo::load(k).await.unwrap();
    let owner = k.sign_in(MARGARET, "kettle orange stairs", "10.9.0.1").await.unwrap();
    let id = k.own_record(&owner, Right::Manage).await.unwrap().patient_id().to_string();
    (owner, id)
}

async fn emails_are_queued_with_their_notifications(db: &TestDb) {
    let on = same_kind(db, Settings { break_glass: true, mail: Some(unreachable_mail()), ..fast_settings() }).await;
    let k = &on.kith;
    let (owner, pid) = margaret(k).await;

    // The patient's own views are not news.
    let own = k.own_record(&owner, Right::Read).await.unwrap();
    k.summary(&own).await.unwrap();
    assert!(on.mail_outbox(&pid).await.is_empty());
    // The access log tells the owner where these emails go.
    let manage = k.own_record(&owner, Right::Manage).await.unwrap();
    let log = k.access_log(&manage, &AccessLogQuery::default()).await.unwrap();
    assert_eq!(log.notice_email, Some(NoticeEmail { address: MARGARET.into(), on: true, for_carer: false, confirmed: true }));

    // A clinician's first view queues one email; the second does not.
    let dr = user(k, "Dr Mind", "mind@example.com", "clinician", "Leeds Mental Health Trust").await;
    let invitation = k.create_grant(&manage, &owner, whole_record_view("mind@example.com"), "http://kith.test").await.unwrap();
    kith_core::testing::accept(k, &invitation, "mind@example.com").await;
    let access = k.open_patient(&Principal::User(dr.clone()), &pid, Right::Read).await.unwrap();
    k.timeline(&access, &TimelineQuery::default()).await.unwrap();
    k.summary(&access).await.unwrap();
    let kinds = |q: &[kith_core::testing::QueuedMail]| q.iter().map(|m| m.kind.clone()).collect::<Vec<_>>();
    assert_eq!(kinds(&on.mail_outbox(&pid).await), ["first-view"]);

    // Emergency access, and a link locked by wrong passcodes.
    let urgent = user(k, "Dr Urgent", "urgent@example.com", "clinician", "Out-of-area A&E").await;
    assert!(k.verify_clinician("urgent@example.com").await.unwrap());
    let urgent = k.actor(&urgent.user_id).await.unwrap().unwrap();
    k.break_glass(&urgent, &NhsNumber::parse("9434765919").unwrap(), "Unconscious in A&E, needs medicines and allergies", &Origin::default()).await.unwrap();
    let link = LinkInput { name: "A&E".into(), scope: Scope::whole(), expires_in_hours: None, passcode: Some("4821".into()), single_use: false };
    let url = k.create_link(&manage, &owner, link, "https://kith.example").await.unwrap().url;
    let token = url.rsplit('/').next().unwrap();
    for _ in 0..kith_core::sharing::LINK_PASSCODE_LIMIT {
        assert!(k.open_link(token, "0000", "X", "Y", "Z", &Origin::default()).await.is_err());
    }
    assert_eq!(kinds(&on.mail_outbox(&pid).await), ["first-view", "emergency-access", "link-locked"]);
    // Each repeats a notification in the app.
    let told = k.notifications(&manage).await.unwrap();
    assert!(told.iter().any(|(m, _)| m.contains("Dr Mind") && m.contains("first time")));
    assert!(told.iter().any(|(m, _)| m.contains("Emergency access")));
    assert!(told.iter().any(|(m, _)| m.contains("was locked")));

    // The mail server refuses: each is kept, with why, to be tried in a minute.
    let before = chrono::Utc::now().timestamp_millis();
    assert_eq!(k.send_due_mail().await.unwrap(), MailRun { sent: 0, failed: 3, given_up: 0 });
    for m in on.mail_outbox(&pid).await {
        assert_eq!((m.attempts, m.sent_at, m.gave_up_at), (1, None, None), "{m:?}");
        assert!(m.next_attempt_at >= before + 60_000, "{m:?}");
        let why = m.last_error.unwrap();
        assert_eq!(why, "could not reach the mail server");
    }
    assert_eq!(k.send_due_mail().await.unwrap(), MailRun::default(), "nothing is due yet");

    // Due again, but a day old: given up rather than sent late.
    on.execute("UPDATE mail_outbox SET next_attempt_at = 0, created_at = 0 WHERE patient_id = $1 AND kind = 'first-view'", &[pid.as_str()]).await;
    assert_eq!(k.send_due_mail().await.unwrap(), MailRun { sent: 0, failed: 0, given_up: 1 });
    let first = on.mail_outbox(&pid).await.into_iter().find(|m| m.kind == "first-view").unwrap();
    assert!(first.gave_up_at.is_some() && first.last_error.as_deref() == Some("not sent within a day"), "{first:?}");
}

async fn without_a_mail_server_nothing_is_queued(db: &TestDb) {
    let k = &db.kith;
    let (owner, pid) = margaret(k).await;
    let dr = user(k, "Dr Mind", "mind@example.com", "clinician", "").await;
    let manage = k.own_record(&owner, Right::Manage).await.unwrap();
    let invitation = k.create_grant(&manage, &owner, whole_record_view("mind@example.com"), "http://kith.test").await.unwrap();
    kith_core::testing::accept(k, &invitation, "mind@example.com").await;
    let access = k.open_patient(&Principal::User(dr), &pid, Right::Read).await.unwrap();
    k.summary(&access).await.unwrap();
    assert!(k.notifications(&manage).await.unwrap().iter().any(|(m, _)| m.contains("first time")), "told in the app");
    assert!(db.mail_outbox(&pid).await.is_empty());
    assert_eq!(k.send_due_mail().await.unwrap(), MailRun::default());
    assert_eq!(k.access_log(&manage, &AccessLogQuery::default()).await.unwrap().notice_email, None, "no email promised");
}

/// A mail server that takes the connection but refuses the recipient, as a
/// real one does for an unknown mailbox: its reply repeats the address.
async fn refusing_mail_server() -> MailSettings {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 mail.example ESMTP\r\n").await.unwrap();
                while let Ok(Some(line)) = lines.next_line().await {
                    let reply = match line.get(..4).unwrap_or("").to_ascii_uppercase().as_str() {
                        "EHLO" | "HELO" => "250 mail.example\r\n".to_string(),
                        "RCPT" => format!("550 5.1.1 <{MARGARET}>: Recipient address rejected: unknown user\r\n"),
                        "QUIT" => "221 bye\r\n".to_string(),
                        _ => "250 OK\r\n".to_string(),
                    };
                    if write.write_all(reply.as_bytes()).await.is_err() || line.to_ascii_uppercase().starts_with("QUIT") {
                        break;
                    }
                }
            });
        }
    });
    MailSettings::new(&format!("smtp://127.0.0.1:{port}"), "Kith <kith@example.org>", "https://kith.example").unwrap()
}

async fn a_refused_address_is_given_up_without_keeping_it(db: &TestDb) {
    let on = same_kind(db, Settings { break_glass: true, mail: Some(refusing_mail_server().await), ..fast_settings() }).await;
    let k = &on.kith;
    let (_, pid) = margaret(k).await;
    let urgent = user(k, "Dr Urgent", "urgent@example.com", "clinician", "Out-of-area A&E").await;
    assert!(k.verify_clinician("urgent@example.com").await.unwrap());
    let urgent = k.actor(&urgent.user_id).await.unwrap().unwrap();
    k.break_glass(&urgent, &NhsNumber::parse("9434765919").unwrap(), "Unconscious in A&E, needs medicines and allergies", &Origin::default()).await.unwrap();
    // Her first view after emergency access is not news twice.
    let a = k.open_patient(&Principal::User(urgent), &pid, Right::Read).await.unwrap();
    k.summary(&a).await.unwrap();
    assert_eq!(on.mail_outbox(&pid).await.iter().map(|m| m.kind.as_str()).collect::<Vec<_>>(), ["emergency-access"]);
    // A permanent refusal is not tried again, and its reason keeps the code, not the reply.
    assert_eq!(k.send_due_mail().await.unwrap(), MailRun { sent: 0, failed: 0, given_up: 1 });
    let m = on.mail_outbox(&pid).await.remove(0);
    assert!(m.gave_up_at.is_some() && m.sent_at.is_none(), "{m:?}");
    assert_eq!(m.last_error.as_deref(), Some("the mail server refused it (code 550)"));
}

async fn wrong_passcodes_at_once_lock_the_link_once(db: &TestDb) {
    let on = same_kind(db, Settings { mail: Some(unreachable_mail()), ..fast_settings() }).await;
    let k = &on.kith;
    let (owner, pid) = margaret(k).await;
    let manage = k.own_record(&owner, Right::Manage).await.unwrap();
    let link = LinkInput { name: "A&E".into(), scope: Scope::whole(), expires_in_hours: None, passcode: Some("4821".into()), single_use: false };
    let url = k.create_link(&manage, &owner, link, "https://kith.example").await.unwrap().url;
    let token = url.rsplit('/').next().unwrap();
    let limit = kith_core::sharing::LINK_PASSCODE_LIMIT;
    for _ in 0..limit - 2 {
        assert!(k.open_link(token, "0000", "X", "Y", "Z", &Origin::default()).await.is_err());
    }
    // The last two allowed guesses and three more, all at once.
    let guesses: Vec<_> = (0..5)
        .map(|_| {
            let (k, token) = (k.clone(), token.to_string());
            tokio::spawn(async move { k.open_link(&token, "0000", "X", "Y", "Z", &Origin::default()).await.is_err() })
        })
        .collect();
    for g in guesses {
        assert!(g.await.unwrap(), "every wrong guess is refused");
    }
    let locked = k.notifications(&manage).await.unwrap().into_iter().filter(|(m, _)| m.contains("was locked")).count();
    assert_eq!(locked, 1, "the patient is told once");
    assert_eq!(on.mail_outbox(&pid).await.iter().filter(|m| m.kind == "link-locked").count(), 1);
    assert!(k.open_link(token, "4821", "Pat", "Paramedic", "YAS", &Origin::default()).await.is_err(), "locked, even to the right passcode");
}

async fn the_owner_can_turn_the_emails_off(db: &TestDb) {
    let on = same_kind(db, Settings { mail: Some(unreachable_mail()), ..fast_settings() }).await;
    let k = &on.kith;
    let (owner, pid) = margaret(k).await;
    let manage = k.own_record(&owner, Right::Manage).await.unwrap();
    let dr = user(k, "Dr Mind", "mind@example.com", "clinician", "").await;
    let invitation = k.create_grant(&manage, &owner, whole_record_view("mind@example.com"), "http://kith.test").await.unwrap();
    kith_core::testing::accept(k, &invitation, "mind@example.com").await;
    let access = k.open_patient(&Principal::User(dr.clone()), &pid, Right::Read).await.unwrap();
    k.summary(&access).await.unwrap();
    assert_eq!(on.mail_outbox(&pid).await.len(), 1);

    // Only the owner may turn them off; then a queued email is not sent.
    let as_manager = k.open_patient(&Principal::User(dr), &pid, Right::Read).await.unwrap();
    assert!(kith_core::testing::not_found(k.set_notice_emails(&as_manager, false).await), "not the clinician");
    k.set_notice_emails(&manage, false).await.unwrap();
    assert_eq!(k.send_due_mail().await.unwrap(), MailRun { sent: 0, failed: 0, given_up: 1 });
    let m = on.mail_outbox(&pid).await.remove(0);
    assert_eq!(m.last_error.as_deref(), Some("the patient turned these emails off"));
    assert!(k.notifications(&manage).await.unwrap().iter().any(|(m, _)| m.contains("first time")), "still told in the app");
    let log = k.access_log(&manage, &AccessLogQuery::default()).await.unwrap();
    assert_eq!(log.notice_email, Some(NoticeEmail { address: MARGARET.into(), on: false, for_carer: false, confirmed: true }));

    k.set_notice_emails(&manage, true).await.unwrap();
    assert!(k.access_log(&manage, &AccessLogQuery::default()).await.unwrap().notice_email.unwrap().on);
}

backend_tests!(
    a_carers_access_due_for_review_is_emailed_once_to_both,
    carers_acting_for_the_patient_are_emailed_too,
    the_owner_can_turn_the_emails_off,
    emails_are_queued_with_their_notifications,
    without_a_mail_server_nothing_is_queued,
    a_refused_address_is_given_up_without_keeping_it,
    wrong_passcodes_at_once_lock_the_link_once
);

/// A family carer who acts for the patient is emailed as she is, except
/// about their own first look; a carer who only views is not. Each turns
/// their own emails off, and a carer whose access ends gets no more.
async fn carers_acting_for_the_patient_are_emailed_too(db: &TestDb) {
    let on = same_kind(db, Settings { break_glass: true, mail: Some(unreachable_mail()), ..fast_settings() }).await;
    let k = &on.kith;
    let (owner, pid) = margaret(k).await;
    let manage = k.own_record(&owner, Right::Manage).await.unwrap();
    let david = user(k, "David Jones", "david@example.com", "carer", "").await;
    let sam = user(k, "Sam Viewer", "sam@example.com", "carer", "").await;
    let acts = GrantInput { role: "carer".into(), act_for: true, ..whole_record_view("david@example.com") };
    kith_core::testing::accept(k, &k.create_grant(&manage, &owner, acts, "http://kith.test").await.unwrap(), "david@example.com").await;
    let views = GrantInput { role: "carer".into(), ..whole_record_view("sam@example.com") };
    kith_core::testing::accept(k, &k.create_grant(&manage, &owner, views, "http://kith.test").await.unwrap(), "sam@example.com").await;
    let to = |q: &[kith_core::testing::QueuedMail]| {
        q.iter()
            .map(|m| (m.kind.clone(), m.recipient_user_id.clone().map_or("patient".to_string(), |u| if u == david.user_id { "david".into() } else { u })))
            .collect::<Vec<_>>()
    };
    let pair = |kind: &str, who: &str| (kind.to_string(), who.to_string());

    // An account with a record of its own may accept a carer's invitation,
    // but only a carer's account acts for her: Pat gets no emails.
    let pat = kith_core::testing::user(k, "Pat Patient", "pat@example.com", "patient", "").await;
    let acts_too = GrantInput { role: "carer".into(), act_for: true, ..whole_record_view("pat@example.com") };
    kith_core::testing::accept(k, &k.create_grant(&manage, &owner, acts_too, "http://kith.test").await.unwrap(), "pat@example.com").await;
    let pats = k.open_patient(&Principal::User(pat.clone()), &pid, Right::Read).await.unwrap();
    assert!(kith_core::testing::not_found(k.set_notice_emails(&pats, false).await), "nor a switch for them");

    // David's own first look is news to the patient only; Sam's to both.
    let acting = k.open_patient(&Principal::User(david.clone()), &pid, Right::Manage).await.unwrap();
    k.summary(&acting).await.unwrap();
    assert_eq!(to(&on.mail_outbox(&pid).await), [pair("first-view", "patient")]);
    k.summary(&k.open_patient(&Principal::User(sam.clone()), &pid, Right::Read).await.unwrap()).await.unwrap();
    assert_eq!(to(&on.mail_outbox(&pid).await), [pair("first-view", "patient"), pair("first-view", "patient"), pair("first-view", "david")]);

    // Each reader of the log sees their own address; David turns his off.
    let log = k.access_log(&acting, &AccessLogQuery::default()).await.unwrap();
    assert_eq!(log.notice_email, Some(NoticeEmail { address: "david@example.com".into(), on: true, for_carer: true, confirmed: true }));
    k.set_notice_emails(&acting, false).await.unwrap();
    assert!(!k.access_log(&acting, &AccessLogQuery::default()).await.unwrap().notice_email.unwrap().on);
    assert!(k.access_log(&manage, &AccessLogQuery::default()).await.unwrap().notice_email.unwrap().on, "the patient's stay on");
    assert_eq!(k.send_due_mail().await.unwrap(), MailRun { sent: 0, failed: 2, given_up: 1 });
    let davids = on.mail_outbox(&pid).await.into_iter().find(|m| m.recipient_user_id.as_deref() == Some(&david.user_id)).unwrap();
    assert_eq!(davids.last_error.as_deref(), Some("the carer turned these emails off"));

    // On again; emergency access is queued for him too, but by the time it
    // is sent the patient has stopped his access: not sent.
    k.set_notice_emails(&acting, true).await.unwrap();
    let urgent = user(k, "Dr Urgent", "urgent@example.com", "clinician", "Out-of-area A&E").await;
    assert!(k.verify_clinician("urgent@example.com").await.unwrap());
    let urgent = k.actor(&urgent.user_id).await.unwrap().unwrap();
    k.break_glass(&urgent, &NhsNumber::parse("9434765919").unwrap(), "Unconscious in A&E, needs medicines and allergies", &Origin::default()).await.unwrap();
    let queued: Vec<_> = to(&on.mail_outbox(&pid).await).into_iter().filter(|(kind, _)| kind == "emergency-access").collect();
    assert_eq!(queued, [pair("emergency-access", "patient"), pair("emergency-access", "david")]);
    let grant_id = k.sharing_view(&manage).await.unwrap().grants.into_iter().find(|g| g.email == "david@example.com").unwrap().id;
    k.revoke_grant(&manage, &grant_id).await.unwrap();
    on.execute("UPDATE mail_outbox SET next_attempt_at = 0 WHERE patient_id = $1 AND kind = 'emergency-access'", &[pid.as_str()]).await;
    let run = k.send_due_mail().await.unwrap();
    assert_eq!((run.sent, run.given_up), (0, 1), "{run:?}");
    let emergency = on.mail_outbox(&pid).await.into_iter().find(|m| m.kind == "emergency-access" && m.recipient_user_id.is_some()).unwrap();
    assert_eq!(emergency.last_error.as_deref(), Some("the carer no longer acts for this patient"));
}

/// A family carer's access that ends within 30 days is emailed about once,
/// to the patient (who may renew it) and to the carer (who may ask her to);
/// a renewal starts afresh. Invitations nobody accepted are not news.
async fn a_carers_access_due_for_review_is_emailed_once_to_both(db: &TestDb) {
    let on = same_kind(db, Settings { mail: Some(unreachable_mail()), ..fast_settings() }).await;
    let k = &on.kith;
    let (owner, pid) = margaret(k).await;
    let manage = k.own_record(&owner, Right::Manage).await.unwrap();
    let sue = user(k, "Sue Soon", "sue@example.com", "carer", "").await;
    user(k, "Tom Later", "tom@example.com", "carer", "").await;
    let carer = |email: &str, days: i64| GrantInput { role: "carer".into(), expires_in_days: Some(days), ..whole_record_view(email) };
    kith_core::testing::accept(k, &k.create_grant(&manage, &owner, carer("sue@example.com", 20), "http://kith.test").await.unwrap(), "sue@example.com").await;
    kith_core::testing::accept(k, &k.create_grant(&manage, &owner, carer("tom@example.com", 365), "http://kith.test").await.unwrap(), "tom@example.com").await;
    k.create_grant(&manage, &owner, carer("una@example.com", 20), "http://kith.test").await.unwrap();
    let reviews = |q: Vec<kith_core::testing::QueuedMail>| q.into_iter().filter(|m| m.kind == "carer-review").map(|m| m.recipient_user_id).collect::<Vec<_>>();

    let without_mail = Kith::new(k.db.clone(), fast_settings());
    assert_eq!(without_mail.queue_carer_reviews().await.unwrap(), 0, "nothing without a mail server");
    assert!(on.mail_outbox(&pid).await.is_empty());
    assert_eq!(k.queue_carer_reviews().await.unwrap(), 1);
    assert_eq!(reviews(on.mail_outbox(&pid).await), [None, Some(sue.user_id.clone())]);
    assert_eq!(k.queue_carer_reviews().await.unwrap(), 0, "once");

    // Renewed: a year away, so nothing; near its new end, told again.
    let sues = k.sharing_view(&manage).await.unwrap().grants.into_iter().find(|g| g.email == "sue@example.com").unwrap().id;
    k.renew_carer_grant(&manage, &sues).await.unwrap();
    assert_eq!(k.queue_carer_reviews().await.unwrap(), 0);
    let soon = chrono::Utc::now().timestamp_millis() + 10 * 24 * 3_600_000;
    on.execute(&format!("UPDATE grants SET expires_at = {soon} WHERE patient_id = $1 AND id = $2"), &[pid.as_str(), sues.as_str()]).await;
    assert_eq!(k.queue_carer_reviews().await.unwrap(), 1);
    assert_eq!(reviews(on.mail_outbox(&pid).await).len(), 4);

    // Sent to both while it is due (here the server is down, so kept to try
    // again); renewed since, neither is sent: it would no longer be true.
    assert_eq!(k.send_due_mail().await.unwrap(), MailRun { sent: 0, failed: 4, given_up: 0 });
    k.renew_carer_grant(&manage, &sues).await.unwrap();
    on.execute("UPDATE mail_outbox SET next_attempt_at = 0 WHERE patient_id = $1", &[pid.as_str()]).await;
    assert_eq!(k.send_due_mail().await.unwrap(), MailRun { sent: 0, failed: 0, given_up: 4 });
    let why = |q: Vec<kith_core::testing::QueuedMail>| q.into_iter().map(|m| m.last_error.unwrap_or_default()).collect::<Vec<_>>();
    assert!(why(on.mail_outbox(&pid).await).iter().all(|w| w == "the carer's access was renewed or has ended"));

    // Due again, then stopped: not sent either.
    on.execute(&format!("UPDATE grants SET expires_at = {soon} WHERE patient_id = $1 AND id = $2"), &[pid.as_str(), sues.as_str()]).await;
    assert_eq!(k.queue_carer_reviews().await.unwrap(), 1);
    k.revoke_grant(&manage, &sues).await.unwrap();
    assert_eq!(k.send_due_mail().await.unwrap(), MailRun { sent: 0, failed: 0, given_up: 2 });
    assert!(why(on.mail_outbox(&pid).await).iter().all(|w| w == "the carer's access was renewed or has ended"));
}

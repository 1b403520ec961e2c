//! The access log: what each access writes, that the chain catches changes
//! and deletions, that concurrent views keep one chain, checkpoints, and
//! emergency access. On SQLite and PostgreSQL.

use kith_core::audit::PendingLogCommits;
use kith_core::import::{ImportOutcome, ImportRequest};
use kith_core::policy::{Origin, Principal, Right, Scope};
use kith_core::sharing::{GrantInput, LinkInput};
use kith_core::testing::{not_found, user, TestDb};
use kith_core::{backend_tests, Actor, CoreError, Kith, Settings};
use kith_fhir::SourceKind;
use kith_types::audit::AccessLogQuery;
use kith_types::record::TimelineQuery;
use kith_types::{AppError, NhsNumber};

struct World {
    owner: Actor,
    patient_id: String,
}

async fn world(k: &Kith) -> World {
    kith_core::demo::load(k).await.unwrap();
    let owner = k.sign_in("margaret@demo.kith.example", "kettle orange stairs", "10.9.0.1").await.unwrap();
    let access = k.own_record(&owner, Right::Manage).await.unwrap();
    World { owner, patient_id: access.patient_id().to_string() }
}

async fn share(k: &Kith, w: &World, email: &str, role: &str, scope: Scope, act_for: bool) {
    let owner = k.own_record(&w.owner, Right::Manage).await.unwrap();
    let invitation = k
        .create_grant(
            &owner,
            &w.owner,
            GrantInput { email: email.into(), role: role.into(), scope, comment: false, contribute: false, act_for, expires_in_days: None },
            "http://kith.test",
        )
        .await
        .unwrap();
    kith_core::testing::accept(k, &invitation, email).await;
}

async fn views_say_who_how_and_what(db: &TestDb) {
    let k = &db.kith;
    let w = world(k).await;
    let before = db.log(&w.patient_id).await;
    assert_eq!(before.last().unwrap().action, "sign-in", "the patient's own sign-in is logged");
    assert_eq!(before.last().unwrap().address, "10.9.0.1");

    // The owner's summary: one row, their own account, the entries shown.
    let owner = k.own_record(&w.owner, Right::Read).await.unwrap().from_origin(Origin { address: "10.9.0.1".into(), user_agent: "Test/1".into() });
    let summary = k.summary(&owner).await.unwrap();
    let log = db.log(&w.patient_id).await;
    assert_eq!(log.len(), before.len() + 1);
    let row = log.last().unwrap();
    assert_eq!((row.action.as_str(), row.what.as_str(), row.via.as_str(), row.actor_name.as_str()), ("view", "summary", "own", "Margaret Jones"));
    assert!(row.entries.contains(&summary.allergies[0].id), "the entries shown are named");
    assert!(row.labels.contains("general"));
    // The care plan names the problems it lists.
    let plan = k.care_plan(&owner).await.unwrap();
    let row = db.log(&w.patient_id).await.pop().unwrap();
    assert_eq!(row.what, "care plan");
    assert!(!plan.conditions.is_empty() && plan.conditions.iter().all(|(id, _)| row.entries.contains(id)), "{}", row.entries);

    // A clinician with the mental-health entries only: labels say so, and the
    // patient is told the first time, not the second.
    let dr = user(k, "Dr Mind", "mind@example.com", "clinician", "Leeds Mental Health Trust").await;
    share(k, &w, "mind@example.com", "clinician", Scope { labels: vec!["mental-health".into()], ..Default::default() }, false).await;
    let mh = k.open_patient(&Principal::User(dr.clone()), &w.patient_id, Right::Read).await.unwrap();
    let page = k.timeline(&mh, &TimelineQuery::default()).await.unwrap();
    let row = db.log(&w.patient_id).await.pop().unwrap();
    assert_eq!((row.action.as_str(), row.what.as_str(), row.via.as_str(), row.actor_org.as_str()), ("view", "timeline", "grant", "Leeds Mental Health Trust"));
    let owner_view = k.own_record(&w.owner, Right::Manage).await.unwrap();
    let g = k.sharing_view(&owner_view).await.unwrap().grants.into_iter().find(|g| g.email == "mind@example.com").unwrap();
    assert!(g.last_used.is_some(), "the Sharing page shows when a grant was last used");
    assert_eq!(row.labels, r#"["mental-health"]"#);
    let entry_id = page.days[0].1[0].id.clone();
    k.entry(&mh, &entry_id).await.unwrap();
    let owner_manage = k.own_record(&w.owner, Right::Manage).await.unwrap();
    let firsts = k.notifications(&owner_manage).await.unwrap().into_iter().filter(|(m, _)| m.contains("Dr Mind") && m.contains("first time")).count();
    assert_eq!(firsts, 1, "told once, on the first view");
    let seen = k.seen_by(&owner_manage, &entry_id).await.unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].who, "Dr Mind");
    assert_eq!(seen[0].times, 2, "the timeline and the entry page");
    // Comments are record content: reading them is logged, unless none.
    let n = db.log(&w.patient_id).await.len();
    assert!(k.comments(&mh, &entry_id).await.unwrap().comments.is_empty());
    assert_eq!(db.log(&w.patient_id).await.len(), n, "no comments, nothing shown");
    k.add_comment(&k.own_record(&w.owner, Right::Comment).await.unwrap(), &entry_id, "Started after the move; better since.").await.unwrap();
    assert_eq!(k.comments(&mh, &entry_id).await.unwrap().comments.len(), 1);
    let row = db.log(&w.patient_id).await.pop().unwrap();
    assert_eq!((row.action.as_str(), row.what.as_str(), row.actor_name.as_str()), ("view", "comments on an entry", "Dr Mind"));
    assert!(row.entries.contains(&entry_id));
    assert_eq!(k.seen_by(&owner_manage, &entry_id).await.unwrap()[0].times, 2, "page views only");

    // Someone whose first look is a download is news too.
    let gp = user(k, "Dr Download", "download@example.com", "clinician", "Otley GP").await;
    share(k, &w, "download@example.com", "clinician", Scope::whole(), false).await;
    let gp_access = k.open_patient(&Principal::User(gp), &w.patient_id, Right::Read).await.unwrap();
    k.export_bundle(&gp_access).await.unwrap();
    k.summary(&gp_access).await.unwrap();
    let told: Vec<String> = k
        .notifications(&owner_manage)
        .await
        .unwrap()
        .into_iter()
        .map(|(m, _)| m)
        .filter(|m| m.contains("Dr Download") && !m.contains("accepted your invitation"))
        .collect();
    assert_eq!(told.len(), 1, "told once, at the download: {told:?}");
    assert!(told[0].contains("downloaded a copy of your record"), "{told:?}");
    let download = db.log(&w.patient_id).await.into_iter().rev().find(|r| r.action == "export").unwrap();
    assert!(download.entries.contains(&summary.allergies[0].id) && download.labels.contains("mental-health"), "a download names what it disclosed");
    let seen = k.seen_by(&owner_manage, &summary.allergies[0].id).await.unwrap();
    assert!(seen.iter().any(|s| s.who == "Dr Download" && s.times == 2), "downloads count as seeing: {seen:?}");

    // A carer acting for the patient: "carer X for patient Y".
    let carer = user(k, "David Act", "act@example.com", "carer", "").await;
    share(k, &w, "act@example.com", "carer", Scope::whole(), true).await;
    let acting = k.open_patient(&Principal::User(carer), &w.patient_id, Right::Read).await.unwrap();
    k.results(&acting).await.unwrap();
    let row = db.log(&w.patient_id).await.pop().unwrap();
    assert_eq!((row.via.as_str(), row.on_behalf_of.as_deref()), ("act-for", Some("Margaret Jones")));
    // The Sharing page and the messages name people: a carer acting for the
    // patient reading them is logged; the patient's own reads are not.
    let acting_manage = k
        .open_patient(&Principal::User(k.sign_in("act@example.com", "kettle orange stairs", "10.9.0.3").await.unwrap()), &w.patient_id, Right::Manage)
        .await
        .unwrap();
    k.sharing_view(&acting_manage).await.unwrap();
    assert_eq!(db.log(&w.patient_id).await.pop().unwrap().what, "sharing settings");
    k.notifications(&acting_manage).await.unwrap();
    let row = db.log(&w.patient_id).await.pop().unwrap();
    assert_eq!((row.what.as_str(), row.via.as_str()), ("messages", "act-for"));
    let n = db.log(&w.patient_id).await.len();
    k.sharing_view(&owner_manage).await.unwrap();
    k.notifications(&owner_manage).await.unwrap();
    assert_eq!(db.log(&w.patient_id).await.len(), n);

    // A link viewer: the name and organisation they gave.
    let made = k
        .create_link(
            &owner_manage,
            &w.owner,
            LinkInput { name: "A&E".into(), scope: Scope::whole(), expires_in_hours: None, passcode: Some("4821".into()), single_use: false },
            "http://kith.test",
        )
        .await
        .unwrap();
    let token = made.url.rsplit('/').next().unwrap().to_string();
    assert!(k.open_link(&token, "0000", "Pat Medic", "Paramedic", "Yorkshire Ambulance Service", &Origin::default()).await.is_err());
    let failed = db.log(&w.patient_id).await.pop().unwrap();
    assert_eq!((failed.action.as_str(), failed.actor_name.as_str()), ("passcode-failed", "Pat Medic"));
    let v = k.open_link(&token, "4821", "Pat Medic", "Paramedic", "Yorkshire Ambulance Service", &Origin::default()).await.unwrap();
    let link = k.open_patient(&Principal::LinkViewer(v), &w.patient_id, Right::Read).await.unwrap();
    k.summary(&link).await.unwrap();
    let row = db.log(&w.patient_id).await.pop().unwrap();
    assert_eq!((row.via.as_str(), row.actor_name.as_str(), row.actor_org.as_str()), ("link", "Pat Medic", "Yorkshire Ambulance Service"));

    // Failed sign-ins of the patient's own account are in their log.
    assert!(k.sign_in("margaret@demo.kith.example", "wrong password here", "10.9.0.9").await.is_err());
    let row = db.log(&w.patient_id).await.pop().unwrap();
    assert_eq!((row.action.as_str(), row.address.as_str()), ("sign-in-failed", "10.9.0.9"));

    // The page: filters, "new since", and the chain checks.
    let view = k.access_log(&owner_manage, &AccessLogQuery { organisation: "Leeds Mental Health Trust".into(), ..Default::default() }).await.unwrap();
    assert!(view.check.ok(), "{:?}", view.check);
    assert!(!view.events.is_empty() && view.events.iter().all(|e| e.organisation == "Leeds Mental Health Trust"));
    assert!(view.events.windows(2).all(|p| p[0].seq > p[1].seq), "newest first");
    // The label filter: only accesses that disclosed mental-health entries.
    let mental = k.access_log(&owner_manage, &AccessLogQuery { label: "mental-health".into(), ..Default::default() }).await.unwrap();
    assert!(mental.events.iter().any(|e| e.who == "Dr Mind"), "the clinician's views are there");
    let mh_views = db.log(&w.patient_id).await.into_iter().filter(|r| r.labels.contains("mental-health")).count();
    assert_eq!(mental.events.len(), mh_views, "and nothing that did not show mental-health entries");
    // The date filter: today holds everything, a day long past nothing.
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let on_today = k.access_log(&owner_manage, &AccessLogQuery { from: today.clone(), to: today, ..Default::default() }).await.unwrap();
    assert!(!on_today.events.is_empty());
    let long_ago = k.access_log(&owner_manage, &AccessLogQuery { from: "2001-01-01".into(), to: "2001-12-31".into(), ..Default::default() }).await.unwrap();
    assert!(long_ago.events.is_empty(), "{:?}", long_ago.events.first());
    let everyone = k.access_log(&owner_manage, &AccessLogQuery::default()).await.unwrap();
    assert!(everyone.new_count > 0, "filtered looks do not count as having seen everything");
    let everyone = k.access_log(&owner_manage, &AccessLogQuery::default()).await.unwrap();
    assert_eq!(everyone.new_count, 0, "nothing is new since the last look a moment ago");
    k.summary(&link).await.unwrap();
    // A filtered look that hides the new view leaves it new.
    let filtered = k.access_log(&owner_manage, &AccessLogQuery { action: "sign-in".into(), ..Default::default() }).await.unwrap();
    assert_eq!(filtered.new_count, 0);
    let again = k.access_log(&owner_manage, &AccessLogQuery::default()).await.unwrap();
    // Only the link view: the patient's own looks at the log are never news.
    assert_eq!(again.new_count, 1, "{:?}", again.events.iter().take(3).collect::<Vec<_>>());
    let new: Vec<_> = again.events.iter().filter(|e| e.is_new).collect();
    assert!(new.len() == 1 && new[0].who == "Pat Medic", "{new:?}");
    // Only the owner (or a carer acting for them) reads the log.
    assert!(not_found(k.access_log(&mh, &AccessLogQuery::default()).await));
    assert!(not_found(k.audit_csv(&mh).await));
}

async fn changes_and_deletions_are_caught(db: &TestDb) {
    let k = &db.kith;
    let w = world(k).await;
    let owner = k.own_record(&w.owner, Right::Manage).await.unwrap();
    for _ in 0..5 {
        k.summary(&owner).await.unwrap();
    }
    assert!(k.verify_chain(&w.patient_id).await.unwrap().ok());
    let n = db.log(&w.patient_id).await.len() as i64;

    // The app's own connection cannot change or delete a row.
    let refused = db.tamper(&format!("UPDATE audit_events SET actor_name = 'Nobody' WHERE patient_id = '{}' AND seq = 3", w.patient_id)).await;
    let refusal = match db.kith.db.backend() {
        kith_core::Backend::Sqlite => "append-only",
        kith_core::Backend::Postgres => "permission denied",
    };
    assert!(refused.as_deref().is_some_and(|e| e.contains(refusal)), "the app could change the log: {refused:?}");
    let check = k.verify_chain(&w.patient_id).await.unwrap();
    assert_eq!(check.broken_at.as_ref().map(|b| b.0), Some(3), "{check:?}");
    assert!(check.broken_at.unwrap().1.contains("changed"));

    // Deleting the newest row is caught too (the head remembers it).
    let db2 = same_kind(db, kith_core::testing::fast_settings()).await;
    let k2 = &db2.kith;
    let w2 = world(k2).await;
    let o2 = k2.own_record(&w2.owner, Right::Read).await.unwrap();
    k2.summary(&o2).await.unwrap();
    k2.summary(&o2).await.unwrap();
    let last = db2.log(&w2.patient_id).await.len();
    db2.tamper(&format!("DELETE FROM audit_events WHERE patient_id = '{}' AND seq = {last}", w2.patient_id)).await;
    assert_eq!(k2.verify_chain(&w2.patient_id).await.unwrap().broken_at.map(|b| b.0), Some(last as i64));
    // And a row from the middle.
    db.tamper(&format!("DELETE FROM audit_events WHERE patient_id = '{}' AND seq = {}", w.patient_id, n - 1)).await;
    let all = k.verify_all().await.unwrap();
    let mine = all.iter().find(|(nhs, _)| nhs == "9434765919").unwrap();
    assert_eq!(mine.1.broken_at.as_ref().map(|b| b.0), Some(3), "the first broken record is named");
}

async fn checkpoints_catch_a_rewritten_history(db: &TestDb) {
    let k = &db.kith;
    let w = world(k).await;
    let owner = k.own_record(&w.owner, Right::Manage).await.unwrap();
    k.summary(&owner).await.unwrap();
    assert!(k.checkpoint().await.unwrap() >= 1);
    assert_eq!(k.checkpoint().await.unwrap(), 0, "nothing moved since");
    let check = k.verify_chain(&w.patient_id).await.unwrap();
    assert!(check.ok() && check.checkpoints == 1, "{check:?}");
    let cps = k.audit_checkpoints_json(&owner).await.unwrap();
    assert_eq!(cps["server_public_key"], k.audit_public_key());
    assert_eq!(cps["checkpoints"].as_array().unwrap().len(), 1);
    assert_eq!(db.log(&w.patient_id).await.pop().unwrap().what, "access log checkpoints", "the download is logged");

    // Someone with the database rewrites the whole chain consistently: every
    // hash recomputed, the head moved. Only the signed checkpoint shows it.
    let forged_first = cps["checkpoints"][0]["seq"].as_i64().unwrap();
    cut_history_from(db, &w.patient_id, forged_first).await;
    let check = k.verify_chain(&w.patient_id).await.unwrap();
    assert_eq!(check.broken_at.as_ref().map(|b| b.0), Some(forged_first), "{check:?}");
}

/// The timer `kith serve` runs: the first round signs at once, later rounds
/// sign whatever moved since, and nothing when nothing moved.
async fn checkpoints_are_signed_on_a_timer(db: &TestDb) {
    let k = &db.kith;
    let w = world(k).await;
    let owner = k.own_record(&w.owner, Right::Manage).await.unwrap();
    let signed = || async { k.verify_chain(&w.patient_id).await.unwrap().checkpoints };
    let wait_for = |n: usize| async move {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while signed().await < n {
            assert!(std::time::Instant::now() < until, "no checkpoint {n} within 20 s");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    assert_eq!(signed().await, 0);
    let timer = k.sign_checkpoints_every(std::time::Duration::from_millis(300));
    wait_for(1).await;
    // Three more rounds with nothing moved sign nothing.
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    assert_eq!(signed().await, 1, "a head that did not move is not signed again");
    k.summary(&owner).await.unwrap();
    let head = db.log(&w.patient_id).await.last().unwrap().seq;
    wait_for(2).await;
    timer.abort();
    let cps = k.audit_checkpoints_json(&owner).await.unwrap();
    assert_eq!(cps["checkpoints"].as_array().unwrap().iter().map(|c| c["seq"].as_i64().unwrap()).max(), Some(head), "the new head is signed");
    assert!(k.verify_chain(&w.patient_id).await.unwrap().ok());
}

async fn concurrent_views_keep_one_chain(db: &TestDb) {
    let k = &db.kith;
    let w = world(k).await;
    let dr = user(k, "Dr Whole", "whole@example.com", "clinician", "St James's").await;
    share(k, &w, "whole@example.com", "clinician", Scope::whole(), false).await;
    let before = db.log(&w.patient_id).await.len();
    let mut tasks = Vec::new();
    for i in 0..24 {
        let k = k.clone();
        let (owner, dr, pid) = (w.owner.clone(), dr.clone(), w.patient_id.clone());
        tasks.push(tokio::spawn(async move {
            let who = if i % 2 == 0 { Principal::User(owner) } else { Principal::User(dr) };
            let a = k.open_patient(&who, &pid, Right::Read).await.unwrap();
            match i % 3 {
                0 => drop(k.summary(&a).await.unwrap()),
                1 => drop(k.timeline(&a, &TimelineQuery::default()).await.unwrap()),
                _ => drop(k.results(&a).await.unwrap()),
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let log = db.log(&w.patient_id).await;
    assert_eq!(log.len(), before + 24, "every view logged once");
    assert!(log.iter().enumerate().all(|(i, r)| r.seq == i as i64 + 1), "no gaps or forks");
    let check = k.verify_chain(&w.patient_id).await.unwrap();
    assert!(check.ok(), "{check:?}");
}

/// `verify` reads the rows, the head and the checkpoints while the record is
/// in use; views and checkpoints landing between those reads must not look
/// like tampering (a live server's `kith audit verify` would cry wolf).
async fn verify_is_not_fooled_by_a_busy_record(db: &TestDb) {
    let k = &db.kith;
    let w = world(k).await;
    let mut busy = Vec::new();
    for i in 0..3 {
        let (k, owner) = (k.clone(), w.owner.clone());
        busy.push(tokio::spawn(async move {
            for _ in 0..60 {
                let a = k.own_record(&owner, Right::Read).await.unwrap();
                k.timeline(&a, &TimelineQuery::default()).await.unwrap();
                if i == 0 {
                    k.checkpoint().await.unwrap();
                }
            }
        }));
    }
    let mut checks = 0;
    while !busy.iter().all(|t| t.is_finished()) {
        let check = k.verify_chain(&w.patient_id).await.unwrap();
        assert!(check.ok(), "verify {checks} reported a break in an untouched log: {check:?}");
        checks += 1;
    }
    for t in busy {
        t.await.unwrap();
    }
    assert!(checks >= 5, "too little overlap: {checks} checks during 180 views");
}

/// With two-step verification on, the sign-in is logged once the second
/// step is done; a wrong code is logged as a failed sign-in (it means
/// someone has the password).
async fn two_step_sign_ins_are_logged_when_finished(db: &TestDb) {
    let k = &db.kith;
    let w = world(k).await;
    let setup = k.begin_totp(&w.owner, "margaret@demo.kith.example").await.unwrap();
    let code = kith_core::two_step::current_code(&setup.secret);
    let recovery = k.confirm_totp(&w.owner, &code, &Origin::default()).await.unwrap();
    let before = db.log(&w.patient_id).await.len();
    let from = Origin { address: "10.9.0.7".into(), user_agent: "Test/2".into() };
    let actor = k.sign_in_from("margaret@demo.kith.example", "kettle orange stairs", &from).await.unwrap();
    assert_eq!(db.log(&w.patient_id).await.len(), before, "not signed in yet: the code is still owed");
    assert!(k.verify_second_step(&actor.user_id, "not a code", &from).await.is_err());
    let row = db.log(&w.patient_id).await.pop().unwrap();
    assert_eq!((row.action.as_str(), row.what.as_str(), row.address.as_str()), ("sign-in-failed", "account: right password, wrong two-step code", "10.9.0.7"));
    k.verify_second_step(&actor.user_id, &recovery[0], &from).await.unwrap();
    let row = db.log(&w.patient_id).await.pop().unwrap();
    assert_eq!((row.action.as_str(), row.what.as_str()), ("sign-in", "account (password and recovery code)"));
    assert_eq!(db.log(&w.patient_id).await.len(), before + 2);
    assert!(k.verify_chain(&w.patient_id).await.unwrap().ok());
}

/// The chain file lets a third party check the log without the database:
/// every hash recomputed from the records, every signature checked, and,
/// with a file kept from before, a history rewritten since then caught.
async fn a_chain_file_can_be_checked_by_anyone(db: &TestDb) {
    use kith_core::audit::verify_chain_file;
    let k = &db.kith;
    let w = world(k).await;
    let owner = k.own_record(&w.owner, Right::Manage).await.unwrap();
    k.summary(&owner).await.unwrap();
    assert!(k.checkpoint().await.unwrap() >= 1);
    let kept = k.audit_chain_file(&owner).await.unwrap().to_string();
    let check = verify_chain_file(&kept, &[], None).unwrap();
    assert!(check.ok() && check.checkpoints == 1, "{check:?}");
    assert_eq!(check.records as usize, db.log(&w.patient_id).await.len() - 1, "all but the download's own row");

    // A record changed in the file is caught, so is a key the checker does not trust.
    let mut v: serde_json::Value = serde_json::from_str(&kept).unwrap();
    v["records"][2]["actor_name"] = "Somebody Else".into();
    let changed = verify_chain_file(&v.to_string(), &[], None).unwrap();
    assert_eq!(changed.broken_at.as_ref().map(|b| b.0), Some(3), "{changed:?}");
    let other_key = "11".repeat(32);
    let untrusted = verify_chain_file(&kept, &[], Some(other_key.as_str())).unwrap();
    assert!(untrusted.broken_at.as_ref().is_some_and(|b| b.1.contains("signature")), "{untrusted:?}");
    assert!(verify_chain_file("{\"resourceType\": \"Bundle\"}", &[], None).is_err(), "not a chain file");

    // Someone with the database rewrites history after the checkpoint and
    // removes the checkpoint: the new file is consistent in itself, but not
    // with the one the patient kept.
    let signed_seq: i64 = v["checkpoints"][0]["seq"].as_i64().unwrap();
    db.tamper(&format!("DELETE FROM audit_checkpoints WHERE patient_id = '{}'", w.patient_id)).await;
    cut_history_from(db, &w.patient_id, signed_seq).await;
    k.timeline(&owner, &TimelineQuery::default()).await.unwrap();
    let later = k.audit_chain_file(&owner).await.unwrap().to_string();
    assert!(verify_chain_file(&later, &[], None).unwrap().ok(), "consistent on its own");
    let against_kept = verify_chain_file(&later, &[&kept], None).unwrap();
    assert_eq!(against_kept.broken_at.as_ref().map(|b| b.0), Some(signed_seq), "{against_kept:?}");
    // A checkpoints download kept from before works as well.
    let cps = serde_json::json!({ "format": "kith-audit-checkpoint-v1", "patient_id": v["patient_id"], "server_public_key": v["server_public_key"], "checkpoints": v["checkpoints"] }).to_string();
    assert_eq!(verify_chain_file(&later, &[&cps], None).unwrap().broken_at.map(|b| b.0), Some(signed_seq));
}

/// Changes to the patient's own account are in their record's log, with
/// where they came from; a refused change leaves nothing.
async fn account_changes_are_in_the_log(db: &TestDb) {
    let k = &db.kith;
    let w = world(k).await;
    let from = Origin { address: "10.9.0.8".into(), user_agent: "Test/3".into() };
    let last = || async { db.log(&w.patient_id).await.pop().unwrap() };
    let n = db.log(&w.patient_id).await.len();
    assert!(k.change_password(&w.owner, "not the password", "river lantern moss", "river lantern moss", "s1", &from).await.is_err());
    assert_eq!(db.log(&w.patient_id).await.len(), n, "refused: nothing changed, nothing logged");
    k.change_password(&w.owner, "kettle orange stairs", "river lantern moss", "river lantern moss", "s1", &from).await.unwrap();
    let row = last().await;
    assert_eq!(
        (row.action.as_str(), row.what.as_str(), row.via.as_str(), row.address.as_str()),
        ("update", "account: password changed, other sessions ended", "own", "10.9.0.8")
    );
    let setup = k.begin_totp(&w.owner, "margaret@demo.kith.example").await.unwrap();
    k.confirm_totp(&w.owner, &kith_core::two_step::current_code(&setup.secret), &from).await.unwrap();
    assert_eq!(last().await.what, "account: two-step verification switched on");
    k.disable_totp(&w.owner, "river lantern moss", &from).await.unwrap();
    assert_eq!(last().await.what, "account: two-step verification switched off");
    k.sign_out_everywhere(&w.owner, &from).await.unwrap();
    assert!(last().await.what.starts_with("account: signed out everywhere"));
    let owner = k.own_record(&w.owner, Right::Manage).await.unwrap().from_origin(from.clone());
    k.set_notice_emails(&owner, false).await.unwrap();
    assert_eq!(last().await.what, "emails about this record stopped");
    assert_eq!(db.log(&w.patient_id).await.len(), n + 5);
    assert!(k.verify_chain(&w.patient_id).await.unwrap().ok());
    // Someone without a record changes theirs without a log to write to.
    let dr = user(k, "Dr Plain", "plain@example.com", "clinician", "Otley GP").await;
    k.change_password(&dr, "kettle orange stairs", "river lantern moss", "river lantern moss", "s1", &from).await.unwrap();
    assert_eq!(db.log(&w.patient_id).await.len(), n + 5);
}

async fn emergency_access_is_off_by_default_and_stands_out(db: &TestDb) {
    let k = &db.kith;
    world(k).await;
    let dr = user(k, "Dr Urgent", "urgent@example.com", "clinician", "Out-of-area A&E").await;
    let nhs = NhsNumber::parse("9434765919").unwrap();
    assert!(not_found(k.break_glass(&dr, &nhs, "Unconscious, needs medicines list", &Origin::default()).await), "off unless the deployment says");

    let on = same_kind(db, Settings { break_glass: true, ..kith_core::testing::fast_settings() }).await;
    let k = &on.kith;
    let w = world(k).await;
    let dr = user(k, "Dr Urgent", "urgent@example.com", "clinician", "Out-of-area A&E").await;
    let carer = user(k, "Not A Doctor", "carer@example.com", "carer", "").await;
    assert!(not_found(k.break_glass(&carer, &nhs, "I would like to look please", &Origin::default()).await), "clinicians only");
    assert!(not_found(k.open_patient(&Principal::User(dr.clone()), &w.patient_id, Right::Read).await), "no access before");
    // Anyone can sign up calling themselves a clinician: until their staff
    // identity is checked they are refused, and nothing is written.
    let log_before = db.log(&w.patient_id).await.len();
    let unchecked = k.break_glass(&dr, &nhs, "Unconscious in A&E, needs medicines and allergies", &Origin::default()).await;
    assert!(
        matches!(&unchecked, Err(CoreError::User(AppError::Conflict(m))) if m.contains("staff identity")),
        "unchecked clinicians are refused: {unchecked:?}"
    );
    assert_eq!(db.log(&w.patient_id).await.len(), log_before);
    assert_eq!(db.count_where("break_glass", "user_id", &dr.user_id).await, 0);
    assert!(!k.me(&dr).await.unwrap().break_glass && k.me(&dr).await.unwrap().break_glass_unverified, "the home page says why");
    assert!(!k.verify_clinician("carer@example.com").await.unwrap(), "only clinicians are checked");
    assert!(!k.verify_clinician("nobody@example.com").await.unwrap());
    assert!(k.verify_clinician("Urgent@Example.com").await.unwrap());
    let dr = k.actor(&dr.user_id).await.unwrap().unwrap();
    assert!(dr.verified_clinician && k.me(&dr).await.unwrap().break_glass);
    let short = k.break_glass(&dr, &nhs, "urgent", &Origin::default()).await;
    assert!(matches!(short, Err(CoreError::User(AppError::Validation { .. }))), "a reason is required");
    let pid = k
        .break_glass(&dr, &nhs, "Unconscious in A&E, needs medicines and allergies", &Origin { address: "10.1.1.1".into(), user_agent: String::new() })
        .await
        .unwrap();
    assert_eq!(pid, w.patient_id);
    let a = k.open_patient(&Principal::User(dr.clone()), &pid, Right::Read).await.unwrap();
    let s = k.summary(&a).await.unwrap();
    assert!(!s.allergies.is_empty(), "the clinician sees what care needs");
    assert!(not_found(k.open_patient(&Principal::User(dr.clone()), &pid, Right::Manage).await), "but does not manage the record");
    // The rest of the break-glass row of the sharing matrix: entry pages with
    // their original FHIR, an export of what it shows, comments; no care plan
    // changes (no contribute right), no sharing settings.
    let first = s.allergies[0].id.clone();
    assert!(!k.entry(&a, &first).await.unwrap().sources[0].json.is_empty(), "raw FHIR shown");
    let export = k.export_bundle(&a).await.unwrap();
    assert!(!export["entry"].as_array().unwrap().is_empty());
    let commenting = k.open_patient(&Principal::User(dr.clone()), &pid, Right::Comment).await.unwrap();
    assert!(k.add_comment(&commenting, &first, "Seen in A&E; allergy confirmed with patient.").await.is_ok());
    assert!(not_found(k.open_patient(&Principal::User(dr.clone()), &pid, Right::Contribute).await));
    assert!(not_found(k.sharing_view(&a).await));
    let log = on.log(&pid).await;
    let glass: Vec<_> = log.iter().filter(|r| r.via == "break-glass").collect();
    assert_eq!(
        glass.iter().map(|r| r.action.as_str()).collect::<Vec<_>>(),
        ["break-glass", "view", "view", "export", "comment"],
        "the opening, then every use"
    );
    assert_eq!(glass[0].action, "break-glass");
    assert_eq!(glass[0].reason.as_deref(), Some("Unconscious in A&E, needs medicines and allergies"));
    let owner = k.own_record(&w.owner, Right::Manage).await.unwrap();
    assert!(k.notifications(&owner).await.unwrap().iter().any(|(m, _)| m.contains("Emergency access") && m.contains("Dr Urgent")));
    let page = k.access_log(&owner, &AccessLogQuery { action: "break-glass".into(), ..Default::default() }).await.unwrap();
    assert!(page.events.len() == 1 && page.events[0].stands_out);
    // Private entries stay hidden even in an emergency.
    let ids: Vec<String> = k.timeline(&a, &TimelineQuery::default()).await.unwrap().days.iter().flat_map(|(_, c)| c.iter().map(|c| c.label.clone())).collect();
    assert!(ids.iter().all(|l| l != "private"));
}

async fn exports_cover_the_whole_log(db: &TestDb) {
    let k = &db.kith;
    let w = world(k).await;
    let owner = k.own_record(&w.owner, Right::Manage).await.unwrap();
    k.summary(&owner).await.unwrap();
    let n = db.log(&w.patient_id).await.len();
    let bundle = k.audit_events_bundle(&owner).await.unwrap();
    assert_eq!(bundle["resourceType"], "Bundle");
    let entries = bundle["entry"].as_array().unwrap();
    assert_eq!(entries.len(), n, "every event before the export");
    assert!(entries.iter().all(|e| e["resource"]["resourceType"] == "AuditEvent" && e["resource"]["agent"][0]["requestor"] == true));
    let csv = k.audit_csv(&owner).await.unwrap();
    assert_eq!(csv.lines().count(), n + 2, "a header, the events, and the FHIR export just made");
    let log = db.log(&w.patient_id).await;
    assert_eq!(log.last().unwrap().action, "export");
}

/// Page views commit their log rows in the background while the web layer
/// renders; the response waits on `settle`, which fails when a row could
/// not be written (and then nothing may be shown).
async fn background_view_commits_are_settled_before_anything_is_shown(db: &TestDb) {
    let k = &db.kith;
    let w = world(k).await;
    let before = db.log(&w.patient_id).await.len();
    let pending = PendingLogCommits::default();
    let owner = k.own_record(&w.owner, Right::Read).await.unwrap().with_pending_log_commits(pending.clone());
    k.summary(&owner).await.unwrap();
    k.timeline(&owner, &TimelineQuery::default()).await.unwrap();
    pending.settle().await.unwrap();
    let log = db.log(&w.patient_id).await;
    assert_eq!(log.len(), before + 2, "both views are in the log once settled");
    // Both commits ran at once, so either may have taken the head first.
    let mut pages = [log[before].what.as_str(), log[before + 1].what.as_str()];
    pages.sort();
    assert_eq!(pages, ["summary", "timeline"]);

    // Many requests at once, each with its own pending commits: one chain.
    let dr = user(k, "Dr Late", "late@example.com", "clinician", "St James's").await;
    share(k, &w, "late@example.com", "clinician", Scope::whole(), false).await;
    let before = db.log(&w.patient_id).await.len();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let k = k.clone();
        let (owner, dr, pid) = (w.owner.clone(), dr.clone(), w.patient_id.clone());
        tasks.push(tokio::spawn(async move {
            let who = if i % 2 == 0 { Principal::User(owner) } else { Principal::User(dr) };
            let pending = PendingLogCommits::default();
            let a = k.open_patient(&who, &pid, Right::Read).await.unwrap().with_pending_log_commits(pending.clone());
            k.timeline(&a, &TimelineQuery::default()).await.unwrap();
            pending.settle().await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let log = db.log(&w.patient_id).await;
    assert_eq!(log.len(), before + 16);
    assert!(k.verify_chain(&w.patient_id).await.unwrap().ok());
    let owner_manage = k.own_record(&w.owner, Right::Manage).await.unwrap();
    let firsts = k.notifications(&owner_manage).await.unwrap().into_iter().filter(|(m, _)| m.contains("Dr Late") && m.contains("first time")).count();
    assert_eq!(firsts, 1, "eight views at once by one clinician: the patient is told once");

    // A log row that cannot be written (its place in the chain taken behind
    // the app's back): the read returns, but settling fails, and no view row
    // or moved head is left.
    let next = log.len() + 1;
    db.block_next_log_row(&w.patient_id).await;
    let pending = PendingLogCommits::default();
    let owner = k.own_record(&w.owner, Right::Read).await.unwrap().with_pending_log_commits(pending.clone());
    assert!(k.summary(&owner).await.is_ok(), "the reads themselves succeed");
    assert!(pending.settle().await.is_err(), "settling reports the log row that could not be written");
    let after = db.log(&w.patient_id).await;
    assert_eq!(after.len(), next, "only the blocking row was added");
    // Without pending commits the same failure is the view's own error.
    assert!(k.summary(&k.own_record(&w.owner, Right::Read).await.unwrap()).await.is_err());
}

/// What someone with the database could do to hide records from `seq` on:
/// delete them and move the chain head back, so the chain is consistent.
async fn cut_history_from(db: &TestDb, patient_id: &str, seq: i64) {
    db.tamper(&format!("DELETE FROM audit_events WHERE patient_id = '{patient_id}' AND seq >= {seq}")).await;
    let prev = seq - 1;
    db.tamper(&format!(
        "UPDATE audit_heads SET seq = {prev}, hash = (SELECT hash FROM audit_events WHERE patient_id = '{patient_id}' AND seq = {prev}) WHERE patient_id = '{patient_id}'"
    ))
    .await;
}

/// A second database of the same kind as `db`, with other settings.
async fn same_kind(db: &TestDb, settings: Settings) -> TestDb {
    match db.kith.db.backend() {
        kith_core::Backend::Sqlite => TestDb::sqlite_with(settings).await,
        kith_core::Backend::Postgres => TestDb::postgres_with(settings).await,
    }
}

/// A download of a long record names every entry it disclosed (the log
/// once stopped listing them past 1,000), so "who has seen this" names the
/// downloader on any entry of it.
async fn a_long_download_names_every_entry(db: &TestDb) {
    let k = &db.kith;
    let w = world(k).await;
    // 1,200 weights from a home scale, on top of the demo record.
    let mut bundle = vec![serde_json::json!({ "resource": {
        "resourceType": "Patient", "id": "p",
        "identifier": [{ "system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765919" }],
        "name": [{ "given": ["Margaret"], "family": "Jones" }], "birthDate": "1948-03-27" } })];
    for i in 0..1200 {
        let day = chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap() + chrono::Days::new(i);
        bundle.push(serde_json::json!({ "resource": {
            "resourceType": "Observation", "id": format!("w{i}"), "status": "final",
            "code": { "coding": [{ "system": "http://loinc.org", "code": "29463-7", "display": "Body weight" }] },
            "subject": { "reference": "Patient/p" }, "effectiveDateTime": day.to_string(),
            "valueQuantity": { "value": 60 + i % 20, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg" } } }));
    }
    let body = serde_json::json!({ "resourceType": "Bundle", "type": "collection", "entry": bundle });
    let owner = k.own_record(&w.owner, Right::Manage).await.unwrap();
    let req = ImportRequest {
        file_name: "scale.json".into(),
        bytes: serde_json::to_vec(&body).unwrap(),
        source_kind: Some(SourceKind::Device),
        source_name: Some("Bathroom scale".into()),
        max_bytes: 50 << 20,
    };
    assert!(matches!(k.import(&owner, req).await.unwrap(), ImportOutcome::Accepted(_)));
    let all = k.record(&owner).await.unwrap();
    assert!(all.len() > 1200, "{}", all.len());

    let gp = user(k, "Dr Whole", "whole@example.com", "clinician", "Otley GP").await;
    share(k, &w, "whole@example.com", "clinician", Scope::whole(), false).await;
    let gp_access = k.open_patient(&Principal::User(gp), &w.patient_id, Right::Read).await.unwrap();
    k.export_bundle(&gp_access).await.unwrap();
    let row = db.log(&w.patient_id).await.pop().unwrap();
    assert_eq!((row.action.as_str(), row.what.as_str()), ("export", "what was shared, as FHIR"));
    let listed: std::collections::HashSet<String> = serde_json::from_str(&row.entries).unwrap();
    let weights: Vec<_> = all.iter().filter(|e| e.sources.iter().any(|s| s.organisation == "Bathroom scale")).collect();
    assert_eq!(weights.len(), 1200);
    assert!(weights.iter().all(|e| listed.contains(&e.id)), "every entry is listed ({} of {})", listed.len(), all.len());
    for e in [weights[0], weights[600], weights[1199]] {
        let seen = k.seen_by(&owner, &e.id).await.unwrap();
        assert!(seen.iter().any(|s| s.who == "Dr Whole"), "{}: {seen:?}", e.display);
    }
    // The Access log says how many, and the chain still checks.
    let page = k.access_log(&owner, &AccessLogQuery::default()).await.unwrap();
    let export = page.events.iter().find(|e| e.who == "Dr Whole").unwrap();
    assert_eq!(export.entry_count, listed.len());
    assert!(k.verify_chain(&w.patient_id).await.unwrap().ok());
}

/// The Access log page checks only the records added since the last check
/// of every record, while that is recent (`audit_full_check_minutes`). A
/// change to a newer record, a rewritten history and a deleted older record
/// show at once; an older record changed in place shows at the next full
/// check, which the page offers ("check every record now").
async fn the_page_checks_what_came_after_a_full_check(db: &TestDb) {
    let k = &db.kith;
    let w = world(k).await;
    let pid = w.patient_id.as_str();
    let read = &k.own_record(&w.owner, Right::Read).await.unwrap();
    let owner = k.own_record(&w.owner, Right::Manage).await.unwrap();
    let views = |n: usize| async move {
        for _ in 0..n {
            k.timeline(read, &TimelineQuery::default()).await.unwrap();
        }
    };
    let tamper = |sql: String| async move {
        db.tamper(&sql.replace("$PATIENT", &format!("'{pid}'"))).await;
    };
    let logged = || async { db.log(pid).await.len() as i64 };

    views(3).await;
    assert!(not_found(k.check_for_page(read, false).await), "only with the right to manage the whole record");
    let first = k.check_for_page(&owner, false).await.unwrap();
    assert!(first.ok() && first.whole_checked_at.is_none(), "nothing trusted yet: every record: {first:?}");
    assert_eq!((first.records, first.checked_now), (logged().await, logged().await));
    views(3).await;
    let later = k.check_for_page(&owner, false).await.unwrap();
    assert!(later.ok() && later.whole_checked_at.is_some(), "{later:?}");
    assert_eq!((later.records, later.checked_now), (logged().await, 4), "the trusted record and the three since");
    let page = k.access_log(&owner, &AccessLogQuery::default()).await.unwrap();
    assert!(page.check.whole_checked_at.is_some());
    let page = k.access_log(&owner, &AccessLogQuery { check: "all".into(), ..Default::default() }).await.unwrap();
    assert!(page.check.ok() && page.check.whole_checked_at.is_none() && page.check.checked_now == page.check.records);

    // An older record changed in place, hash left alone: the short check
    // cannot see it; a full check can, asked for or once the trust is old.
    let name = db.query_text("SELECT actor_name FROM audit_events WHERE seq = 2 AND patient_id = $1", pid).await.unwrap();
    tamper("UPDATE audit_events SET actor_name = 'Nobody' WHERE patient_id = $PATIENT AND seq = 2".into()).await;
    assert!(k.check_for_page(&owner, false).await.unwrap().ok(), "the window the page states");
    let mut impatient = k.clone();
    impatient.settings.audit_full_check_minutes = 0;
    assert_eq!(impatient.check_for_page(&owner, false).await.unwrap().broken_at.map(|b| b.0), Some(2));
    assert_eq!(k.check_for_page(&owner, false).await.unwrap().broken_at.map(|b| b.0), Some(2), "a failed check leaves nothing trusted");
    tamper(format!("UPDATE audit_events SET actor_name = '{name}' WHERE patient_id = $PATIENT AND seq = 2")).await;
    assert!(k.check_for_page(&owner, false).await.unwrap().ok());

    // A newer record changed: caught at once.
    views(1).await;
    let newest = logged().await;
    tamper(format!("UPDATE audit_events SET what = 'nothing' WHERE patient_id = $PATIENT AND seq = {newest}")).await;
    assert_eq!(k.check_for_page(&owner, false).await.unwrap().broken_at.map(|b| b.0), Some(newest));
    tamper(format!("UPDATE audit_events SET what = 'timeline' WHERE patient_id = $PATIENT AND seq = {newest}")).await;
    assert!(k.check_for_page(&owner, false).await.unwrap().ok());

    // The trusted record itself rewritten (as a rewritten history would):
    // caught at once.
    views(1).await;
    let trusted = newest;
    let hash = db.query_text(&format!("SELECT hash FROM audit_events WHERE seq = {trusted} AND patient_id = $1"), pid).await.unwrap();
    tamper(format!("UPDATE audit_events SET hash = '{}' WHERE patient_id = $PATIENT AND seq = {trusted}", "0".repeat(64))).await;
    assert_eq!(k.check_for_page(&owner, false).await.unwrap().broken_at.map(|b| b.0), Some(trusted));
    tamper(format!("UPDATE audit_events SET hash = '{hash}' WHERE patient_id = $PATIENT AND seq = {trusted}")).await;
    assert!(k.check_for_page(&owner, false).await.unwrap().ok());

    // An older record moved out of the way (so as many remain before the
    // trusted one) or deleted: caught at once.
    views(1).await;
    assert!(k.check_for_page(&owner, false).await.unwrap().whole_checked_at.is_some());
    tamper("UPDATE audit_events SET seq = 0 WHERE patient_id = $PATIENT AND seq = 3".into()).await;
    assert!(!k.check_for_page(&owner, false).await.unwrap().ok());
    tamper("UPDATE audit_events SET seq = 3 WHERE patient_id = $PATIENT AND seq = 0".into()).await;
    assert!(k.check_for_page(&owner, false).await.unwrap().ok());
    views(1).await;
    assert!(k.check_for_page(&owner, false).await.unwrap().whole_checked_at.is_some());
    tamper("DELETE FROM audit_events WHERE patient_id = $PATIENT AND seq = 3".into()).await;
    let check = k.check_for_page(&owner, false).await.unwrap();
    assert_eq!(check.broken_at.map(|b| b.0), Some(3));
}

backend_tests!(
    views_say_who_how_and_what,
    changes_and_deletions_are_caught,
    checkpoints_catch_a_rewritten_history,
    checkpoints_are_signed_on_a_timer,
    concurrent_views_keep_one_chain,
    verify_is_not_fooled_by_a_busy_record,
    two_step_sign_ins_are_logged_when_finished,
    a_chain_file_can_be_checked_by_anyone,
    account_changes_are_in_the_log,
    emergency_access_is_off_by_default_and_stands_out,
    exports_cover_the_whole_log,
    background_view_commits_are_settled_before_anything_is_shown,
    a_long_download_names_every_entry,
    the_page_checks_what_came_after_a_full_check,
);

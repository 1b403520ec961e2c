//! The sharing matrix: every kind of actor against every kind of action, on
//! SQLite and PostgreSQL. Refusals are NotFound, never "forbidden".

use kith_core::policy::{Origin, Principal, RecordAccess, Right, Scope};
use kith_core::sharing::InvitationKey;
use kith_core::sharing::{GrantInput, LinkInput};
use kith_core::testing::{not_found, user, TestDb};
use kith_core::{backend_tests, Actor, CoreError, Kith, NewUser};
use kith_types::record::TimelineQuery;
use kith_types::AppError;

struct World {
    owner: Actor,
    patient_id: String,
    mental_entry: String,
    general_entry: String,
    private_entry: String,
}

/// Margaret's demo record; one entry made private.
async fn world(k: &Kith) -> World {
    kith_core::demo::load(k).await.unwrap();
    let owner = k.sign_in("margaret@demo.kith.example", "kettle orange stairs", "10.9.0.1").await.unwrap();
    let access = k.own_record(&owner, Right::Manage).await.unwrap();
    let cards = visible_ids(k, &access).await;
    let mental = cards.iter().find(|(_, l)| l == "mental-health").expect("demo has a mental-health entry").0.clone();
    let general: Vec<_> = cards.iter().filter(|(_, l)| l == "general").collect();
    let private = general[1].0.clone();
    k.relabel_entry(&access, &private, "private").await.unwrap();
    World { owner, patient_id: access.patient_id().to_string(), mental_entry: mental, general_entry: general[0].0.clone(), private_entry: private }
}

async fn visible_ids(k: &Kith, a: &RecordAccess) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut q = TimelineQuery::default();
    loop {
        let page = k.timeline(a, &q).await.unwrap();
        out.extend(page.days.iter().flat_map(|(_, c)| c.iter().map(|c| (c.id.clone(), c.label.clone()))));
        match page.next {
            Some(n) => q.after = n,
            None => return out,
        }
    }
}

async fn grant(k: &Kith, w: &World, email: &str, role: &str, scope: Scope, act_for: bool, days: Option<i64>) {
    let owner = k.own_record(&w.owner, Right::Manage).await.unwrap();
    let invitation = k
        .create_grant(
            &owner,
            &w.owner,
            GrantInput { email: email.into(), role: role.into(), scope, comment: true, contribute: false, act_for, expires_in_days: days },
            "http://kith.test",
        )
        .await
        .unwrap();
    kith_core::testing::accept(k, &invitation, email).await;
}

async fn the_matrix(db: &TestDb) {
    let k = &db.kith;
    let w = world(k).await;
    let mh_clinician = user(k, "Dr Mind", "mind@example.com", "clinician", "").await;
    let gp = user(k, "Dr Whole", "whole@example.com", "clinician", "").await;
    let carer = user(k, "David Act", "act@example.com", "carer", "").await;
    let viewer_carer = user(k, "Sam View", "view@example.com", "carer", "").await;
    let revoked = user(k, "Dr Gone", "gone@example.com", "clinician", "").await;
    let stranger = user(k, "Eve Stranger", "eve@example.com", "clinician", "").await;
    let other_patient = k
        .create_user(NewUser {
            name: "Bob Other".into(),
            email: "bob@example.com".into(),
            password: "kettle orange stairs".into(),
            role: "patient".into(),
            nhs_number: "9000000009".into(),
            birth_date: "1950-01-01".into(),
            ..Default::default()
        })
        .await
        .unwrap();

    grant(k, &w, "mind@example.com", "clinician", Scope { labels: vec!["mental-health".into()], ..Default::default() }, false, None).await;
    grant(k, &w, "whole@example.com", "clinician", Scope::whole(), false, None).await;
    grant(k, &w, "act@example.com", "carer", Scope::whole(), true, None).await;
    grant(k, &w, "view@example.com", "carer", Scope { kinds: vec!["medication".into(), "allergy".into()], ..Default::default() }, false, None).await;
    grant(k, &w, "gone@example.com", "clinician", Scope::whole(), false, None).await;
    let owner_access = k.own_record(&w.owner, Right::Manage).await.unwrap();
    let gone_id = k.sharing_view(&owner_access).await.unwrap().grants.into_iter().find(|g| g.email == "gone@example.com").unwrap().id;

    let pid = w.patient_id.clone();
    // Each cell of the matrix leaves exactly these new rows in the patient's
    // access log: (action, how).
    macro_rules! cell {
        ($call:expr, [$(($action:expr, $via:expr)),*]) => {{
            let before = db.log(&pid).await.len();
            let result = $call;
            let after = db.log(&pid).await;
            let new: Vec<(&str, &str)> = after[before..].iter().map(|e| (e.action.as_str(), e.via.as_str())).collect();
            let expected: Vec<(&str, &str)> = vec![$(($action, $via)),*];
            assert_eq!(new, expected, "log rows left by {}", stringify!($call));
            result
        }};
    }
    cell!(k.revoke_grant(&owner_access, &gone_id).await.unwrap(), [("revoke", "own")]);
    let open = |a: &Actor, r: Right| {
        let (a, pid) = (a.clone(), pid.clone());
        async move { k.open_patient(&Principal::User(a), &pid, r).await }
    };

    // Owner: everything, private included.
    let owner_ids = visible_ids(k, &owner_access).await;
    assert!(owner_ids.iter().any(|(id, _)| *id == w.private_entry));
    assert!(cell!(k.export_bundle(&owner_access).await, [("export", "own")]).is_ok());
    assert!(cell!(k.sources_view(&owner_access).await, [("view", "own")]).is_ok());
    assert!(cell!(k.entry(&owner_access, &w.private_entry).await, [("view", "own")]).is_ok());

    // Mental-health clinician: exactly the mental-health entries, nothing else anywhere.
    let mh = open(&mh_clinician, Right::Read).await.unwrap();
    let ids = visible_ids(k, &mh).await;
    assert!(!ids.is_empty() && ids.iter().all(|(_, l)| l == "mental-health"), "{ids:?}");
    assert_eq!(ids.len(), owner_ids.iter().filter(|(_, l)| l == "mental-health").count());
    assert!(cell!(k.entry(&mh, &w.mental_entry).await, [("view", "grant")]).is_ok());
    assert!(not_found(cell!(k.entry(&mh, &w.general_entry).await, [])), "out of scope is not found");
    assert!(not_found(cell!(k.entry(&mh, &w.private_entry).await, [])));
    let summary = cell!(k.summary(&mh).await.unwrap(), [("view", "grant")]);
    assert!(summary.allergies.is_empty() && summary.medications.is_empty(), "summary leaks out-of-scope entries");
    assert_eq!(summary.total_entries as usize, ids.len(), "counts leak");
    assert!(cell!(k.results(&mh).await.unwrap(), [("view", "grant")]).charts.is_empty(), "charts leak");
    let search = cell!(k.timeline(&mh, &TimelineQuery { q: "ramipril".into(), ..Default::default() }).await.unwrap(), [("view", "grant")]);
    assert!(search.days.is_empty(), "search leaks");
    assert!(not_found(cell!(k.sources_view(&mh).await, [])));
    // A recipient's export holds only what was shared with them.
    let export = cell!(k.export_bundle(&mh).await.unwrap(), [("export", "grant")]);
    let full = k.export_bundle(&owner_access).await.unwrap();
    let n = |b: &serde_json::Value| b["entry"].as_array().unwrap().iter().filter(|e| e["resource"]["resourceType"] != "Provenance").count();
    assert!(n(&export) > 0 && n(&export) < n(&full) / 4, "scoped export {} of {}", n(&export), n(&full));
    assert!(!export.to_string().to_lowercase().contains("ramipril"), "export leaks out-of-scope entries");
    assert!(not_found(cell!(k.access_log(&mh, &Default::default()).await, [])));
    assert!(not_found(cell!(open(&mh_clinician, Right::Contribute).await, [])), "no contribute right");
    assert!(cell!(open(&mh_clinician, Right::Comment).await, []).is_ok(), "comment right given");
    // Comment where the entry is in scope; elsewhere it does not exist.
    let mh_comment = open(&mh_clinician, Right::Comment).await.unwrap();
    assert!(cell!(k.add_comment(&mh_comment, &w.mental_entry, "Seen in clinic today.").await, [("comment", "grant")]).is_ok());
    assert!(not_found(cell!(k.add_comment(&mh_comment, &w.general_entry, "Not mine to see.").await, [])));
    assert!(not_found(cell!(k.care_plan(&mh).await, [])), "the care plan is not in a mental-health-only scope");
    assert!(not_found(cell!(open(&mh_clinician, Right::Manage).await, [])));

    // The owner previews the mental-health grant: exactly what Dr Mind sees.
    let mind_grant = k.sharing_view(&owner_access).await.unwrap().grants.into_iter().find(|g| g.email == "mind@example.com").unwrap().id;
    let preview = k.preview(&owner_access, &mind_grant).await.unwrap();
    assert_eq!(visible_ids(k, &preview).await, visible_ids(k, &mh).await);
    assert!(not_found(cell!(k.sharing_view(&preview).await, [])), "a preview is read only");
    cell!(k.summary(&preview).await.unwrap(), [("view", "preview")]);
    assert!(not_found(k.preview(&mh, &mind_grant).await), "only the owner previews");

    // Whole-record clinician: everything but private; may comment, not contribute.
    let whole = open(&gp, Right::Read).await.unwrap();
    assert!(cell!(k.care_plan(&whole).await, [("view", "grant")]).is_ok());
    assert!(not_found(cell!(open(&gp, Right::Contribute).await, [])));
    assert!(
        matches!(cell!(k.add_plan_item(&whole, "needs", Default::default()).await, []), Err(CoreError::User(AppError::NotFound))),
        "view access cannot contribute"
    );
    let ids = visible_ids(k, &whole).await;
    assert_eq!(ids.len(), owner_ids.len() - 1);
    assert!(not_found(cell!(k.entry(&whole, &w.private_entry).await, [])), "private is never shared");
    assert!(cell!(k.entry(&whole, &w.general_entry).await, [("view", "grant")]).is_ok());

    // Carer acting for the patient: manages sharing, but not private entries
    // and cannot pass act-for on.
    let acting = open(&carer, Right::Manage).await.unwrap();
    assert!(k.sharing_view(&acting).await.is_ok());
    assert!(not_found(cell!(k.entry(&acting, &w.private_entry).await, [])));
    // Their export is the whole record but private entries: exactly what a
    // whole-record clinician's export holds, less than the owner's.
    let acting_export = cell!(k.export_bundle(&acting).await.unwrap(), [("export", "act-for")]);
    let whole_export = k.export_bundle(&whole).await.unwrap();
    assert_eq!(n(&acting_export), n(&whole_export), "a carer acting for the patient exports what a whole-record grant does");
    assert!(n(&acting_export) < n(&full), "the private entry's resources are not in a carer's export");
    let plan_item = kith_types::together::PlanFields { text: "Pick up prescriptions on Mondays".into(), ..Default::default() };
    assert!(cell!(k.add_plan_item(&acting, "actions", plan_item).await, [("create", "act-for")]).is_ok());
    assert!(cell!(k.access_log(&acting, &Default::default()).await, [("view", "act-for")]).is_ok());
    let onward = cell!(
        k.create_grant(
            &acting,
            &carer,
            GrantInput {
                email: "x@example.com".into(),
                role: "carer".into(),
                scope: Scope::whole(),
                comment: false,
                contribute: false,
                act_for: true,
                expires_in_days: None
            },
            "http://kith.test"
        )
        .await,
        []
    );
    cell!(
        k.create_grant(
            &acting,
            &carer,
            GrantInput {
                email: "gp2@example.com".into(),
                role: "clinician".into(),
                scope: Scope::whole(),
                comment: false,
                contribute: false,
                act_for: false,
                expires_in_days: None
            },
            "http://kith.test"
        )
        .await
        .unwrap(),
        [("share", "act-for")]
    );
    assert_eq!(db.log(&pid).await.last().unwrap().on_behalf_of.as_deref(), Some("Margaret Jones"), "carer X for patient Y");
    assert!(matches!(onward, Err(CoreError::User(AppError::Validation { .. }))), "{onward:?}");
    // Nor can they renew their own access past the patient's yearly review.
    let act_grant = k.sharing_view(&owner_access).await.unwrap().grants.into_iter().find(|g| g.email == "act@example.com").unwrap().id;
    assert!(not_found(cell!(k.renew_carer_grant(&acting, &act_grant).await, [])), "a carer cannot renew their own access");

    // Carer without act-for: only medicines and allergies, cannot manage.
    let view = open(&viewer_carer, Right::Read).await.unwrap();
    let ids = visible_ids(k, &view).await;
    assert!(cell!(k.export_bundle(&view).await, [("export", "grant")]).is_ok());
    let kinds: std::collections::HashSet<String> =
        k.timeline(&view, &TimelineQuery::default()).await.unwrap().days.iter().flat_map(|(_, c)| c.iter().map(|c| c.kind.clone())).collect();
    assert!(!ids.is_empty() && kinds.iter().all(|k| k == "medication" || k == "allergy"), "{kinds:?}");
    assert!(not_found(open(&viewer_carer, Right::Manage).await));

    // Someone with a shared link and no account (a paramedic): a passcode,
    // the link's scope only, read only; logged under the name they gave.
    let made = cell!(
        k.create_link(
            &owner_access,
            &w.owner,
            LinkInput {
                name: "Ambulance".into(),
                scope: Scope { labels: vec!["mental-health".into()], ..Default::default() },
                expires_in_hours: Some(12),
                passcode: Some("4821".into()),
                single_use: false,
            },
            "http://kith.test",
        )
        .await
        .unwrap(),
        [("share", "own")]
    );
    let token = made.url.rsplit('/').next().unwrap().to_string();
    let origin = Origin { address: "10.7.7.7".into(), user_agent: "ambulance tablet".into() };
    let wrong = cell!(k.open_link(&token, "0000", "Pat Medic", "Paramedic", "Ambulance Service", &origin).await, [("passcode-failed", "link")]);
    assert!(matches!(wrong, Err(CoreError::User(AppError::Validation { .. }))), "{wrong:?}");
    let viewer = cell!(k.open_link(&token, "4821", "Pat Medic", "Paramedic", "Ambulance Service", &origin).await.unwrap(), []);
    let as_link = |r: Right| {
        let (v, pid) = (viewer.clone(), pid.clone());
        async move { k.open_patient(&Principal::LinkViewer(v), &pid, r).await }
    };
    // The web layer gives each request's access the address it came from.
    let lv = cell!(as_link(Right::Read).await.unwrap(), []).from_origin(origin.clone());
    let shown = cell!(k.summary(&lv).await.unwrap(), [("view", "link")]);
    assert!(shown.allergies.is_empty() && shown.medications.is_empty(), "the link shows its scope only");
    assert!(cell!(k.entry(&lv, &w.mental_entry).await, [("view", "link")]).is_ok());
    assert!(not_found(cell!(k.entry(&lv, &w.general_entry).await, [])));
    assert!(not_found(cell!(k.entry(&lv, &w.private_entry).await, [])));
    assert!(cell!(k.export_bundle(&lv).await, [("export", "link")]).is_ok());
    assert!(not_found(cell!(k.access_log(&lv, &Default::default()).await, [])));
    assert!(not_found(cell!(k.sharing_view(&lv).await, [])));
    assert!(not_found(cell!(k.care_plan(&lv).await, [])));
    assert!(not_found(cell!(as_link(Right::Comment).await, [])), "a link is read only");
    let row = db.log(&pid).await.into_iter().rev().find(|r| r.via == "link" && r.action == "export").unwrap();
    assert_eq!((row.actor_name.as_str(), row.actor_role.as_str(), row.actor_org.as_str()), ("Pat Medic", "Paramedic", "Ambulance Service"));
    assert_eq!((row.address.as_str(), row.user_agent.as_str()), ("10.7.7.7", "ambulance tablet"));
    let link_id = k.sharing_view(&owner_access).await.unwrap().links.into_iter().find(|l| l.name == "Ambulance").unwrap().id;
    cell!(k.revoke_link(&owner_access, &link_id).await.unwrap(), [("revoke", "own")]);
    assert!(not_found(cell!(as_link(Right::Read).await, [])), "revoked at once");
    assert!(not_found(cell!(k.open_link(&token, "4821", "Pat Medic", "Paramedic", "Ambulance Service", &origin).await, [])));

    // Revoked grant, stranger, another patient: not found.
    assert!(not_found(cell!(open(&revoked, Right::Read).await, [])));
    assert!(not_found(cell!(open(&stranger, Right::Read).await, [])));
    assert!(not_found(cell!(open(&other_patient, Right::Read).await, [])));
    // Another patient's own record does not open Margaret's entries (IDOR).
    let bob = k.own_record(&other_patient, Right::Read).await.unwrap();
    for (id, _) in &owner_ids {
        assert!(not_found(cell!(k.entry(&bob, id).await, [])), "entry {id} reachable from another record");
    }
    assert!(k.verify_chain(&pid).await.unwrap().ok());
}

async fn carers_access_is_reviewed_and_renewed(db: &TestDb) {
    let k = &db.kith;
    let w = world(k).await;
    let owner = k.own_record(&w.owner, Right::Manage).await.unwrap();
    let invitation = k.create_grant(&owner, &w.owner, carer_input("carer@example.com", Some(20)), "http://kith.test").await.unwrap();
    let g = k.sharing_view(&owner).await.unwrap().grants.into_iter().find(|g| g.email == "carer@example.com").unwrap();
    assert!(g.review_due, "ends within 30 days");
    assert_eq!(g.accepted_by, None, "nobody has accepted the invitation yet");
    assert!(k.notifications(&owner).await.unwrap().iter().any(|(m, _)| m.contains("Review your family carer carer@example.com")));
    k.renew_carer_grant(&owner, &g.id).await.unwrap();
    let g = k.sharing_view(&owner).await.unwrap().grants.into_iter().find(|g| g.email == "carer@example.com").unwrap();
    assert!(!g.review_due, "renewed for 12 months");
    assert_eq!(db.log(&w.patient_id).await.last().unwrap().action, "share");
    user(k, "Sam Carer", "carer@example.com", "carer", "").await;
    kith_core::testing::accept(k, &invitation, "carer@example.com").await;
    let g = k.sharing_view(&owner).await.unwrap().grants.into_iter().find(|g| g.email == "carer@example.com").unwrap();
    assert!(g.accepted_by.unwrap().starts_with("Sam Carer (carer@example.com), "));
}

fn carer_input(email: &str, days: Option<i64>) -> GrantInput {
    GrantInput { email: email.into(), role: "carer".into(), scope: Scope::whole(), comment: true, contribute: false, act_for: false, expires_in_days: days }
}

/// A grant names an email, but Kith does not check that people own the
/// address they sign up with: only the account that accepts the invitation
/// (a one-time link the patient hands over) gets the grant.
async fn invitations_decide_who_gets_a_grant(db: &TestDb) {
    let k = &db.kith;
    let w = world(k).await;
    let owner = k.own_record(&w.owner, Right::Manage).await.unwrap();
    let gone = |r: Result<String, CoreError>| matches!(r, Err(CoreError::User(AppError::Conflict(m))) if m.contains("cannot be used"));
    // Someone signs up with the carer's email before the carer does.
    let squatter = user(k, "Mallory", "sam@example.com", "carer", "").await;
    let invitation = k.create_grant(&owner, &w.owner, carer_input("sam@example.com", None), "http://kith.test").await.unwrap();
    assert_eq!(invitation.email, "sam@example.com");
    assert!(invitation.url.starts_with("http://kith.test/invite/"));
    let token = kith_core::testing::invitation_token(&invitation).to_string();
    assert_eq!(db.count_where("grants", "invite_hash", &token).await, 0, "only the token's hash is kept");
    assert!(not_found(k.open_patient(&Principal::User(squatter.clone()), &w.patient_id, Right::Read).await), "the email alone opens nothing");
    assert!(k.shared_with_me(&squatter).await.unwrap().is_empty());

    // What the invitation's page shows.
    let before = db.log(&w.patient_id).await.len();
    let opener = Origin { address: "10.8.8.8".into(), user_agent: "Test/2".into() };
    let shown = k.invitation(InvitationKey::Token(&token), None, &opener).await.unwrap();
    assert_eq!((shown.patient_name.as_str(), shown.role.as_str(), shown.signed_in_as.as_deref()), ("Margaret Jones", "carer", None));
    assert!(shown.scope.starts_with("Whole record") && shown.rights.contains("comment"), "{shown:?}");
    // The page named the patient and what is shared: that is in her log, as
    // the link's holder, from where they opened it.
    let log = db.log(&w.patient_id).await;
    assert_eq!(log.len(), before + 1, "one row per opening");
    let row = log.last().unwrap();
    assert_eq!((row.action.as_str(), row.via.as_str(), row.address.as_str()), ("invitation", "invitation", "10.8.8.8"));
    assert_eq!(row.actor_name, "Someone with the invitation link");
    assert!(row.what.contains("invitation for sam@example.com (carer) opened"), "{}", row.what);
    assert!(matches!(k.invitation(InvitationKey::Token("not-a-token"), None, &opener).await, Err(CoreError::User(AppError::Conflict(_)))));
    assert_eq!(db.log(&w.patient_id).await.len(), before + 1, "an unknown token names no record and logs nothing");

    // The wrong kind of account, and the patient herself, cannot take it.
    let dr = user(k, "Dr Wrong", "wrong@example.com", "clinician", "").await;
    assert!(
        matches!(k.accept_invitation(&dr, InvitationKey::Token(&token), &Origin::default()).await, Err(CoreError::User(AppError::Conflict(m))) if m.contains("family carer"))
    );
    assert!(
        matches!(k.accept_invitation(&w.owner, InvitationKey::Token(&token), &Origin::default()).await, Err(CoreError::User(AppError::Conflict(m))) if m.contains("your own record"))
    );

    // The carer, signed up with another address, accepts: the grant is theirs.
    let sam = user(k, "Sam Jones", "sam.jones@example.net", "carer", "").await;
    assert_eq!(
        k.invitation(InvitationKey::Token(&token), Some(&sam), &opener).await.unwrap().signed_in_as.as_deref(),
        Some("Sam Jones (sam.jones@example.net)")
    );
    assert_eq!(db.log(&w.patient_id).await.last().unwrap().actor_name, "Sam Jones", "signed in, the opener is named");
    let origin = Origin { address: "10.7.7.7".into(), user_agent: "Test/1".into() };
    // Accepted through what Sam's session kept while they signed in: the
    // token's hash, never the token.
    let kept = InvitationKey::Token(&token).hashed();
    assert_ne!(kept, token);
    assert_eq!(k.accept_invitation(&sam, InvitationKey::Hashed(&kept), &origin).await.unwrap(), w.patient_id);
    assert!(k.open_patient(&Principal::User(sam.clone()), &w.patient_id, Right::Comment).await.is_ok());
    assert_eq!(k.shared_with_me(&sam).await.unwrap().len(), 1);
    // Opening the invitation was not a view of the record: their first
    // look at it still tells the patient.
    let sams = k.open_patient(&Principal::User(sam.clone()), &w.patient_id, Right::Read).await.unwrap();
    k.summary(&sams).await.unwrap();
    assert!(
        k.notifications(&owner).await.unwrap().iter().any(|(m, _)| m.starts_with("Sam Jones (carer) viewed your record for the first time")),
        "{:?}",
        k.notifications(&owner).await.unwrap()
    );
    // Once only: not again, and not by the squatter.
    assert!(gone(k.accept_invitation(&sam, InvitationKey::Token(&token), &Origin::default()).await));
    assert!(gone(k.accept_invitation(&squatter, InvitationKey::Token(&token), &Origin::default()).await));
    assert!(not_found(k.open_patient(&Principal::User(squatter.clone()), &w.patient_id, Right::Read).await));
    // The patient is told who accepted, and it is in her log.
    assert!(k.notifications(&owner).await.unwrap().iter().any(|(m, _)| m.starts_with("Sam Jones (sam.jones@example.net) accepted your invitation")));
    let row = db.log(&w.patient_id).await.into_iter().rev().find(|r| r.action == "share").unwrap();
    assert_eq!((row.action.as_str(), row.via.as_str(), row.address.as_str()), ("share", "grant", "10.7.7.7"));
    assert!(row.what.contains("accepted by Sam Jones"), "{}", row.what);
    let g = k.sharing_view(&owner).await.unwrap().grants.into_iter().find(|g| g.email == "sam@example.com").unwrap();
    assert!(g.accepted_by.unwrap().starts_with("Sam Jones (sam.jones@example.net)"));
    // An accepted grant gets no new invitation.
    assert!(matches!(k.new_invitation(&owner, &g.id, "http://kith.test").await, Err(CoreError::User(AppError::Conflict(_)))));

    // A new invitation replaces a lost one; withdrawing the grant ends it.
    let first = k.create_grant(&owner, &w.owner, carer_input("ann@example.com", None), "http://kith.test").await.unwrap();
    let id = k.sharing_view(&owner).await.unwrap().grants.into_iter().find(|g| g.email == "ann@example.com").unwrap().id;
    let second = k.new_invitation(&owner, &id, "http://kith.test").await.unwrap();
    let ann = user(k, "Ann", "ann@example.com", "carer", "").await;
    assert!(
        gone(k.accept_invitation(&ann, InvitationKey::Token(kith_core::testing::invitation_token(&first)), &Origin::default()).await),
        "the old one stops working"
    );
    k.revoke_grant(&owner, &id).await.unwrap();
    assert!(gone(k.accept_invitation(&ann, InvitationKey::Token(kith_core::testing::invitation_token(&second)), &Origin::default()).await), "withdrawn");
    assert!(not_found(k.new_invitation(&owner, "no-such-grant", "http://kith.test").await));
    // An invitation to a grant that has ended cannot be taken either.
    let late = k.create_grant(&owner, &w.owner, carer_input("late@example.com", Some(1)), "http://kith.test").await.unwrap();
    db.expire_all_grants().await;
    assert!(gone(k.accept_invitation(&ann, InvitationKey::Token(kith_core::testing::invitation_token(&late)), &Origin::default()).await));
    assert!(k.verify_chain(&w.patient_id).await.unwrap().ok());
}

async fn expired_grants_stop_working(db: &TestDb) {
    let k = &db.kith;
    let w = world(k).await;
    let dr = user(k, "Dr Soon", "soon@example.com", "clinician", "").await;
    grant(k, &w, "soon@example.com", "clinician", Scope::whole(), false, Some(1)).await;
    assert!(k.open_patient(&Principal::User(dr.clone()), &w.patient_id, Right::Read).await.is_ok());
    // Move the expiry into the past, as time would.
    let owner = k.own_record(&w.owner, Right::Manage).await.unwrap();
    assert_eq!(k.sharing_view(&owner).await.unwrap().grants[0].status, "active");
    db.expire_all_grants().await;
    assert!(not_found(k.open_patient(&Principal::User(dr), &w.patient_id, Right::Read).await));
    assert_eq!(k.sharing_view(&owner).await.unwrap().grants[0].status, "expired");
}

async fn links_need_passcode_lock_after_five_and_store_only_a_hash(db: &TestDb) {
    let k = &db.kith;
    let w = world(k).await;
    let owner = k.own_record(&w.owner, Right::Manage).await.unwrap();
    let made = k
        .create_link(
            &owner,
            &w.owner,
            LinkInput {
                name: "A&E".into(),
                scope: Scope { labels: vec!["mental-health".into()], ..Default::default() },
                expires_in_hours: None,
                passcode: Some("4821".into()),
                single_use: false,
            },
            "http://kith.test",
        )
        .await
        .unwrap();
    let token = made.url.rsplit('/').next().unwrap().to_string();
    assert!(token.len() >= 32, "at least 128 bits");
    assert!(made.qr_svg.contains("<svg"));
    assert!(!db.database_contains(&token).await, "the token itself is stored");
    assert!(k.link_needs_passcode(&token).await.unwrap());
    // Right passcode: the viewer sees the scope only.
    let viewer = k.open_link(&token, "4821", "Pat Medic", "Paramedic", "Ambulance Service", &Origin::default()).await.unwrap();
    let a = k.open_patient(&Principal::LinkViewer(viewer.clone()), &w.patient_id, Right::Read).await.unwrap();
    assert!(visible_ids(k, &a).await.iter().all(|(_, l)| l == "mental-health"));
    assert!(not_found(k.open_patient(&Principal::LinkViewer(viewer.clone()), &w.patient_id, Right::Comment).await));
    // Missing name is a field error, not an opening.
    assert!(matches!(k.open_link(&token, "4821", "", "Paramedic", "Ambulance", &Origin::default()).await, Err(CoreError::User(AppError::Validation { .. }))));
    // Five wrong passcodes lock it, for everyone, and the patient is told.
    for i in 0..4 {
        match k.open_link(&token, "0000", "X", "Y", "Z", &Origin::default()).await {
            Err(CoreError::User(e)) => assert!(e.field_error("passcode").is_some(), "attempt {i}: {e:?}"),
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(k.open_link(&token, "0000", "X", "Y", "Z", &Origin::default()).await, Err(CoreError::User(AppError::Conflict(_)))));
    assert!(
        matches!(k.open_link(&token, "4821", "X", "Y", "Z", &Origin::default()).await, Err(CoreError::User(AppError::Conflict(_)))),
        "locked even with the right passcode"
    );
    assert!(not_found(k.open_patient(&Principal::LinkViewer(viewer), &w.patient_id, Right::Read).await), "a locked link stops working at once");
    assert!(k.notifications(&owner).await.unwrap().iter().any(|(m, _)| m.contains("locked")));
}

async fn single_use_and_revoked_links(db: &TestDb) {
    let k = &db.kith;
    let w = world(k).await;
    let owner = k.own_record(&w.owner, Right::Manage).await.unwrap();
    // Dates either side of making the link, in case it is made at midnight.
    let day = || chrono::Utc::now().format("%-d %b %Y ").to_string();
    let before = day();
    let once = k
        .create_link(
            &owner,
            &w.owner,
            LinkInput { name: "once".into(), scope: Scope::whole(), expires_in_hours: Some(2), passcode: None, single_use: true },
            "http://kith.test",
        )
        .await
        .unwrap();
    let token = once.url.rsplit('/').next().unwrap().to_string();
    let v = k.open_link(&token, "", "A", "B", "C", &Origin::default()).await.unwrap();
    assert!(not_found(k.open_link(&token, "", "D", "E", "F", &Origin::default()).await), "used once");
    assert!(k.open_patient(&Principal::LinkViewer(v.clone()), &w.patient_id, Right::Read).await.is_ok(), "the first viewer keeps it");
    let listed = k.sharing_view(&owner).await.unwrap().links[0].clone();
    let after = day();
    assert!(listed.created.starts_with(&before) || listed.created.starts_with(&after), "the Sharing page says when a link was made: {}", listed.created);
    assert!(listed.last_used.is_some(), "and when it was last opened");
    let id = listed.id;
    k.revoke_link(&owner, &id).await.unwrap();
    assert!(not_found(k.open_patient(&Principal::LinkViewer(v), &w.patient_id, Right::Read).await), "revocation applies to the next request");
    // Limits: at most 30 days.
    let too_long = k
        .create_link(
            &owner,
            &w.owner,
            LinkInput { name: "long".into(), scope: Scope::whole(), expires_in_hours: Some(31 * 24), passcode: None, single_use: false },
            "http://kith.test",
        )
        .await;
    assert!(matches!(too_long, Err(CoreError::User(AppError::Validation { .. }))));
}

async fn one_chosen_entry_only(db: &TestDb) {
    let k = &db.kith;
    let w = world(k).await;
    let dr = user(k, "Dr One", "one@example.com", "clinician", "").await;
    let owner = k.own_record(&w.owner, Right::Manage).await.unwrap();
    // A private entry cannot be chosen.
    let private = k
        .create_grant(
            &owner,
            &w.owner,
            GrantInput {
                email: "one@example.com".into(),
                role: "clinician".into(),
                scope: Scope { entries: vec![w.private_entry.clone()], ..Default::default() },
                comment: false,
                contribute: false,
                act_for: false,
                expires_in_days: None,
            },
            "http://kith.test",
        )
        .await;
    assert!(matches!(private, Err(CoreError::User(AppError::Validation { .. }))), "{private:?}");
    grant(k, &w, "one@example.com", "clinician", Scope { entries: vec![w.general_entry.clone()], ..Default::default() }, false, None).await;
    let a = k.open_patient(&Principal::User(dr), &w.patient_id, Right::Read).await.unwrap();
    let ids: Vec<String> = visible_ids(k, &a).await.into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, vec![w.general_entry.clone()]);
    assert!(not_found(k.entry(&a, &w.mental_entry).await));
    assert_eq!(k.summary(&a).await.unwrap().total_entries, 1);
}

backend_tests!(
    a_carer_acting_for_the_patient_is_not_told_of_private_entries,
    invitations_decide_who_gets_a_grant,
    carers_access_is_reviewed_and_renewed,
    one_chosen_entry_only,
    the_matrix,
    a_carer_acting_for_the_patient_gives_no_more_than_they_have,
    what_a_carer_shared_stops_with_their_access,
    expired_grants_stop_working,
    links_need_passcode_lock_after_five_and_store_only_a_hash,
    single_use_and_revoked_links
);

/// A carer acting for the patient shares as the patient would, but cannot
/// pass on acting for them, share with themselves, or outlast their own
/// access through someone they share with.
async fn a_carer_acting_for_the_patient_gives_no_more_than_they_have(db: &TestDb) {
    let k = &db.kith;
    let w = world(k).await;
    let owner = k.own_record(&w.owner, Right::Manage).await.unwrap();
    let carer = user(k, "David Act", "act@example.com", "carer", "").await;
    grant(k, &w, "act@example.com", "carer", Scope::whole(), true, Some(30)).await;
    let acting = k.open_patient(&Principal::User(carer.clone()), &w.patient_id, Right::Manage).await.unwrap();

    // The patient's invitation for someone to act for her, not yet accepted:
    // the delegate cannot make a new link for it (and so take it over).
    let spouse = GrantInput { act_for: true, ..carer_input("spouse@example.com", None) };
    k.create_grant(&owner, &w.owner, spouse, "http://kith.test").await.unwrap();
    let spouse_grant = k.sharing_view(&owner).await.unwrap().grants.into_iter().find(|g| g.email == "spouse@example.com").unwrap().id;
    assert!(not_found(k.new_invitation(&acting, &spouse_grant, "http://kith.test").await));
    assert!(k.new_invitation(&owner, &spouse_grant, "http://kith.test").await.is_ok(), "the patient can");
    // Nor any other invitation of the patient's (they could take it over).
    k.create_grant(&owner, &w.owner, carer_input("sister@example.com", Some(365)), "http://kith.test").await.unwrap();
    let sisters = k.sharing_view(&acting).await.unwrap().grants.into_iter().find(|g| g.email == "sister@example.com").unwrap();
    assert!(!sisters.can_resend, "not offered");
    assert!(not_found(k.new_invitation(&acting, &sisters.id, "http://kith.test").await));

    // What the delegate shares ends when their access does, however long they ask for.
    let friend = k.create_grant(&acting, &carer, carer_input("friend@example.com", Some(3650)), "http://kith.test").await.unwrap();
    let clinician = GrantInput { role: "clinician".into(), ..carer_input("dr@example.com", None) };
    k.create_grant(&acting, &carer, clinician, "http://kith.test").await.unwrap();
    let end = |email: &'static str| async move {
        db.query_text("SELECT CAST(expires_at AS TEXT) FROM grants WHERE grantee_email = $1", email).await.and_then(|t| t.parse::<i64>().ok())
    };
    let own = end("act@example.com").await.expect("the delegate's access ends");
    assert_eq!(end("friend@example.com").await, Some(own));
    assert_eq!(end("dr@example.com").await, Some(own), "a clinician's share from a delegate ends with theirs too");
    // The patient's own shares are as she asks.
    k.create_grant(&owner, &w.owner, carer_input("long@example.com", Some(3650)), "http://kith.test").await.unwrap();
    assert!(end("long@example.com").await.unwrap() > own);

    // Their own invitations they may send again.
    let friends = k.sharing_view(&acting).await.unwrap().grants.into_iter().find(|g| g.email == "friend@example.com").unwrap();
    assert!(friends.can_resend);
    let first = friend;
    let friend = k.new_invitation(&acting, &friends.id, "http://kith.test").await.unwrap();
    let stranger = user(k, "Stranger", "stranger@example.com", "carer", "").await;
    assert!(
        k.accept_invitation(&stranger, InvitationKey::Token(kith_core::testing::invitation_token(&first)), &Origin::default()).await.is_err(),
        "the old link is dead"
    );
    // A link they make ends with their access too.
    let link = LinkInput { name: "For the dentist".into(), scope: Scope::whole(), expires_in_hours: Some(30 * 24), passcode: None, single_use: false };
    k.create_link(&acting, &carer, link, "http://kith.test").await.unwrap();
    let link_end =
        db.query_text("SELECT CAST(expires_at AS TEXT) FROM share_links WHERE name = $1", "For the dentist").await.and_then(|t| t.parse::<i64>().ok());
    assert_eq!(link_end, Some(own), "a 30-day link from a delegate with 30 days left, less the seconds since");

    // The delegate cannot accept what they made.
    let refused = k.accept_invitation(&carer, InvitationKey::Token(kith_core::testing::invitation_token(&friend)), &Origin::default()).await;
    assert!(matches!(refused, Err(CoreError::User(AppError::Conflict(m))) if m.contains("You made this invitation")));
    // The person it was for can.
    let pal = user(k, "Pat Friend", "pal@example.com", "carer", "").await;
    k.accept_invitation(&pal, InvitationKey::Token(kith_core::testing::invitation_token(&friend)), &Origin::default()).await.unwrap();
}

/// A carer acting for the patient manages the record and reads its access
/// log and sources, but private entries stay out of sight there too: no row
/// only about a private entry, no "Private" label, no count of them.
async fn a_carer_acting_for_the_patient_is_not_told_of_private_entries(db: &TestDb) {
    let k = &db.kith;
    let w = world(k).await;
    let owner = k.own_record(&w.owner, Right::Manage).await.unwrap();
    k.entry(&k.own_record(&w.owner, Right::Read).await.unwrap(), &w.private_entry).await.unwrap();
    let carer = user(k, "David Act", "act@example.com", "carer", "").await;
    grant(k, &w, "act@example.com", "carer", Scope::whole(), true, None).await;
    let acting = k.open_patient(&Principal::User(carer), &w.patient_id, Right::Manage).await.unwrap();

    let private = kith_types::record::label_title("private").to_string();
    let theirs = k.access_log(&owner, &Default::default()).await.unwrap().events;
    assert!(theirs.iter().any(|e| e.labels.contains(&private)), "the patient sees her private entry's rows");
    let shown = k.access_log(&acting, &Default::default()).await.unwrap().events;
    assert!(shown.iter().all(|e| !e.labels.contains(&private)), "no Private label for the carer");
    assert!(shown.len() < theirs.len(), "rows only about the private entry are left out");
    let only_private = kith_types::audit::AccessLogQuery { label: "private".into(), ..Default::default() };
    assert!(k.access_log(&acting, &only_private).await.unwrap().events.is_empty());

    let total = |v: kith_types::record::SourcesView| v.sources.iter().map(|s| s.entries).sum::<i64>();
    let all = total(k.sources_view(&owner).await.unwrap());
    let without = total(k.sources_view(&acting).await.unwrap());
    assert!(without < all, "source counts leave the private entry out ({without} vs {all})");
    let records = |v: &kith_types::record::SourcesView| v.sources.iter().map(|s| s.resources).sum::<i64>();
    let (theirs, shown) = (k.sources_view(&owner).await.unwrap(), k.sources_view(&acting).await.unwrap());
    assert!(records(&shown) < records(&theirs), "so do the counts of records behind them");
    let files = |v: &kith_types::record::SourcesView| v.sources.iter().flat_map(|s| s.imports.clone()).collect::<Vec<_>>();
    assert!(!files(&theirs).is_empty() && files(&theirs).iter().all(|i| i.counts.is_some()), "the patient sees each file's counts");
    assert!(!files(&shown).is_empty() && files(&shown).iter().all(|i| i.counts.is_none()), "the carer sees the files, not their counts");

    // The log's downloads leave the same out; the chain file, which must
    // hold every record as hashed to be checked, is the patient's alone.
    let private_id = w.private_entry.as_str();
    let theirs = k.audit_csv(&owner).await.unwrap();
    assert!(theirs.contains(private_id) && theirs.contains(" new, "), "the patient's download has it all");
    let csv = k.audit_csv(&acting).await.unwrap();
    assert!(theirs.contains(r#"""private"""#), "the patient's rows name the Private label");
    assert!(!csv.contains(private_id) && !csv.contains(r#"""private"""#), "{csv}");
    assert!(!csv.contains(" new, "), "an import's counts include private entries: {csv}");
    assert!(k.audit_events_bundle(&owner).await.unwrap().to_string().contains(r#""code":"private""#));
    let fhir = k.audit_events_bundle(&acting).await.unwrap().to_string();
    assert!(!fhir.contains(private_id) && !fhir.contains(r#""code":"private""#), "{fhir}");
    assert!(not_found(k.audit_chain_file(&acting).await));
    assert!(k.audit_chain_file(&owner).await.is_ok());
    let page = k.access_log(&acting, &Default::default()).await.unwrap();
    assert!(page.events.iter().filter(|e| e.action == "import").all(|e| !e.what.contains(" new, ")), "nor on the page");

    // Labelling a whole source leaves the private entry as it is.
    for s in k.sources_view(&acting).await.unwrap().sources {
        k.relabel_source(&acting, &s.id, "general").await.unwrap();
    }
    let reader = k.own_record(&w.owner, Right::Read).await.unwrap();
    assert_eq!(k.entry(&reader, &w.private_entry).await.unwrap().card.label, "private");

    // A source that sent only private entries is not named to the carer.
    let device = k.sources_view(&owner).await.unwrap().sources.into_iter().find(|s| s.kind == "device").expect("the demo's monitor");
    k.relabel_source(&owner, &device.id, "private").await.unwrap();
    assert!(k.sources_view(&owner).await.unwrap().sources.iter().any(|s| s.id == device.id));
    assert!(k.sources_view(&acting).await.unwrap().sources.iter().all(|s| s.id != device.id));
    // A private entry a later import removed is still not shown: the rows
    // that named it with the Private label stay hidden (rows from before it
    // was private, which the carer could see then, stay).
    let id = w.private_entry.as_str();
    db.exec(&format!("DELETE FROM entry_sources WHERE entry_id = '{id}'")).await;
    db.exec(&format!("DELETE FROM entries WHERE id = '{id}'")).await;
    let hers = k.audit_csv(&owner).await.unwrap();
    let privately: Vec<&str> = hers.lines().filter(|l| l.contains(id) && l.contains(r#"""private"""#)).collect();
    assert!(!privately.is_empty(), "the patient's log names it as private");
    let openly = hers.lines().filter(|l| l.contains(id) && !l.contains(r#"""private"""#)).count();
    let his = k.audit_csv(&acting).await.unwrap();
    assert_eq!(his.lines().filter(|l| l.contains(id)).count(), openly, "{his}");
    let named = |events: Vec<kith_types::audit::AccessEvent>| events.iter().any(|e| e.what.contains(&device.name));
    assert!(named(k.access_log(&owner, &Default::default()).await.unwrap().events), "the patient's log has its import");
    assert!(!named(k.access_log(&acting, &Default::default()).await.unwrap().events), "the carer's does not");
    assert!(!k.audit_csv(&acting).await.unwrap().contains(&device.name));
}

/// Stopping a family carer's access to act for the patient stops what they
/// shared for her, as its running out would have; the patient sees who set
/// each share up and what stopping the carer takes with it. A carer who
/// still acts for her through another grant keeps what they shared.
async fn what_a_carer_shared_stops_with_their_access(db: &TestDb) {
    let k = &db.kith;
    let w = world(k).await;
    let owner = k.own_record(&w.owner, Right::Manage).await.unwrap();
    let carer = user(k, "David Act", "act@example.com", "carer", "").await;
    grant(k, &w, "act@example.com", "carer", Scope::whole(), true, None).await;
    let acting = k.open_patient(&Principal::User(carer.clone()), &w.patient_id, Right::Manage).await.unwrap();
    let dr = user(k, "Dr Dent", "dent@example.com", "clinician", "").await;
    let dentist = GrantInput { role: "clinician".into(), ..carer_input("dent@example.com", None) };
    let invitation = k.create_grant(&acting, &carer, dentist, "http://kith.test").await.unwrap();
    kith_core::testing::accept(k, &invitation, "dent@example.com").await;
    let link = LinkInput { name: "For the ambulance".into(), scope: Scope::whole(), expires_in_hours: None, passcode: None, single_use: false };
    let token = k.create_link(&acting, &carer, link, "http://kith.test").await.unwrap().url.rsplit('/').next().unwrap().to_string();
    // A once-only link, used: it no longer opens, so it is not counted.
    let once = LinkInput { name: "Once".into(), scope: Scope::whole(), expires_in_hours: None, passcode: None, single_use: true };
    let used = k.create_link(&acting, &carer, once, "http://kith.test").await.unwrap().url.rsplit('/').next().unwrap().to_string();
    k.open_link(&used, "", "Pat Medic", "Paramedic", "Ambulance Service", &Origin::default()).await.unwrap();
    // A second carer acting for her shares too.
    let sue = user(k, "Sue Sister", "sister@example.com", "carer", "").await;
    grant(k, &w, "sister@example.com", "carer", Scope::whole(), true, None).await;
    let sues = k.open_patient(&Principal::User(sue.clone()), &w.patient_id, Right::Manage).await.unwrap();
    let physio = GrantInput { role: "clinician".into(), ..carer_input("physio@example.com", None) };
    k.create_grant(&sues, &sue, physio, "http://kith.test").await.unwrap();

    let view = k.sharing_view(&owner).await.unwrap();
    let by_email = |email: &str| view.grants.iter().find(|g| g.email == email).unwrap().clone();
    assert_eq!(by_email("dent@example.com").made_by.as_deref(), Some("David Act, acting for you"));
    assert_eq!(by_email("physio@example.com").made_by.as_deref(), Some("Sue Sister, acting for you"));
    assert_eq!(by_email("act@example.com").made_by, None, "the patient's own share names nobody");
    assert!(view.links.iter().all(|l| l.made_by.as_deref() == Some("David Act, acting for you")));
    // Only the patient stops a carer's access to act for her; another carer
    // acting for her cannot (the Sharing page offers them no button).
    let as_sue = k.sharing_view(&sues).await.unwrap();
    let davids = as_sue.grants.iter().find(|g| g.email == "act@example.com").unwrap();
    assert!(!davids.can_stop && by_email("act@example.com").can_stop);
    assert!(not_found(k.revoke_grant(&sues, &davids.id).await));
    let dentists = as_sue.grants.iter().find(|g| g.email == "dent@example.com").unwrap();
    assert!(dentists.can_stop && dentists.made_by.as_deref() == Some("David Act, acting for Margaret Jones"), "{dentists:?}");
    assert_eq!(by_email("act@example.com").also_stops.as_deref(), Some("1 person and 1 link"));
    assert_eq!(by_email("sister@example.com").also_stops.as_deref(), Some("1 person"));
    assert_eq!(by_email("dent@example.com").also_stops, None, "a clinician acts for nobody");

    // Both work until the carer's access stops; then neither does.
    assert!(k.open_patient(&Principal::User(dr.clone()), &w.patient_id, Right::Read).await.is_ok());
    assert!(k.open_link(&token, "", "Pat Medic", "Paramedic", "Ambulance Service", &Origin::default()).await.is_ok());
    let stopped = k.revoke_grant(&owner, &by_email("act@example.com").id).await.unwrap();
    assert_eq!(stopped, 2);
    assert!(not_found(k.open_patient(&Principal::User(dr), &w.patient_id, Right::Read).await), "the dentist's grant stopped");
    assert!(k.open_link(&token, "", "Pat Medic", "Paramedic", "Ambulance Service", &Origin::default()).await.is_err(), "the link stopped");
    let after = k.sharing_view(&owner).await.unwrap();
    let status = |email: &str| after.grants.iter().find(|g| g.email == email).unwrap().status.clone();
    assert_eq!(status("dent@example.com"), "revoked");
    assert_eq!(after.links.iter().find(|l| l.name == "For the ambulance").unwrap().status, "revoked");
    assert_eq!(status("physio@example.com"), "active", "another carer's shares go on");
    assert_eq!(status("sister@example.com"), "active");
    // A request David began before he was stopped shares nothing.
    let late = GrantInput { role: "clinician".into(), ..carer_input("late@example.com", None) };
    assert!(not_found(k.create_grant(&acting, &carer, late, "http://kith.test").await));
    let link = LinkInput { name: "Too late".into(), scope: Scope::whole(), expires_in_hours: None, passcode: None, single_use: false };
    assert!(not_found(k.create_link(&acting, &carer, link, "http://kith.test").await));
    let log = db.log(&w.patient_id).await;
    let revoke = log.iter().rev().find(|e| e.action == "revoke").unwrap();
    assert!(revoke.what.contains("act@example.com") && revoke.what.contains("1 person and 1 link"), "{}", revoke.what);

    // A carer may step down themselves.
    let sue_steps_down = k.sharing_view(&sues).await.unwrap().grants.into_iter().find(|g| g.email == "sister@example.com").unwrap();
    assert!(sue_steps_down.can_stop);
    // A carer acting through two grants keeps what they shared when one stops.
    grant(k, &w, "sister@example.com", "carer", Scope::whole(), true, Some(30)).await;
    let first = by_email("sister@example.com").id;
    assert_eq!(k.revoke_grant(&owner, &first).await.unwrap(), 0);
    let still = k.sharing_view(&owner).await.unwrap();
    assert_eq!(still.grants.iter().find(|g| g.email == "physio@example.com").unwrap().status, "active");
}

//! Comments and the shared care plan: rights checked on the server, history
//! kept, the review diff, live announcements. On SQLite and PostgreSQL.

use kith_core::policy::{Principal, RecordAccess, Right, Scope};
use kith_core::sharing::GrantInput;
use kith_core::testing::{not_found, user, TestDb};
use kith_core::{backend_tests, Actor, CoreError, Kith};
use kith_types::record::TimelineQuery;
use kith_types::together::PlanFields;
use kith_types::AppError;

struct People {
    patient: RecordAccess,
    carer: RecordAccess,
    clinician: RecordAccess,
    viewer: RecordAccess,
    mind: RecordAccess,
    general_entry: String,
}

/// Margaret with a carer acting for her, a clinician who may comment and
/// contribute, a view-only clinician, and one who sees mental health only.
async fn people(k: &Kith) -> People {
    kith_core::demo::load(k).await.unwrap();
    let owner = k.sign_in("margaret@demo.kith.example", "kettle orange stairs", "10.0.0.1").await.unwrap();
    let patient = k.own_record(&owner, Right::Manage).await.unwrap();
    let grant = |email: &str, role: &str, scope: Scope, comment: bool, contribute: bool, act_for: bool| GrantInput {
        email: email.into(),
        role: role.into(),
        scope,
        comment,
        contribute,
        act_for,
        expires_in_days: None,
    };
    let carer = user(k, "David Jones", "dj@example.com", "carer", "Riverside Surgery").await;
    let dr = user(k, "Dr Priya Shah", "ps@example.com", "clinician", "Riverside Surgery").await;
    let viewer = user(k, "Dr View Only", "vo@example.com", "clinician", "Riverside Surgery").await;
    let mind = user(k, "Dr Mind", "mind@example.com", "clinician", "Riverside Surgery").await;
    for input in [
        grant("dj@example.com", "carer", Scope::whole(), false, false, true),
        grant("ps@example.com", "clinician", Scope::whole(), true, true, false),
        grant("vo@example.com", "clinician", Scope::whole(), false, false, false),
        grant("mind@example.com", "clinician", Scope { labels: vec!["mental-health".into()], ..Default::default() }, true, true, false),
    ] {
        let email = input.email.clone();
        let invitation = k.create_grant(&patient, &owner, input, "http://kith.test").await.unwrap();
        kith_core::testing::accept(k, &invitation, &email).await;
    }
    let pid = patient.patient_id().to_string();
    let open = |a: Actor, r: Right| {
        let pid = pid.clone();
        async move { k.open_patient(&Principal::User(a), &pid, r).await.unwrap() }
    };
    let page = k.timeline(&patient, &TimelineQuery::default()).await.unwrap();
    let cards: Vec<_> = page.days.iter().flat_map(|(_, c)| c.iter()).collect();
    let general_entry = cards.iter().find(|c| c.label == "general").unwrap().id.clone();
    People {
        carer: open(carer, Right::Manage).await,
        clinician: open(dr, Right::Contribute).await,
        viewer: open(viewer, Right::Read).await,
        mind: open(mind, Right::Contribute).await,
        patient,
        general_entry,
    }
}

async fn comments_are_shared_kept_and_hidden_not_deleted(db: &TestDb) {
    let k = &db.kith;
    let p = people(k).await;
    let e = &p.general_entry;
    let mut live = k.subscribe();
    let mine = k.add_comment(&p.patient, e, "I stopped this in March.").await.unwrap();
    let change = tokio::time::timeout(std::time::Duration::from_secs(2), live.recv()).await.expect("announced within 2 s").unwrap();
    assert_eq!(change.topic, format!("comments:{e}"));
    k.add_comment(&p.carer, e, "Mum finds the tablets hard to swallow.").await.unwrap();
    let drs = k.add_comment(&p.clinician, e, "Noted; switching to liquid.").await.unwrap();
    // A view-only clinician cannot comment (the server refuses, not only the UI).
    assert!(not_found(k.add_comment(&p.viewer, e, "sneaky").await));
    // Someone who cannot see the entry cannot see or add its comments.
    assert!(not_found(k.comments(&p.mind, e).await));
    assert!(not_found(k.add_comment(&p.mind, e, "hello").await));
    assert!(matches!(k.add_comment(&p.clinician, e, "   ").await, Err(CoreError::User(AppError::Validation { .. }))));

    let seen = k.comments(&p.viewer, e).await.unwrap();
    assert_eq!(seen.comments.len(), 3);
    assert!(!seen.can_comment && !seen.can_hide);
    assert_eq!(seen.comments[1].author, "David Jones (carer, Riverside Surgery) for Margaret Jones");
    assert_eq!(seen.comments[2].author, "Dr Priya Shah (clinician, Riverside Surgery)");

    // Edits keep their history; only the author edits.
    k.edit_comment(&p.clinician, &drs, "Noted; switching to the liquid form.").await.unwrap();
    assert!(not_found(k.edit_comment(&p.patient, &drs, "changed by someone else").await));
    let c = k.comments(&p.patient, e).await.unwrap().comments.into_iter().find(|c| c.id == drs).unwrap();
    assert_eq!(c.body, "Noted; switching to the liquid form.");
    assert_eq!(c.history.iter().map(|h| h.0.as_str()).collect::<Vec<_>>(), ["Noted; switching to liquid."]);
    assert!(c.edited.is_some());

    // The patient hides a comment: gone for others, kept for the patient and its author.
    assert!(not_found(k.set_comment_hidden(&p.clinician, &mine, true).await), "only the patient hides");
    k.set_comment_hidden(&p.patient, &drs, true).await.unwrap();
    assert_eq!(k.comments(&p.viewer, e).await.unwrap().comments.len(), 2);
    let own = k.comments(&p.patient, e).await.unwrap();
    assert!(own.can_hide && own.comments.iter().any(|c| c.id == drs && c.hidden));
    assert!(k.comments(&p.clinician, e).await.unwrap().comments.iter().any(|c| c.id == drs && c.hidden), "its author still sees it");

    // In the access log.
    let log = db.log(p.patient.patient_id()).await;
    assert_eq!(log.iter().filter(|r| r.action == "comment").count(), 3);
    assert!(log.iter().any(|r| r.what == "comment hidden" && r.entries.contains(e.as_str()) && r.labels == "[]"));
}

async fn the_care_plan_is_written_together_with_versions_and_a_review_diff(db: &TestDb) {
    let k = &db.kith;
    let p = people(k).await;
    let text = |t: &str| PlanFields { text: t.into(), ..Default::default() };
    let about = k.add_plan_item(&p.patient, "about-me", text("I was a teacher; I like mornings.")).await.unwrap();
    let goal = k
        .add_plan_item(
            &p.clinician,
            "goals",
            PlanFields { text: "Walk to the shop".into(), target_date: "2027-03-01".into(), status: "active".into(), ..Default::default() },
        )
        .await
        .unwrap();
    let action = k
        .add_plan_item(
            &p.carer,
            "actions",
            PlanFields { text: "Fit a handrail".into(), who: "David".into(), by_when: "2026-12-15".into(), ..Default::default() },
        )
        .await
        .unwrap();
    k.add_plan_item(&p.clinician, "contingency", text("If breathless at rest, call 999.")).await.unwrap();
    // View-only: the server refuses.
    assert!(not_found(k.add_plan_item(&p.viewer, "needs", text("x")).await));
    // Mental-health-only clinician does not see the plan at all.
    assert!(not_found(k.care_plan(&p.mind).await));
    assert!(matches!(
        k.add_plan_item(&p.patient, "goals", PlanFields { text: "x".into(), target_date: "soon".into(), ..Default::default() }).await,
        Err(CoreError::User(AppError::Validation { .. }))
    ));
    assert!(matches!(k.add_plan_item(&p.patient, "nonsense", text("x")).await, Err(CoreError::User(AppError::Validation { .. }))));

    let plan = k.care_plan(&p.viewer).await.unwrap();
    assert!(!plan.can_contribute);
    // The owner reading the plan is offered the forms (opened for Read, may Contribute).
    let owner_read =
        k.open_patient(&Principal::User(k.actor(p.patient.user_id().unwrap()).await.unwrap().unwrap()), p.patient.patient_id(), Right::Read).await.unwrap();
    assert!(k.care_plan(&owner_read).await.unwrap().can_contribute);
    let section = |key: &str| plan.sections.iter().find(|s| s.key == key).unwrap().items.clone();
    assert_eq!(section("about-me")[0].author, "Margaret Jones (patient)");
    assert_eq!(section("goals")[0].fields.target_date, "2027-03-01");
    assert_eq!(section("actions")[0].author, "David Jones (carer, Riverside Surgery) for Margaret Jones");
    assert_eq!(plan.sections.iter().map(|s| s.key.as_str()).collect::<Vec<_>>()[0], "about-me", "PRSB order");

    // Review, then change: the diff shows exactly what changed since.
    k.review_care_plan(&p.patient, "2027-06-01").await.unwrap();
    assert!(matches!(k.review_care_plan(&p.patient, "2020-01-01").await, Err(CoreError::User(AppError::Validation { .. }))));
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    k.update_plan_item(
        &p.carer,
        &action,
        1,
        PlanFields { text: "Fit a handrail".into(), who: "David".into(), by_when: "2026-12-15".into(), done: true, ..Default::default() },
    )
    .await
    .unwrap();
    k.remove_plan_item(&p.patient, &about).await.unwrap();
    let needs = k.add_plan_item(&p.clinician, "needs", text("Help with the stairs")).await.unwrap();
    k.update_plan_item(
        &p.clinician,
        &goal,
        1,
        PlanFields { text: "Walk to the shop and back".into(), target_date: "2027-03-01".into(), status: "active".into(), ..Default::default() },
    )
    .await
    .unwrap();
    // A stale edit (made to version 1 after version 2 was saved) is refused, not lost silently.
    let stale = k.update_plan_item(&p.patient, &goal, 1, PlanFields { text: "Walk to the park".into(), ..Default::default() }).await;
    assert!(matches!(stale, Err(CoreError::User(AppError::Conflict(_)))), "{stale:?}");
    let plan = k.care_plan(&p.patient).await.unwrap();
    assert_eq!(plan.next_review.as_ref().map(|n| n.0.as_str()), Some("2027-06-01"));
    assert!(!plan.review_due);
    let changes: Vec<(&str, &str)> = plan.changes_since_review.iter().map(|c| (c.section.as_str(), c.change.as_str())).collect();
    assert!(changes.contains(&("Actions and activities", "changed")), "{changes:?}");
    assert!(changes.contains(&("About me", "removed")), "{changes:?}");
    assert!(changes.contains(&("My needs", "added")), "{changes:?}");
    assert!(changes.contains(&("Goals", "changed")), "{changes:?}");
    assert_eq!(changes.len(), 4, "{changes:?}");
    let done = plan.changes_since_review.iter().find(|c| c.section == "Actions and activities").unwrap();
    assert!(done.after.as_deref().unwrap().ends_with("done") && !done.before.as_deref().unwrap().ends_with("done"));
    assert!(plan.sections.iter().find(|s| s.key == "about-me").unwrap().items.is_empty(), "removed from the plan");
    assert_eq!(plan.sections.iter().find(|s| s.key == "goals").unwrap().items[0].version, 2);
    let _ = needs;

    // Every change is in the access log.
    let log = db.log(p.patient.patient_id()).await;
    assert!(log.iter().filter(|r| r.what.starts_with("care plan:")).count() >= 8);

    // FHIR: a CarePlan and a Goal.
    let bundle = k.care_plan_fhir(&p.patient).await.unwrap();
    let types: Vec<&str> = bundle["entry"].as_array().unwrap().iter().map(|e| e["resource"]["resourceType"].as_str().unwrap()).collect();
    assert_eq!(types, ["CarePlan", "Goal"]);
    let last = db.log(p.patient.patient_id()).await.pop().unwrap();
    assert_eq!((last.action.as_str(), last.what.as_str()), ("export", "care plan as FHIR"));
    assert_eq!(bundle["entry"][0]["resource"]["activity"][0]["detail"]["status"], "completed");
}

async fn changes_are_announced_to_open_pages(db: &TestDb) {
    let k = &db.kith;
    let p = people(k).await;
    let mut live = k.subscribe();
    let t = std::time::Instant::now();
    k.add_plan_item(&p.carer, "strengths", PlanFields { text: "Loves her garden".into(), ..Default::default() }).await.unwrap();
    let c = tokio::time::timeout(std::time::Duration::from_secs(2), live.recv()).await.expect("within 2 s").unwrap();
    assert_eq!((c.patient_id.as_str(), c.topic.as_str()), (p.patient.patient_id(), "care-plan"));
    assert!(t.elapsed() < std::time::Duration::from_secs(2));

    // Each open page hears only what it may see, and nothing once its
    // access has ended.
    use kith_core::together::{Change, Hearing};
    let change = |topic: String| Change { patient_id: p.patient.patient_id().to_string(), topic };
    let plan = change("care-plan".into());
    let general = change(format!("comments:{}", p.general_entry));
    // An entry Dr Mind sees (mental health only).
    let minds = k.timeline(&p.mind, &TimelineQuery::default()).await.unwrap();
    let mental = change(format!("comments:{}", minds.days[0].1[0].id));
    assert_eq!(k.hears(&p.viewer, &plan).await.unwrap(), Hearing::Tell);
    assert_eq!(k.hears(&p.viewer, &general).await.unwrap(), Hearing::Tell);
    assert_eq!(k.hears(&p.mind, &mental).await.unwrap(), Hearing::Tell);
    assert_eq!(k.hears(&p.mind, &general).await.unwrap(), Hearing::Skip, "an entry out of scope");
    assert_eq!(k.hears(&p.mind, &plan).await.unwrap(), Hearing::Skip, "a plan out of scope");
    let elsewhere = Change { patient_id: "someone-else".into(), topic: "care-plan".into() };
    assert_eq!(k.hears(&p.patient, &elsewhere).await.unwrap(), Hearing::Skip);
    let grants = k.sharing_view(&p.patient).await.unwrap().grants;
    let viewer_grant = grants.into_iter().find(|g| g.email == "vo@example.com").unwrap().id;
    k.revoke_grant(&p.patient, &viewer_grant).await.unwrap();
    assert_eq!(k.hears(&p.viewer, &plan).await.unwrap(), Hearing::Closed, "revocation ends the stream");
    assert_eq!(k.hears(&p.patient, &plan).await.unwrap(), Hearing::Tell);
}

backend_tests!(
    each_right_covers_only_what_its_grants_cover,
    comments_are_shared_kept_and_hidden_not_deleted,
    the_care_plan_is_written_together_with_versions_and_a_review_diff,
    changes_are_announced_to_open_pages,
    long_plan_fields_are_refused_not_cut_short
);

async fn long_plan_fields_are_refused_not_cut_short(db: &TestDb) {
    let k = &db.kith;
    let p = people(k).await;
    let who = "Margaret's neighbour ".repeat(12);
    let fields = PlanFields { text: "Put the bins out".into(), who: who.clone(), ..Default::default() };
    match k.add_plan_item(&p.patient, "actions", fields).await {
        Err(CoreError::User(AppError::Validation { errors, values })) => {
            assert_eq!(errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), ["who"]);
            assert!(values.contains(&("who".to_string(), who.clone())), "what was typed comes back whole");
        }
        other => panic!("expected a field error, got {other:?}"),
    }
    let contact = "x".repeat(501);
    let fields = PlanFields { text: "Dr Shah".into(), role: "GP".into(), contact, ..Default::default() };
    assert!(matches!(k.add_plan_item(&p.patient, "people", fields).await, Err(CoreError::User(AppError::Validation { .. }))));
    let plan = k.care_plan(&p.patient).await.unwrap();
    assert!(plan.sections.iter().all(|s| s.items.is_empty() || s.key != "actions"), "nothing stored cut short");
    // At the limit is fine.
    let fields = PlanFields { text: "Put the bins out".into(), who: "n".repeat(200), ..Default::default() };
    k.add_plan_item(&p.patient, "actions", fields).await.unwrap();
}

/// Two grants to one clinician: the whole record to view, and the mental
/// health entries to comment on and contribute to. Rights are not merged
/// across grants: they comment on mental health only, and do not change
/// the care plan (which the mental-health grant does not cover).
async fn each_right_covers_only_what_its_grants_cover(db: &TestDb) {
    let k = &db.kith;
    kith_core::demo::load(k).await.unwrap();
    let owner = k.sign_in("margaret@demo.kith.example", "kettle orange stairs", "10.0.0.1").await.unwrap();
    let patient = k.own_record(&owner, Right::Manage).await.unwrap();
    let dr = user(k, "Dr Two Grants", "two@example.com", "clinician", "Riverside Surgery").await;
    let view_all = GrantInput {
        email: "two@example.com".into(),
        role: "clinician".into(),
        scope: Scope::whole(),
        comment: false,
        contribute: false,
        act_for: false,
        expires_in_days: None,
    };
    let mental =
        GrantInput { scope: Scope { labels: vec!["mental-health".into()], ..Default::default() }, comment: true, contribute: true, ..view_all.clone() };
    for input in [view_all, mental] {
        let invitation = k.create_grant(&patient, &owner, input, "http://kith.test").await.unwrap();
        kith_core::testing::accept(k, &invitation, "two@example.com").await;
    }
    let first = |label: &str| {
        let q = TimelineQuery { label: label.into(), ..Default::default() };
        let patient = &patient;
        async move { k.timeline(patient, &q).await.unwrap().days[0].1[0].id.clone() }
    };
    let (general, mh) = (first("general").await, first("mental-health").await);
    let pid = patient.patient_id().to_string();
    let who = Principal::User(dr.clone());
    let open = |r: Right| k.open_patient(&who, &pid, r);

    // Reading covers both grants.
    let read = open(Right::Read).await.unwrap();
    assert!(k.entry(&read, &general).await.is_ok() && k.entry(&read, &mh).await.is_ok());
    assert!(k.care_plan(&read).await.is_ok(), "the whole-record grant shows the care plan");
    // Commenting covers the mental-health grant only, and the page says so.
    assert!(!k.comments(&read, &general).await.unwrap().can_comment);
    assert!(k.comments(&read, &mh).await.unwrap().can_comment);
    let commenting = open(Right::Comment).await.unwrap();
    assert!(not_found(k.add_comment(&commenting, &general, "Commenting where I was not asked to.").await));
    assert!(k.add_comment(&commenting, &mh, "Seen in clinic; doing better.").await.is_ok());
    // Contributing: the mental-health grant does not cover the care plan.
    assert!(!k.care_plan(&read).await.unwrap().can_contribute);
    let contributing = open(Right::Contribute).await.unwrap();
    let item = PlanFields { text: "Walk every morning".into(), ..Default::default() };
    assert!(not_found(k.add_plan_item(&contributing, "goals", item).await));
    assert!(!read.is_partial() || read.scope().is_some_and(|s| s.all), "reading is the union: the whole record");
}

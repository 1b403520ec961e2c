//! Working together: comments on entries and the shared care plan.
//!
//! Rights come from the policy: reading needs Read, commenting Comment, care
//! plan changes Contribute, hiding a comment the patient's own rights
//! (Manage over the whole record). Every write lands in the access log in the
//! same transaction, and is announced on `Kith::changes` so open pages update.
//! Nothing is deleted: edits add versions; hiding and removing are marks.

use std::collections::HashMap;

use chrono::NaiveDate;
use kith_types::together::*;
use kith_types::{uk_date, AppError, FieldError};

use crate::audit::{author, Disclosure};
use crate::policy::{require, require_whole, RecordAccess, Right};
use crate::store::together::{self as sql, NewComment, PlanWrite};
use crate::store::{self, EntryFilter};
use crate::{ms_to_uk, new_id, now_ms, CoreError, CoreResult, Kith};

/// Longest comment or care plan text, in characters.
const MAX_TEXT: usize = 5000;

/// Something on a record changed that open pages may want to show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub patient_id: String,
    /// "care-plan", or "comments:<entry id>"
    pub topic: String,
}

/// What to do with a change for one open page (see [`Kith::hears`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hearing {
    Tell,
    Skip,
    /// The access has ended: close the stream.
    Closed,
}

fn byline(name: &str, role: &str, org: &str, on_behalf_of: Option<&str>) -> String {
    let org = if org.is_empty() { String::new() } else { format!(", {org}") };
    let behalf = on_behalf_of.map(|p| format!(" for {p}")).unwrap_or_default();
    format!("{name} ({role}{org}){behalf}")
}

/// The care plan is shared with those given the whole record or the care
/// plan kind of entry.
fn sees_care_plan(access: &RecordAccess) -> bool {
    covers_care_plan(access.scope())
}

fn covers_care_plan(scope: Option<&crate::policy::Scope>) -> bool {
    scope.is_none_or(|s| s.all || s.kinds.iter().any(|k| k == "care-plan"))
}

fn check_text(field: &str, text: &str, what: &str) -> Result<String, AppError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(AppError::field(field, format!("Write {what}")));
    }
    if t.chars().count() > MAX_TEXT {
        return Err(
            AppError::field(field, format!("Keep it to {MAX_TEXT} characters (this is {})", t.chars().count())).with_values(vec![(field.into(), text.into())])
        );
    }
    Ok(t.to_string())
}

fn check_date(field: &str, value: &str, errors: &mut Vec<FieldError>) -> String {
    let v = value.trim();
    if !v.is_empty() && NaiveDate::parse_from_str(v, "%Y-%m-%d").is_err() {
        errors.push(FieldError { field: field.into(), message: "Enter a date like 2026-12-31".into() });
    }
    v.to_string()
}

fn values_of(f: &PlanFields) -> Vec<(String, String)> {
    [
        ("text", &f.text),
        ("target_date", &f.target_date),
        ("status", &f.status),
        ("who", &f.who),
        ("by_when", &f.by_when),
        ("role", &f.role),
        ("contact", &f.contact),
        ("entry_id", &f.entry_id),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.clone()))
    .collect()
}

/// A short optional field, trimmed; too long is an error, never cut short.
fn check_short(field: &str, value: &str, max: usize, errors: &mut Vec<FieldError>) -> String {
    let v = value.trim();
    if v.chars().count() > max {
        errors.push(FieldError { field: field.into(), message: format!("Keep this to {max} characters or fewer") });
    }
    v.to_string()
}

/// Checks and tidies one item's fields for its section.
fn check_fields(section: &str, f: PlanFields) -> Result<PlanFields, AppError> {
    let mut errors = Vec::new();
    if !SECTIONS.iter().any(|(k, _, _)| *k == section) {
        errors.push(FieldError { field: "section".into(), message: "Choose a heading from the plan".into() });
    }
    let text = match check_text("text", &f.text, "something for this heading") {
        Ok(t) => t,
        Err(AppError::Validation { errors: e, .. }) => {
            errors.extend(e);
            String::new()
        }
        Err(e) => return Err(e),
    };
    let mut out = PlanFields { text, ..Default::default() };
    match section {
        "goals" => {
            out.target_date = check_date("target_date", &f.target_date, &mut errors);
            out.status = if f.status.is_empty() { "proposed".into() } else { f.status.clone() };
            if !GOAL_STATUSES.iter().any(|(k, _)| *k == out.status) {
                errors.push(FieldError { field: "status".into(), message: "Choose a status from the list".into() });
            }
        }
        "actions" => {
            out.who = check_short("who", &f.who, 200, &mut errors);
            out.by_when = check_date("by_when", &f.by_when, &mut errors);
            out.done = f.done;
        }
        "people" => {
            out.role = check_short("role", &f.role, 200, &mut errors);
            out.contact = check_short("contact", &f.contact, 500, &mut errors);
        }
        "problems" => out.entry_id = f.entry_id.trim().to_string(),
        _ => {}
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(AppError::Validation { errors, values: values_of(&f) })
    }
}

impl Kith {
    /// Subscribes to changes on every record (the events route filters by
    /// the record the page shows).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    /// Whether a page open under `access` should hear of `change`. The
    /// access is decided again, so a revoked grant or an expired link hears
    /// nothing more ([`Hearing::Closed`]); a change to something outside
    /// what it may see (an entry out of scope, a plan it cannot see) is
    /// skipped, so even the timing of activity there does not leak. Nothing
    /// is disclosed, so nothing is logged.
    pub async fn hears(&self, access: &RecordAccess, change: &Change) -> CoreResult<Hearing> {
        if change.patient_id != access.patient_id() {
            return Ok(Hearing::Skip);
        }
        match self.open_patient(access.principal(), access.patient_id(), Right::Read).await {
            Ok(_) => {}
            Err(CoreError::User(AppError::NotFound)) => return Ok(Hearing::Closed),
            Err(e) => return Err(e),
        }
        let visible = if change.topic == "care-plan" {
            sees_care_plan(access)
        } else if let Some(entry_id) = change.topic.strip_prefix("comments:") {
            store::entry_by_id(&self.db.pool, access.patient_id(), entry_id, access.scope()).await?.is_some()
        } else {
            // "all" (missed changes) and anything new: the page refetches
            // through the policy anyway.
            true
        };
        Ok(if visible { Hearing::Tell } else { Hearing::Skip })
    }

    fn announce(&self, patient_id: &str, topic: String) {
        // Nobody listening is fine.
        let _ = self.changes.send(Change { patient_id: patient_id.to_string(), topic });
    }

    /// The comments on one entry, for those who can see the entry.
    pub async fn comments(&self, access: &RecordAccess, entry_id: &str) -> CoreResult<CommentsView> {
        require(access, Right::Read)?;
        // Comments are part of the record, so reading them is logged (the
        // entry page fetches them again on each live update), unless there
        // are none to show.
        let mut audited = self.audited_view(access).await?;
        let Some(entry) = store::entry_by_id(audited.conn(), access.patient_id(), entry_id, access.scope()).await? else {
            return audited.fail(AppError::NotFound).await;
        };
        let me = author(access).key;
        let can_hide = access.may(Right::Manage) && require_whole(access).is_ok();
        let rows = sql::comments_on(audited.conn(), access.patient_id(), entry_id).await?;
        let mut history: HashMap<String, Vec<(String, String)>> = HashMap::new();
        for (id, _, body, at) in sql::comment_versions(audited.conn(), access.patient_id(), entry_id).await? {
            history.entry(id).or_default().push((body, ms_to_uk(at)));
        }
        let comments: Vec<CommentView> = rows
            .into_iter()
            .filter(|c| c.hidden_at.is_none() || can_hide || c.author_key == me)
            .map(|c| {
                let mut h = history.remove(&c.id).unwrap_or_default();
                h.pop(); // the current version is the body itself
                CommentView {
                    author: byline(&c.author_name, &c.author_role, &c.author_org, c.on_behalf_of.as_deref()),
                    when: ms_to_uk(c.created_at),
                    edited: (c.version > 1).then(|| ms_to_uk(c.updated_at)),
                    hidden: c.hidden_at.is_some(),
                    history: h,
                    mine: c.author_key == me,
                    id: c.id,
                    body: c.body,
                }
            })
            .collect();
        if comments.is_empty() {
            audited.discard().await?;
        } else {
            audited.commit_view(access, Disclosure::new("view", crate::audit::COMMENTS_WHAT).with([(entry.id.as_str(), entry.label.as_str())])).await?;
        }
        // Someone may see more than they may comment on (two grants).
        let can_comment = match access.scope_for(Right::Comment) {
            None => false,
            Some(s) if s == access.scope() => true,
            Some(s) => store::entry_by_id(&self.db.pool, access.patient_id(), entry_id, s).await?.is_some(),
        };
        Ok(CommentsView { comments, can_comment, can_hide })
    }

    pub async fn add_comment(&self, access: &RecordAccess, entry_id: &str, body: &str) -> CoreResult<String> {
        require(access, Right::Comment)?;
        let body = check_text("body", body, "your comment")?;
        let mut a = self.audited(access).await?;
        let Some(entry) = store::entry_by_id(a.conn(), access.patient_id(), entry_id, access.scope()).await? else {
            return a.fail(AppError::NotFound).await;
        };
        let who = author(access);
        let id = new_id();
        let c = NewComment {
            id: &id,
            entry_id,
            author_key: &who.key,
            author_name: &who.name,
            author_role: &who.role,
            author_org: &who.org,
            on_behalf_of: who.on_behalf_of.as_deref(),
            body: &body,
            now: now_ms(),
        };
        if let Err(e) = sql::insert_comment(a.conn(), access.patient_id(), &c).await {
            return a.fail(e).await;
        }
        a.commit(access, Disclosure::new("comment", "comment on an entry").with([(entry.id.as_str(), entry.label.as_str())])).await?;
        self.announce(access.patient_id(), format!("comments:{entry_id}"));
        Ok(id)
    }

    /// The author edits their comment; the earlier text is kept.
    pub async fn edit_comment(&self, access: &RecordAccess, comment_id: &str, body: &str) -> CoreResult<()> {
        require(access, Right::Comment)?;
        let body = check_text("body", body, "your comment")?;
        let mut a = self.audited(access).await?;
        let c = match self.visible_comment(&mut a, access, comment_id).await {
            Ok(c) if c.author_key == author(access).key => c,
            Ok(_) => return a.fail(AppError::NotFound).await,
            Err(e) => return a.fail(e).await,
        };
        sql::edit_comment(a.conn(), access.patient_id(), comment_id, c.version + 1, &body, now_ms()).await?;
        a.commit(access, Disclosure::new("update", "comment edited").about(&c.entry_id)).await?;
        self.announce(access.patient_id(), format!("comments:{}", c.entry_id));
        Ok(())
    }

    /// The patient hides (or shows again) a comment; it is kept either way.
    pub async fn set_comment_hidden(&self, access: &RecordAccess, comment_id: &str, hidden: bool) -> CoreResult<()> {
        require(access, Right::Manage)?;
        require_whole(access)?;
        let mut a = self.audited(access).await?;
        let c = match self.visible_comment(&mut a, access, comment_id).await {
            Ok(c) => c,
            Err(e) => return a.fail(e).await,
        };
        sql::set_comment_hidden(a.conn(), access.patient_id(), comment_id, hidden.then(now_ms), &author(access).key).await?;
        let what = if hidden { "comment hidden" } else { "comment shown again" };
        a.commit(access, Disclosure::new("update", what).about(&c.entry_id)).await?;
        self.announce(access.patient_id(), format!("comments:{}", c.entry_id));
        Ok(())
    }

    async fn visible_comment(&self, a: &mut crate::audit::Audited<'_>, access: &RecordAccess, comment_id: &str) -> CoreResult<sql::CommentRow> {
        let c = sql::comment(a.conn(), access.patient_id(), comment_id).await?.ok_or(AppError::NotFound)?;
        if store::entry_by_id(a.conn(), access.patient_id(), &c.entry_id, access.scope()).await?.is_none() {
            return Err(AppError::NotFound.into());
        }
        Ok(c)
    }

    /// The care plan under its headings, with what changed since the last review.
    pub async fn care_plan(&self, access: &RecordAccess) -> CoreResult<CarePlanView> {
        self.read_care_plan(access, Disclosure::new("view", "care plan")).await
    }

    async fn read_care_plan(&self, access: &RecordAccess, d: Disclosure) -> CoreResult<CarePlanView> {
        require(access, Right::Read)?;
        if !sees_care_plan(access) {
            return Err(AppError::NotFound.into());
        }
        let patient = access.patient_id();
        let mut a = self.audited(access).await?;
        let rows = sql::plan_items(a.conn(), patient).await?;
        let versions = sql::plan_versions(a.conn(), patient).await?;
        let review = sql::last_review(a.conn(), patient).await?;
        let f = EntryFilter { kinds: vec!["condition".into()], scope: access.scope().cloned(), ..Default::default() };
        let shown = store::entries_page(a.conn(), patient, &f, 200).await?;
        let d = d.with(shown.iter().map(|e| (e.id.as_str(), e.label.as_str())));
        let conditions: Vec<(String, String)> = shown.into_iter().map(|e| (e.id, e.text)).collect();
        a.commit(access, d).await?;

        let mut sections: Vec<PlanSection> =
            SECTIONS.iter().map(|(k, t, h)| PlanSection { key: k.to_string(), title: t.to_string(), hint: h.to_string(), items: vec![] }).collect();
        for r in rows {
            let fields: PlanFields = serde_json::from_str(&r.fields).map_err(|e| CoreError::Internal(e.to_string()))?;
            let entry_text = (!fields.entry_id.is_empty()).then(|| conditions.iter().find(|(id, _)| *id == fields.entry_id).map(|(_, t)| t.clone())).flatten();
            if let Some(s) = sections.iter_mut().find(|s| s.key == r.section) {
                s.items.push(PlanItem {
                    author: byline(&r.author_name, &r.author_role, &r.author_org, r.on_behalf_of.as_deref()),
                    when: ms_to_uk(r.updated_at),
                    id: r.id,
                    section: r.section,
                    fields,
                    version: r.version,
                    entry_text,
                });
            }
        }
        let today = chrono::Utc::now().date_naive();
        let next_review = review.as_ref().and_then(|(_, _, n)| n.clone()).and_then(|n| NaiveDate::parse_from_str(&n, "%Y-%m-%d").ok().map(|d| (n, uk_date(d))));
        let review_due = next_review.as_ref().and_then(|(n, _)| NaiveDate::parse_from_str(n, "%Y-%m-%d").ok()).is_some_and(|d| d <= today);
        let since = review.as_ref().map(|r| r.0).unwrap_or(0);
        Ok(CarePlanView {
            patient_name: access.patient_name().to_string(),
            sections,
            can_contribute: access.scope_for(Right::Contribute).is_some_and(covers_care_plan),
            last_review: review.as_ref().map(|(at, by, _)| format!("{} by {by}", ms_to_uk(*at))),
            next_review,
            review_due,
            changes_since_review: changes_since(&versions, since),
            conditions,
        })
    }

    /// Adds an item under a heading.
    pub async fn add_plan_item(&self, access: &RecordAccess, section: &str, fields: PlanFields) -> CoreResult<String> {
        require(access, Right::Contribute)?;
        if !sees_care_plan(access) {
            return Err(AppError::NotFound.into());
        }
        let fields = check_fields(section, fields)?;
        let id = new_id();
        self.write_plan(access, &id, section, &fields, 1, false, "create").await?;
        Ok(id)
    }

    /// Changes an item; the previous version is kept. `seen_version` is the
    /// version the person was looking at: if someone changed it since, the
    /// change is refused rather than silently overwriting theirs.
    pub async fn update_plan_item(&self, access: &RecordAccess, id: &str, seen_version: i64, fields: PlanFields) -> CoreResult<()> {
        let row = self.live_plan_item(access, id).await?;
        let fields = check_fields(&row.section, fields)?;
        self.write_plan(access, id, &row.section, &fields, seen_version + 1, false, "update").await
    }

    /// Takes an item off the plan (kept in its history).
    pub async fn remove_plan_item(&self, access: &RecordAccess, id: &str) -> CoreResult<()> {
        let row = self.live_plan_item(access, id).await?;
        let fields: PlanFields = serde_json::from_str(&row.fields).map_err(|e| CoreError::Internal(e.to_string()))?;
        self.write_plan(access, id, &row.section, &fields, row.version + 1, true, "update").await
    }

    /// An item still on the plan, for someone who may change the plan.
    async fn live_plan_item(&self, access: &RecordAccess, id: &str) -> CoreResult<sql::PlanRow> {
        require(access, Right::Contribute)?;
        if !sees_care_plan(access) {
            return Err(AppError::NotFound.into());
        }
        let mut conn = self.db.pool.acquire().await?;
        Ok(sql::plan_item(&mut conn, access.patient_id(), id).await?.filter(|r| r.removed_at.is_none()).ok_or(AppError::NotFound)?)
    }

    #[allow(clippy::too_many_arguments)]
    async fn write_plan(
        &self,
        access: &RecordAccess,
        id: &str,
        section: &str,
        fields: &PlanFields,
        version: i64,
        removed: bool,
        action: &'static str,
    ) -> CoreResult<()> {
        let who = author(access);
        let json = serde_json::to_string(fields).map_err(|e| CoreError::Internal(e.to_string()))?;
        let mut a = self.audited(access).await?;
        // Two people saving the same item at once: the second is told.
        if version > 1 {
            let Some(current) = sql::plan_item(a.conn(), access.patient_id(), id).await? else {
                return a.fail(AppError::NotFound).await;
            };
            if current.version != version - 1 {
                return a.fail(AppError::Conflict("Someone else changed this item a moment ago. Look at it again and make your change.".into())).await;
            }
        }
        let w = PlanWrite {
            id,
            section,
            fields: &json,
            version,
            author_name: &who.name,
            author_role: &who.role,
            author_org: &who.org,
            on_behalf_of: who.on_behalf_of.as_deref(),
            removed,
            now: now_ms(),
        };
        sql::write_plan_item(a.conn(), access.patient_id(), &w).await?;
        let verb = if removed {
            "removed from"
        } else if version == 1 {
            "added to"
        } else {
            "changed in"
        };
        a.commit(access, Disclosure::new(action, format!("care plan: {verb} {}", section_title(section)))).await?;
        self.announce(access.patient_id(), "care-plan".into());
        Ok(())
    }

    /// Records a review of the plan and when the next one is due.
    pub async fn review_care_plan(&self, access: &RecordAccess, next_review: &str) -> CoreResult<()> {
        require(access, Right::Contribute)?;
        if !sees_care_plan(access) {
            return Err(AppError::NotFound.into());
        }
        let mut errors = Vec::new();
        let next = check_date("next_review", next_review, &mut errors);
        if let Ok(d) = NaiveDate::parse_from_str(&next, "%Y-%m-%d") {
            if d <= chrono::Utc::now().date_naive() {
                errors.push(FieldError { field: "next_review".into(), message: "Choose a date after today".into() });
            }
        }
        if !errors.is_empty() {
            return Err(AppError::Validation { errors, values: vec![("next_review".into(), next_review.into())] }.into());
        }
        let who = author(access);
        let mut a = self.audited(access).await?;
        sql::insert_review(
            a.conn(),
            access.patient_id(),
            &new_id(),
            now_ms(),
            &byline(&who.name, &who.role, &who.org, who.on_behalf_of.as_deref()),
            (!next.is_empty()).then_some(next.as_str()),
        )
        .await?;
        a.commit(access, Disclosure::new("update", "care plan reviewed")).await?;
        self.announce(access.patient_id(), "care-plan".into());
        Ok(())
    }

    /// The care plan as FHIR R4: one CarePlan and a Goal per goal, in a
    /// collection Bundle.
    pub async fn care_plan_fhir(&self, access: &RecordAccess) -> CoreResult<serde_json::Value> {
        let plan = self.read_care_plan(access, Disclosure::new("export", "care plan as FHIR")).await?;
        Ok(care_plan_bundle(access, &plan))
    }
}

/// What the summary shows of the care plan: the crisis plan, and the next
/// review date with whether it is due.
pub(crate) async fn summary_parts(conn: &mut sqlx::AnyConnection, access: &RecordAccess) -> CoreResult<(Vec<String>, Option<(String, bool)>)> {
    if !sees_care_plan(access) {
        return Ok((vec![], None));
    }
    let items = sql::plan_items(conn, access.patient_id()).await?;
    let crisis =
        items.iter().filter(|r| r.section == "contingency").filter_map(|r| serde_json::from_str::<PlanFields>(&r.fields).ok().map(|f| f.text)).collect();
    let review = sql::last_review(conn, access.patient_id())
        .await?
        .and_then(|(_, _, next)| next)
        .and_then(|n| NaiveDate::parse_from_str(&n, "%Y-%m-%d").ok())
        .map(|d| (uk_date(d), d <= chrono::Utc::now().date_naive()));
    Ok((crisis, review))
}

/// Differences between the plan as it stood at `since` and now.
fn changes_since(versions: &[sql::PlanVersionRow], since: i64) -> Vec<PlanChange> {
    let mut by_item: Vec<(&str, Vec<&sql::PlanVersionRow>)> = Vec::new();
    for v in versions {
        match by_item.last_mut() {
            Some((id, list)) if *id == v.item_id => list.push(v),
            _ => by_item.push((&v.item_id, vec![v])),
        }
    }
    let text = |v: &sql::PlanVersionRow| serde_json::from_str::<PlanFields>(&v.fields).map(|f| f.summary()).unwrap_or_default();
    let mut out = Vec::new();
    for (_, list) in by_item {
        let Some(last) = list.last() else { continue };
        if last.at <= since {
            continue;
        }
        let before = list.iter().rev().find(|v| v.at <= since).filter(|v| v.removed == 0);
        let after = (last.removed == 0).then_some(*last);
        let change = match (before, after) {
            (None, None) => continue,
            (None, Some(_)) => "added",
            (Some(_), None) => "removed",
            (Some(b), Some(a)) if text(b) == text(a) => continue,
            (Some(_), Some(_)) => "changed",
        };
        out.push(PlanChange {
            section: section_title(&last.section).to_string(),
            change: change.into(),
            before: before.map(|v| text(v)),
            after: after.map(&text),
            by: format!("{} ({})", last.author_name, last.author_role),
            when: ms_to_uk(last.at),
        });
    }
    out
}

fn care_plan_bundle(access: &RecordAccess, plan: &CarePlanView) -> serde_json::Value {
    use serde_json::json;
    let subject =
        json!({ "identifier": { "system": "https://fhir.nhs.uk/Id/nhs-number", "value": access.nhs_number().as_str() }, "display": plan.patient_name });
    let mut entries = Vec::new();
    let mut goal_refs = Vec::new();
    let mut notes = Vec::new();
    let mut activities = Vec::new();
    let mut addresses = Vec::new();
    for s in &plan.sections {
        for item in &s.items {
            let f = &item.fields;
            match s.key.as_str() {
                "goals" => {
                    let id = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, format!("kith-goal:{}", item.id).as_bytes());
                    let (lifecycle, achievement) = match f.status.as_str() {
                        "active" => ("active", Some(("in-progress", "In Progress"))),
                        "achieved" => ("completed", Some(("achieved", "Achieved"))),
                        "cancelled" => ("cancelled", None),
                        _ => ("proposed", None),
                    };
                    let mut goal = json!({
                        "resourceType": "Goal",
                        "id": id.to_string(),
                        "lifecycleStatus": lifecycle,
                        "description": { "text": f.text },
                        "subject": subject,
                        "note": [{ "text": format!("Written by {} on {}", item.author, item.when) }],
                    });
                    if let Some((code, display)) = achievement {
                        goal["achievementStatus"] =
                            json!({ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/goal-achievement", "code": code, "display": display }] });
                    }
                    if !f.target_date.is_empty() {
                        goal["target"] = json!([{ "dueDate": f.target_date }]);
                    }
                    goal_refs.push(json!({ "reference": format!("urn:uuid:{id}") }));
                    entries.push(json!({ "fullUrl": format!("urn:uuid:{id}"), "resource": goal }));
                }
                "actions" => {
                    let mut detail = json!({ "status": if f.done { "completed" } else { "not-started" }, "description": f.text });
                    if !f.by_when.is_empty() {
                        detail["scheduledString"] = json!(format!("by {}", f.by_when));
                    }
                    if !f.who.is_empty() {
                        detail["performer"] = json!([{ "display": f.who }]);
                    }
                    activities.push(json!({ "detail": detail }));
                }
                "problems" => {
                    addresses.push(json!({ "display": item.entry_text.clone().map(|t| format!("{t}: {}", f.text)).unwrap_or_else(|| f.text.clone()) }))
                }
                _ => notes.push(json!({ "text": format!("{}: {}", s.title, f.summary()), "authorString": item.author })),
            }
        }
    }
    let plan_id = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, format!("kith-care-plan:{}", access.patient_id()).as_bytes());
    let mut care_plan = json!({
        "resourceType": "CarePlan",
        "id": plan_id.to_string(),
        "status": "active",
        "intent": "plan",
        "title": "Care and support plan",
        "subject": subject,
    });
    for (key, value) in [("goal", goal_refs), ("activity", activities), ("addresses", addresses), ("note", notes)] {
        if !value.is_empty() {
            care_plan[key] = json!(value);
        }
    }
    if let Some((date, _)) = &plan.next_review {
        care_plan["period"] = json!({ "end": date });
    }
    entries.insert(0, json!({ "fullUrl": format!("urn:uuid:{plan_id}"), "resource": care_plan }));
    json!({ "resourceType": "Bundle", "type": "collection", "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true), "entry": entries })
}

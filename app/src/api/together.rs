//! Comments on entries and the shared care plan. Every right is checked by
//! the services; the forms here are only the way in.

use kith_types::together::{CarePlanView, CommentsView, PlanFields};
use kith_types::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use super::record::record;
#[cfg(feature = "ssr")]
use super::ssr::core;
#[cfg(feature = "ssr")]
use kith_core::policy::Right;

#[server(endpoint = "together/comments")]
pub async fn get_comments(entry_id: String) -> Result<CommentsView, AppError> {
    let (kith, _, access) = record(Right::Read).await?;
    kith.comments(&access, &entry_id).await.map_err(core)
}

#[server(endpoint = "together/add_comment")]
pub async fn add_comment(entry_id: String, body: String) -> Result<(), AppError> {
    let (kith, _, access) = record(Right::Comment).await?;
    kith.add_comment(&access, &entry_id, &body).await.map_err(|e| core(e).with_values(vec![("body".into(), body.clone())]))?;
    back_to_entry(&entry_id).await;
    Ok(())
}

/// Without JavaScript, back to the entry's comments by name (browsers drop
/// a long Referer, and a refused form's address holds what was typed).
#[cfg(feature = "ssr")]
async fn back_to_entry(entry_id: &str) {
    if !entry_id.is_empty() && super::ssr::accepts_html().await {
        leptos_axum::redirect(&format!("/entries/{}#comments", crate::components::urlencode(entry_id)));
    }
}

#[server(endpoint = "together/edit_comment")]
pub async fn edit_comment(id: String, body: String, #[server(default)] entry_id: String) -> Result<(), AppError> {
    let (kith, _, access) = record(Right::Comment).await?;
    // A refused edit comes back to the comment's own form, as typed.
    kith.edit_comment(&access, &id, &body)
        .await
        .map_err(|e| core(e).with_values(vec![("form".into(), format!("edit-{id}")), ("body".into(), body.clone())]))?;
    back_to_entry(&entry_id).await;
    Ok(())
}

/// `hidden` is "true" to hide, anything else to show again.
#[server(endpoint = "together/hide_comment")]
pub async fn hide_comment(id: String, hidden: String) -> Result<(), AppError> {
    let (kith, _, access) = record(Right::Manage).await?;
    kith.set_comment_hidden(&access, &id, hidden == "true").await.map_err(core)
}

#[server(endpoint = "together/care_plan")]
pub async fn get_care_plan() -> Result<CarePlanView, AppError> {
    let (kith, _, access) = record(Right::Read).await?;
    kith.care_plan(&access).await.map_err(core)
}

/// One item's fields as a form sends them (a checkbox sends "on" or nothing).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PlanForm {
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub target_date: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub who: String,
    #[serde(default)]
    pub by_when: String,
    #[serde(default)]
    pub done: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub contact: String,
    #[serde(default)]
    pub entry_id: String,
}

impl From<PlanForm> for PlanFields {
    fn from(f: PlanForm) -> Self {
        PlanFields {
            text: f.text,
            target_date: f.target_date,
            status: f.status,
            who: f.who,
            by_when: f.by_when,
            done: f.done == "on" || f.done == "true",
            role: f.role,
            contact: f.contact,
            entry_id: f.entry_id,
        }
    }
}

/// A refused plan form's error carries everything that was typed, and which
/// form it came from, so that form (and only it) opens again filled in and
/// with its errors beside its fields, with or without JavaScript.
#[cfg(feature = "ssr")]
fn refilled(e: AppError, form: String, f: &PlanForm) -> AppError {
    match e {
        AppError::Validation { errors, .. } => {
            let values = [
                ("form", form),
                ("text", f.text.clone()),
                ("target_date", f.target_date.clone()),
                ("status", f.status.clone()),
                ("who", f.who.clone()),
                ("by_when", f.by_when.clone()),
                ("role", f.role.clone()),
                ("contact", f.contact.clone()),
                ("entry_id", f.entry_id.clone()),
            ];
            AppError::Validation { errors, values: values.into_iter().map(|(k, v)| (k.to_string(), v)).collect() }
        }
        other => other,
    }
}

#[server(endpoint = "together/add_plan_item")]
pub async fn add_plan_item(section: String, item: PlanForm) -> Result<(), AppError> {
    let (kith, _, access) = record(Right::Contribute).await?;
    let form = format!("add-{section}");
    kith.add_plan_item(&access, &section, item.clone().into()).await.map_err(|e| refilled(core(e), form, &item))?;
    back_to_plan(&section).await;
    Ok(())
}

/// Without JavaScript, a form post goes back to the page it came from,
/// named by the Referer header, which browsers drop when it is long (a
/// refused form's address holds what was typed): so name it.
#[cfg(feature = "ssr")]
async fn back_to_plan(section: &str) {
    if super::ssr::accepts_html().await {
        leptos_axum::redirect(&if section.is_empty() { "/care-plan".to_string() } else { format!("/care-plan#{section}") });
    }
}

#[server(endpoint = "together/update_plan_item")]
pub async fn update_plan_item(id: String, version: i64, item: PlanForm) -> Result<(), AppError> {
    let (kith, _, access) = record(Right::Contribute).await?;
    let form = format!("item-{id}");
    kith.update_plan_item(&access, &id, version, item.clone().into()).await.map_err(|e| refilled(core(e), form, &item))?;
    back_to_plan("").await;
    Ok(())
}

#[server(endpoint = "together/remove_plan_item")]
pub async fn remove_plan_item(id: String) -> Result<(), AppError> {
    let (kith, _, access) = record(Right::Contribute).await?;
    kith.remove_plan_item(&access, &id).await.map_err(core)
}

#[server(endpoint = "together/review_care_plan")]
pub async fn review_care_plan(next_review: String) -> Result<(), AppError> {
    let (kith, _, access) = record(Right::Contribute).await?;
    kith.review_care_plan(&access, &next_review).await.map_err(core)
}

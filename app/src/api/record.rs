//! Reading the record. Each function opens the signed-in person's record
//! through the policy (NotFound if they have none) and calls one service.

use kith_types::audit::{AccessLogQuery, AccessLogView, SeenBy};
use kith_types::record::{EntryDetail, ResultsView, SourcesView, Summary, TimelinePage, TimelineQuery};
use kith_types::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use super::ssr::{core, require_actor};

/// The record on screen, opened through the policy (see `ssr::resolve_record`).
#[cfg(feature = "ssr")]
pub(crate) async fn record(right: kith_core::policy::Right) -> Result<(kith_core::Kith, tower_sessions::Session, kith_core::policy::RecordAccess), AppError> {
    let kith = super::ssr::kith()?;
    let session = super::ssr::session().await?;
    match super::ssr::resolve_record(&kith, &session, super::ssr::origin().await, right).await {
        Ok(access) => Ok((kith, session, access)),
        Err(AppError::Unauthenticated) => {
            // The usual 401 for script callers, redirect for forms.
            require_actor().await?;
            Err(AppError::Unauthenticated)
        }
        Err(e) => Err(e),
    }
}

#[server(endpoint = "record/summary")]
pub async fn get_summary() -> Result<Summary, AppError> {
    let (kith, _, access) = record(kith_core::policy::Right::Read).await?;
    kith.summary(&access).await.map_err(core)
}

#[server(endpoint = "record/timeline")]
pub async fn get_timeline(query: TimelineQuery) -> Result<TimelinePage, AppError> {
    let (kith, _, access) = record(kith_core::policy::Right::Read).await?;
    kith.timeline(&access, &query).await.map_err(core)
}

#[server(endpoint = "record/entry")]
pub async fn get_entry(id: String) -> Result<EntryDetail, AppError> {
    let (kith, _, access) = record(kith_core::policy::Right::Read).await?;
    kith.entry(&access, &id).await.map_err(core)
}

#[server(endpoint = "record/results")]
pub async fn get_results() -> Result<ResultsView, AppError> {
    let (kith, _, access) = record(kith_core::policy::Right::Read).await?;
    kith.results(&access).await.map_err(core)
}

/// The Sources page; `upload` names an upload just made, whose outcome the
/// session holds.
#[server(endpoint = "record/sources")]
pub async fn get_sources(#[server(default)] upload: String) -> Result<SourcesView, AppError> {
    let (kith, session, access) = record(kith_core::policy::Right::Read).await?;
    let mut view = kith.sources_view(&access).await.map_err(core)?;
    let last: Option<kith_types::record::UploadResult> = session.get(kith_core::session_store::LAST_UPLOAD_KEY).await.ok().flatten();
    view.last_upload = last.filter(|r| !upload.is_empty() && r.id == upload);
    Ok(view)
}

/// The patient confirms a held file (no NHS Number) is theirs, saying what
/// its organisation is if it was not said on upload. A refusal leaves it
/// waiting.
#[server(endpoint = "record/confirm_held")]
pub async fn confirm_held(id: String, #[server(default)] source_kind: String) -> Result<(), AppError> {
    let (kith, _, access) = record(kith_core::policy::Right::Manage).await?;
    let kind = match source_kind.trim() {
        "" => None,
        k => Some(k.parse::<kith_core::import::SourceKind>().map_err(|_| AppError::field("source_kind", "Choose where the file comes from from the list"))?),
    };
    // Its size was checked when it arrived.
    match kith.confirm_held(&access, &id, kind, usize::MAX).await.map_err(core)? {
        kith_core::import::ImportOutcome::Refused { reason, .. } => Err(AppError::Conflict(reason)),
        _ => {
            leptos_axum::redirect("/sources?held=confirmed");
            Ok(())
        }
    }
}

/// The patient says a held file is not theirs: it is discarded.
#[server(endpoint = "record/reject_held")]
pub async fn reject_held(id: String) -> Result<(), AppError> {
    let (kith, _, access) = record(kith_core::policy::Right::Manage).await?;
    kith.reject_held(&access, &id).await.map_err(core)?;
    leptos_axum::redirect("/sources?held=rejected");
    Ok(())
}

/// "Who has seen this" for an entry (for the patient and those acting for them).
#[server(endpoint = "record/seen_by")]
pub async fn get_seen_by(id: String) -> Result<Vec<SeenBy>, AppError> {
    let (kith, _, access) = record(kith_core::policy::Right::Read).await?;
    kith.seen_by(&access, &id).await.map_err(core)
}

/// The Access log page.
#[server(endpoint = "record/access_log")]
pub async fn get_access_log(query: AccessLogQuery) -> Result<AccessLogView, AppError> {
    let (kith, _, access) = record(kith_core::policy::Right::Manage).await?;
    kith.access_log(&access, &query).await.map_err(core)
}

/// The record's owner stops or restarts their notice emails; back to the
/// Access log without JavaScript.
#[server(endpoint = "record/notice_emails")]
pub async fn set_notice_emails(on: String) -> Result<(), AppError> {
    let (kith, _, access) = record(kith_core::policy::Right::Manage).await?;
    kith.set_notice_emails(&access, on == "true").await.map_err(core)?;
    leptos_axum::redirect("/access-log#notice-email");
    Ok(())
}

/// Emergency access: a clinician opens a record they were not given.
#[server(endpoint = "record/break_glass")]
pub async fn break_glass(nhs_number: String, reason: String) -> Result<(), AppError> {
    let (kith, session, actor) = require_actor().await?;
    let nhs = kith_types::NhsNumber::parse(&nhs_number).map_err(|e| {
        AppError::field("nhs_number", e.to_string()).with_values(vec![("nhs_number".into(), nhs_number.clone()), ("reason".into(), reason.clone())])
    })?;
    let origin = super::ssr::origin().await;
    let patient = kith.break_glass(&actor, &nhs, &reason, &origin).await.map_err(|e| match core(e) {
        AppError::Validation { errors, .. } => {
            AppError::Validation { errors, values: vec![("nhs_number".into(), nhs_number.clone()), ("reason".into(), reason.clone())] }
        }
        other => other,
    })?;
    session.insert(super::ssr::CURRENT_RECORD_KEY, patient).await.map_err(|e| super::ssr::internal(&format!("session write: {e}")))?;
    leptos_axum::redirect("/");
    Ok(())
}

/// The providers' FHIR APIs this deployment can connect: (key, name). The
/// server provides it.
#[derive(Clone, Debug, Default)]
pub struct SmartProviders(pub Vec<(String, String)>);

/// The Sources page's connected services: each connection's status, last
/// pull and errors, and what can be connected.
#[server(endpoint = "sources/connections")]
pub async fn get_connections() -> Result<kith_types::ConnectionsView, AppError> {
    use kith_core::policy::Right;
    let (kith, session, access) = record(Right::Read).await?;
    let notice = session.remove::<String>(super::ssr::SOURCES_NOTICE_KEY).await.ok().flatten();
    let can_manage = access.may(Right::Manage);
    let connections = kith.connections(&access).await.map_err(super::ssr::core)?;
    let offered = if can_manage { use_context::<SmartProviders>().unwrap_or_default().0 } else { vec![] };
    Ok(kith_types::ConnectionsView { offered, connections, notice, can_manage })
}

/// Adds an entry typed in by hand: a reading, an allergy, a medicine or a
/// condition (see `kith_core::own_entry`). The patient, or a carer acting
/// for them, then sees it on its own page.
#[server(endpoint = "record/add_entry")]
pub async fn add_own_entry(entry: kith_types::record::OwnEntryForm) -> Result<(), AppError> {
    let (kith, _, access) = record(kith_core::policy::Right::Contribute).await?;
    let id = kith.add_own_entry(&access, &entry).await.map_err(core)?;
    leptos_axum::redirect(&format!("/entries/{}?added=1", crate::components::urlencode(&id)));
    Ok(())
}

/// An entry the signed-in person added by hand, to fill the form that
/// changes it (see `kith_core::own_entry`).
#[server(endpoint = "record/own_entry")]
pub async fn get_own_entry(id: String) -> Result<kith_types::record::OwnEntry, AppError> {
    let (kith, _, access) = record(kith_core::policy::Right::Contribute).await?;
    kith.own_entry(&access, &id).await.map_err(core)
}

/// Corrects an entry the signed-in person added by hand (a new version;
/// the one it replaces is kept), or puts back one they removed.
#[server(endpoint = "record/change_entry")]
pub async fn change_own_entry(entry_id: String, entry: kith_types::record::OwnEntryForm) -> Result<(), AppError> {
    let (kith, _, access) = record(kith_core::policy::Right::Contribute).await?;
    let id = kith.change_own_entry(&access, &entry_id, &entry).await.map_err(core)?;
    leptos_axum::redirect(&format!("/entries/{}?changed=1", crate::components::urlencode(&id)));
    Ok(())
}

/// Removes an entry the signed-in person added by hand: marked entered in
/// error, its page and versions kept.
#[server(endpoint = "record/remove_entry")]
pub async fn remove_own_entry(entry_id: String) -> Result<(), AppError> {
    let (kith, _, access) = record(kith_core::policy::Right::Contribute).await?;
    let id = kith.remove_own_entry(&access, &entry_id).await.map_err(core)?;
    leptos_axum::redirect(&format!("/entries/{}?removed=1", crate::components::urlencode(&id)));
    Ok(())
}

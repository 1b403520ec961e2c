//! Reading the record. Each function opens the signed-in person's record
//! through the policy (NotFound if they have none) and calls one service.

use kith_types::record::{EntryDetail, ResultsView, SourcesView, Summary, TimelinePage, TimelineQuery};
use kith_types::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use super::ssr::{core, require_actor};


/// The record on screen, opened through the policy: a link viewer's shared
/// record, the record a signed-in person chose, or their own.
#[cfg(feature = "ssr")]
pub(crate) async fn record(right: kith_core::policy::Right) -> Result<(kith_core::Kith, tower_sessions::Session, kith_core::policy::RecordAccess), AppError> {
    use kith_core::policy::{LinkViewer, Principal};
    let kith = super::ssr::kith()?;
    let session = super::ssr::session().await?;
    if let Ok(Some(viewer)) = session.get::<LinkViewer>(super::ssr::LINK_VIEWER_KEY).await {
        let patient = viewer.patient_id.clone();
        let access = kith.open_patient(&Principal::LinkViewer(viewer), &patient, right).await.map_err(core)?;
        return Ok((kith, session, access));
    }
    let (kith, session, actor) = require_actor().await?;
    let chosen: Option<String> = session.get(super::ssr::CURRENT_RECORD_KEY).await.ok().flatten();
    let access = match chosen {
        Some(patient) => kith.open_patient(&Principal::User(actor), &patient, right).await,
        None => kith.own_record(&actor, right).await,
    }
    .map_err(core)?;
    // Previewing a grant or link: reading pages show only what it shares.
    if right == kith_core::policy::Right::Read {
        if let Ok(Some(share)) = session.get::<String>(super::ssr::PREVIEW_KEY).await {
            if let Ok(manage) = kith.own_record(&require_actor().await?.2, kith_core::policy::Right::Manage).await {
                let preview = kith.preview(&manage, &share).await.map_err(core)?;
                return Ok((kith, session, preview));
            }
        }
    }
    Ok((kith, session, access))
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

/// The patient confirms a held file (no NHS Number) is theirs.
#[server(endpoint = "record/confirm_held")]
pub async fn confirm_held(id: String) -> Result<(), AppError> {
    let (kith, _, access) = record(kith_core::policy::Right::Manage).await?;
    // Its size was checked when it arrived.
    match kith.confirm_held(&access, &id, usize::MAX).await.map_err(core)? {
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

//! Server-side helpers for server functions: services, session and the
//! acting person.

use axum::extract::ConnectInfo;
use http::header::ACCEPT;
use http::StatusCode;
use kith_core::session_store::USER_ID_KEY;
use kith_core::{Actor, CoreError, Kith};
use kith_types::AppError;
use leptos::prelude::*;
use leptos_axum::ResponseOptions;
use std::net::SocketAddr;
use tower_sessions::Session;

/// Session key: the patient id of someone else's record the person chose to view.
pub const CURRENT_RECORD_KEY: &str = "current_record";
/// Session key: the grant or link the patient is previewing.
pub const PREVIEW_KEY: &str = "preview";
/// Session key: who opened a shared link (no account).
pub const LINK_VIEWER_KEY: &str = "link_viewer";

pub fn kith() -> Result<Kith, AppError> {
    use_context::<Kith>().ok_or_else(|| internal("services missing from context"))
}

pub fn internal(what: &str) -> AppError {
    CoreError::Internal(what.to_string()).into_app_error()
}

pub async fn session() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>().await.map_err(|e| internal(&format!("session layer: {e}")))
}

/// The network address the request came from, for sign-in throttling.
pub async fn client_address() -> String {
    match leptos_axum::extract::<ConnectInfo<SocketAddr>>().await {
        Ok(ConnectInfo(addr)) => addr.ip().to_string(),
        Err(_) => "unknown".to_string(),
    }
}

/// The signed-in person, or `Unauthenticated`. Script callers also get a 401
/// status; plain form posts are redirected back by leptos_axum instead.
pub async fn require_actor() -> Result<(Kith, Session, Actor), AppError> {
    let kith = kith()?;
    let session = session().await?;
    let user_id: Option<String> = session.get(USER_ID_KEY).await.map_err(|e| internal(&format!("session read: {e}")))?;
    let actor = match user_id {
        Some(id) => kith.actor(&id).await.map_err(CoreError::into_app_error)?,
        None => None,
    };
    match actor {
        Some(a) => Ok((kith, session, a)),
        None => {
            refuse_status(StatusCode::UNAUTHORIZED).await;
            Err(AppError::Unauthenticated)
        }
    }
}

/// True for a plain form post from a browser without JavaScript.
pub async fn accepts_html() -> bool {
    leptos_axum::extract::<http::HeaderMap>()
        .await
        .ok()
        .and_then(|h| h.get(ACCEPT).and_then(|v| v.to_str().ok()).map(|v| v.contains("text/html")))
        .unwrap_or(false)
}

async fn refuse_status(status: StatusCode) {
    if !accepts_html().await {
        if let Some(res) = use_context::<ResponseOptions>() {
            res.set_status(status);
        }
    }
}

/// Makes the session belong to `actor`, with a fresh id (so a session id
/// known before sign-in is useless after it).
pub async fn start_session(session: &Session, actor: &Actor) -> Result<(), AppError> {
    session.cycle_id().await.map_err(|e| internal(&format!("session cycle: {e}")))?;
    session
        .insert(USER_ID_KEY, actor.user_id.clone())
        .await
        .map_err(|e| internal(&format!("session write: {e}")))
}

pub fn core(e: CoreError) -> AppError {
    e.into_app_error()
}

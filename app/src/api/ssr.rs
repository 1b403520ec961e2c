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

/// Where this request came from, for the access log.
pub async fn origin() -> kith_core::policy::Origin {
    let user_agent = leptos_axum::extract::<http::HeaderMap>()
        .await
        .ok()
        .and_then(|h| h.get(http::header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_string))
        .unwrap_or_default();
    kith_core::policy::Origin { address: client_address().await, user_agent }
}

/// The record on screen for this session, opened through the policy: a link
/// viewer's shared record, the record a signed-in person chose, or their
/// own; a patient previewing a share reads through its eyes. Used by server
/// functions and by plain routes (downloads) alike, so there is one answer
/// to "whose record is this request about".
pub async fn resolve_record(
    kith: &Kith,
    session: &Session,
    origin: kith_core::policy::Origin,
    right: kith_core::policy::Right,
) -> Result<kith_core::policy::RecordAccess, AppError> {
    let access = open_record(kith, session, origin, right).await?;
    // Pages and server functions: the server's `hold_until_logged` layer
    // waits for page views' log commits before sending anything.
    Ok(match leptos_axum::extract::<axum::Extension<kith_core::audit::PendingLogCommits>>().await {
        Ok(axum::Extension(pending)) => access.with_pending_log_commits(pending),
        Err(_) => access,
    })
}

async fn open_record(
    kith: &Kith,
    session: &Session,
    origin: kith_core::policy::Origin,
    right: kith_core::policy::Right,
) -> Result<kith_core::policy::RecordAccess, AppError> {
    use kith_core::policy::{LinkViewer, Principal, Right};
    if let Ok(Some(viewer)) = session.get::<LinkViewer>(LINK_VIEWER_KEY).await {
        let patient = viewer.patient_id.clone();
        return Ok(kith.open_patient(&Principal::LinkViewer(viewer), &patient, right).await.map_err(core)?.from_origin(origin));
    }
    let user_id: Option<String> = session.get(USER_ID_KEY).await.map_err(|e| internal(&format!("session read: {e}")))?;
    let actor = match user_id {
        Some(id) => kith.actor(&id).await.map_err(core)?,
        None => None,
    };
    let Some(actor) = actor else { return Err(AppError::Unauthenticated) };
    if kith.two_step_required(&actor) && !signed_in_via_provider(session).await && !kith.two_step_enabled(&actor.user_id).await.map_err(core)? {
        return Err(AppError::Conflict("Set up two-step verification on your Account page before opening records.".into()));
    }
    let chosen: Option<String> = session.get(CURRENT_RECORD_KEY).await.ok().flatten();
    let access = match chosen {
        Some(patient) => kith.open_patient(&Principal::User(actor.clone()), &patient, right).await,
        None => kith.own_record(&actor, right).await,
    }
    .map_err(core)?
    .from_origin(origin.clone());
    // Previewing a grant or link: reading pages show only what it shares.
    if right == Right::Read {
        if let Ok(Some(share)) = session.get::<String>(PREVIEW_KEY).await {
            if let Ok(manage) = kith.own_record(&actor, Right::Manage).await {
                return kith.preview(&manage.from_origin(origin), &share).await.map_err(core);
            }
        }
    }
    Ok(access)
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

/// Makes the session belong to `actor`, signed in with their password.
pub async fn start_session(session: &Session, actor: &Actor) -> Result<(), AppError> {
    start_session_via(session, actor, "Password", false, &origin().await).await
}

/// Makes the session belong to `actor`, with a fresh id (so a session id
/// known before sign-in is useless after it), noting how and from where for
/// the Account page's list of sessions.
pub async fn start_session_via(session: &Session, actor: &Actor, how: &str, provider: bool, from: &kith_core::policy::Origin) -> Result<(), AppError> {
    use kith_core::session_store::{SessionInfo, SESSION_INFO_KEY};
    session.cycle_id().await.map_err(|e| internal(&format!("session cycle: {e}")))?;
    let info = SessionInfo {
        at_ms: chrono::Utc::now().timestamp_millis(),
        how: how.to_string(),
        provider,
        user_agent: from.user_agent.chars().take(300).collect(),
        address: from.address.clone(),
    };
    session.insert(SESSION_INFO_KEY, info).await.map_err(|e| internal(&format!("session write: {e}")))?;
    session.insert(USER_ID_KEY, actor.user_id.clone()).await.map_err(|e| internal(&format!("session write: {e}")))
}

/// Session key: a message for the next sign-in or Account page (how a
/// provider sign-in ended).
pub const SIGN_IN_NOTICE_KEY: &str = "sign_in_notice";
/// Session key: how the last connect, refresh or disconnect of a provider's
/// FHIR API ended (shown once on the Sources page).
pub const SOURCES_NOTICE_KEY: &str = "sources_notice";
/// Session key: a provider identity waiting for the person to prove, with
/// their password, that the account with its email is theirs.
pub const PENDING_LINK_KEY: &str = "pending_link";
/// How long a pending link waits for the password.
pub const PENDING_LINK_MINUTES: i64 = 15;

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct PendingLink {
    pub identity: kith_core::identity::VerifiedIdentity,
    /// The account whose email matched: only it may take the link.
    pub user_id: String,
    pub started_ms: i64,
}

/// Signs in with a password (both steps done): starts the session and links
/// a provider identity the person was proving this account for. Returns
/// where to go next.
pub async fn finish_password_sign_in(kith: &Kith, session: &Session, actor: &Actor) -> Result<&'static str, AppError> {
    start_session(session, actor).await?;
    let pending: Option<PendingLink> = session.remove(PENDING_LINK_KEY).await.ok().flatten();
    // Only for the account it was waiting for: someone else signing in on
    // the same browser must not gain the provider sign-in (nor its record).
    let Some(p) =
        pending.filter(|p| chrono::Utc::now().timestamp_millis() - p.started_ms < PENDING_LINK_MINUTES * 60_000).filter(|p| p.user_id == actor.user_id)
    else {
        return Ok(landing(session).await);
    };
    let message = match kith.link_identity(actor, &p.identity, &origin().await).await {
        Ok(note) => note.unwrap_or_else(|| format!("{} is linked: next time you can sign in with it.", p.identity.provider_name)),
        Err(e) => core(e).to_string(),
    };
    let _ = session.insert(SIGN_IN_NOTICE_KEY, message).await;
    Ok("/account#sign-in-methods")
}

/// Session key: an invitation's token, from someone who opened its link
/// before signing in; the invitation page picks it up after they do.
pub const PENDING_INVITE_KEY: &str = "pending_invite";

/// Session key: the hash of a link to confirm an email address, from
/// someone who opened it before signing in; its page picks it up after.
pub const PENDING_CONFIRM_KEY: &str = "pending_email_confirmation";

/// Where someone goes once signed in: back to an invitation, or a link to
/// confirm their email address, they opened first; or home.
pub async fn landing(session: &Session) -> &'static str {
    if !pending_invitation(session).await.is_empty() {
        "/invite"
    } else if !pending_confirmation(session).await.is_empty() {
        "/confirm-email"
    } else {
        "/"
    }
}

/// The hash of the email confirmation link this session is on its way to
/// (empty: none).
pub async fn pending_confirmation(session: &Session) -> String {
    session.get::<String>(PENDING_CONFIRM_KEY).await.ok().flatten().unwrap_or_default()
}

/// The hash of the invitation this session is on its way to (empty: none).
pub async fn pending_invitation(session: &Session) -> String {
    session.get::<String>(PENDING_INVITE_KEY).await.ok().flatten().unwrap_or_default()
}

/// Whether this session was signed in through a provider (which does its
/// own second step).
pub async fn signed_in_via_provider(session: &Session) -> bool {
    use kith_core::session_store::{SessionInfo, SESSION_INFO_KEY};
    session.get::<SessionInfo>(SESSION_INFO_KEY).await.ok().flatten().is_some_and(|i| i.provider)
}

pub fn core(e: CoreError) -> AppError {
    e.into_app_error()
}

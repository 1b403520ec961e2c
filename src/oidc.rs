//! Signing in through OpenID Connect providers: `/auth/oidc/start` sends the
//! person to the provider, `/auth/oidc/callback` takes them back. Plain GET
//! routes (they work without JavaScript). The protocol checks are
//! `kith_oidc`'s, the account decisions `kith_core::identity`'s; this file
//! keeps the flow's state in the session and turns outcomes into redirects.
//!
//! Every failure ends on the sign-in page (or the Account page, when linking)
//! with a message, no account made, and a row in `sign_in_failures`.

use std::sync::Arc;

use app::api::ssr::{PendingLink, PENDING_LINK_KEY, SIGN_IN_NOTICE_KEY};
use axum::extract::{Query, Request, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use kith_core::identity::{IdentityOutcome, VerifiedIdentity};
use kith_core::policy::Origin;
use kith_core::session_store::USER_ID_KEY;
use kith_core::Kith;
use kith_oidc::{Audience, OidcError, Pending, Provider};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use crate::downloads::origin;

/// Session key: the flow under way (state, nonce, PKCE verifier).
const FLOW_KEY: &str = "oidc_flow";
/// A flow not finished in this long is abandoned.
const FLOW_MINUTES: i64 = 15;

#[derive(Clone)]
struct Oidc {
    kith: Kith,
    providers: Arc<Vec<Provider>>,
    redirect_uri: String,
}

#[derive(Serialize, Deserialize)]
struct Flow {
    pending: Pending,
    /// Linking to this signed-in account rather than signing in.
    link_to: Option<String>,
    started_ms: i64,
}

pub fn routes(kith: Kith, providers: Vec<Provider>, public_url: &str) -> Router {
    let state = Oidc { kith, providers: Arc::new(providers), redirect_uri: format!("{public_url}/auth/oidc/callback") };
    Router::new().route("/auth/oidc/start", get(start)).route("/auth/oidc/callback", get(callback)).with_state(state)
}

/// What the sign-in page offers, for the UI's context.
pub fn offered(providers: &[Provider]) -> app::api::SignInProviders {
    app::api::SignInProviders(
        providers
            .iter()
            .map(|p| kith_types::SignInProvider { id: p.config.id.clone(), name: p.config.name.clone(), for_staff: p.config.audience == Audience::Clinician })
            .collect(),
    )
}

#[derive(Deserialize)]
struct StartQuery {
    provider: String,
    #[serde(default)]
    link: Option<String>,
}

async fn start(State(o): State<Oidc>, session: Session, Query(q): Query<StartQuery>, req: Request) -> Response {
    let from = origin(&req);
    drop(req);
    let Some(provider) = o.providers.iter().find(|p| p.config.id == q.provider) else {
        return (http::StatusCode::NOT_FOUND, "No such sign-in provider").into_response();
    };
    let link_to = match q.link {
        Some(_) => match signed_in_user(&session).await {
            Some(u) => Some(u),
            None => return Redirect::to("/sign-in").into_response(),
        },
        None => None,
    };
    let back = if link_to.is_some() { "/account#sign-in-methods" } else { "/sign-in" };
    // A new flow replaces any identity still waiting for a password.
    let _ = session.remove::<PendingLink>(PENDING_LINK_KEY).await;
    match provider.start(&o.redirect_uri).await {
        Ok((url, pending)) => {
            let flow = Flow { pending, link_to, started_ms: chrono::Utc::now().timestamp_millis() };
            if session.insert(FLOW_KEY, flow).await.is_err() {
                return (http::StatusCode::INTERNAL_SERVER_ERROR, "Could not start signing in").into_response();
            }
            Redirect::to(&url).into_response()
        }
        Err(e) => fail(&o.kith, &session, &from, &provider.config.name, &e, back).await,
    }
}

/// What an OAuth 2.0 authorization server sends the browser back with (the
/// provider sign-in and the SMART connection both read it).
#[derive(Deserialize)]
pub(crate) struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// RFC 9207: which issuer sent the person back (guards against mix-up).
    pub iss: Option<String>,
}

async fn callback(State(o): State<Oidc>, session: Session, Query(q): Query<CallbackQuery>, req: Request) -> Response {
    let from = origin(&req);
    drop(req);
    // One flow, one callback: taken out of the session whatever happens next.
    let flow: Option<Flow> = session.remove(FLOW_KEY).await.ok().flatten();
    let fresh = flow.filter(|f| chrono::Utc::now().timestamp_millis() - f.started_ms < FLOW_MINUTES * 60_000);
    let Some(flow) = fresh.filter(|f| q.state.as_deref().is_some_and(|s| same_secret(s, &f.pending.state))) else {
        let _ = o.kith.record_sign_in_failure("OpenID Connect", "state missing, expired or not this session's", &from).await;
        return notice(&session, "That sign-in link is out of date or was not started here, so you have not been signed in. Start again.", "/sign-in").await;
    };
    let back = if flow.link_to.is_some() { "/account#sign-in-methods" } else { "/sign-in" };
    let Some(provider) = o.providers.iter().find(|p| p.config.id == flow.pending.provider) else {
        return notice(&session, "That sign-in provider is no longer offered here.", back).await;
    };
    let name = provider.config.name.clone();
    if let Some(error) = q.error {
        let why = q.error_description.unwrap_or(error);
        return fail(&o.kith, &session, &from, &name, &OidcError::Denied(name.clone(), why.chars().take(200).collect()), back).await;
    }
    if q.iss.as_deref().is_some_and(|iss| iss.trim_end_matches('/') != provider.config.issuer.trim_end_matches('/')) {
        return fail(&o.kith, &session, &from, &name, &OidcError::Refused(name.clone(), "the callback names another issuer".into()), back).await;
    }
    let Some(code) = q.code else {
        return fail(&o.kith, &session, &from, &name, &OidcError::Refused(name.clone(), "no code in the callback".into()), back).await;
    };
    let identity = match provider.finish(&flow.pending, &code, &o.redirect_uri).await {
        Ok(i) => i,
        Err(e) => return fail(&o.kith, &session, &from, &name, &e, back).await,
    };
    let verified = VerifiedIdentity {
        provider_id: provider.config.id.clone(),
        provider_name: name.clone(),
        staff: provider.config.audience == Audience::Clinician,
        verified_nhs_number: (provider.config.audience == Audience::Patient && provider.nhs_number_verified(&identity))
            .then(|| identity.nhs_number.clone())
            .flatten(),
        issuer: identity.issuer,
        subject: identity.subject,
        name: identity.name,
        email: identity.email,
        email_verified: identity.email_verified,
        birth_date: identity.birth_date,
        organisation: identity.organisation,
    };

    if let Some(link_to) = &flow.link_to {
        // Still the same person who asked to link it.
        let Some(user_id) = signed_in_user(&session).await.filter(|u| u == link_to) else { return Redirect::to("/sign-in").into_response() };
        let actor = match o.kith.actor(&user_id).await {
            Ok(Some(a)) => a,
            _ => return Redirect::to("/sign-in").into_response(),
        };
        return match o.kith.link_identity(&actor, &verified, &from).await {
            Ok(note) => notice(&session, &note.unwrap_or_else(|| format!("{name} is linked: you can now sign in with it.")), back).await,
            Err(e) => notice(&session, &e.into_app_error().to_string(), back).await,
        };
    }

    match o.kith.sign_in_with_identity(&verified, &from).await {
        Ok(IdentityOutcome::SignedIn { actor, note }) => {
            if app::api::ssr::start_session_via(&session, &actor, &name, true, &from).await.is_err() {
                return (http::StatusCode::INTERNAL_SERVER_ERROR, "Could not sign you in").into_response();
            }
            match note {
                Some(n) => notice(&session, &n, "/account#sign-in-methods").await,
                None => Redirect::to(app::api::ssr::landing(&session).await).into_response(),
            }
        }
        Ok(IdentityOutcome::ProveAccount { email, user_id }) => {
            let pending = PendingLink { identity: verified, user_id, started_ms: chrono::Utc::now().timestamp_millis() };
            let _ = session.insert(PENDING_LINK_KEY, pending).await;
            notice(
                &session,
                &format!("You already have a Kith account with {email}. Sign in with its password once, and {name} will be linked to it."),
                "/sign-in",
            )
            .await
        }
        Err(e) => {
            let message = e.into_app_error().to_string();
            let _ = o.kith.record_sign_in_failure(&name, &message, &from).await;
            notice(&session, &message, "/sign-in").await
        }
    }
}

async fn signed_in_user(session: &Session) -> Option<String> {
    session.get::<String>(USER_ID_KEY).await.ok().flatten()
}

/// Logs a failure (never tokens or claims) and shows its message.
async fn fail(kith: &Kith, session: &Session, from: &Origin, provider: &str, e: &OidcError, back: &str) -> Response {
    let _ = kith.record_sign_in_failure(provider, &e.detail(), from).await;
    notice(session, &e.to_string(), back).await
}

/// A message shown once on the page `to`.
async fn notice(session: &Session, message: &str, to: &str) -> Response {
    let _ = session.insert(SIGN_IN_NOTICE_KEY, message.to_string()).await;
    Redirect::to(to).into_response()
}

/// Compares a secret from a request with the session's without leaking,
/// through timing, how much of it matched.
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

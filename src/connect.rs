//! Connecting a provider's FHIR API (SMART on FHIR standalone launch) and
//! keeping the record up to date from it.
//!
//! - `GET /sources/connect/start?provider=KEY` sends the patient (or a carer
//!   acting for them) to the provider; `/sources/connect/callback` brings them
//!   back, saves the connection (tokens sealed by `kith_core::connections`)
//!   and pulls at once.
//! - `POST /sources/connections/refresh` and `/disconnect`: plain forms on the
//!   Sources page (they work without JavaScript).
//! - A background task pulls each connection when it is due.
//!
//! Every pull goes through the ordinary import: the provider's Patient must
//! carry the record's NHS Number, a file is accepted or refused whole, and
//! only changed resources make new versions.

use std::sync::Arc;

use app::api::ssr::{resolve_record, SOURCES_NOTICE_KEY};
use axum::extract::{Query, Request, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use kith_core::connections::{PullResult, Pullable};
use kith_core::import::{ImportOutcome, ImportRequest};
use kith_core::policy::{Principal, RecordAccess, Right};
use kith_core::Kith;
use kith_smart::{PendingConnect, SmartClient, SmartError, Tokens};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use crate::downloads::origin;
use crate::oidc::CallbackQuery;

/// Session key: the connection flow under way.
const FLOW_KEY: &str = "smart_flow";
const FLOW_MINUTES: i64 = 15;
/// Refresh tokens this long before the access token expires.
const EXPIRY_MARGIN_MS: i64 = 60_000;

/// The configured providers' FHIR APIs, by key ("smart" for the one set by
/// environment; the providers file names the rest).
#[derive(Clone)]
pub struct Connections {
    kith: Kith,
    clients: Arc<Vec<(String, SmartClient)>>,
    redirect_uri: String,
    refresh_every_ms: i64,
}

#[derive(Serialize, Deserialize)]
struct Flow {
    provider: String,
    /// The record it was started for: the tokens go to no other.
    patient_id: String,
    pending: PendingConnect,
    started_ms: i64,
}

impl Connections {
    pub fn new(kith: Kith, configs: Vec<(String, kith_smart::SmartConfig)>, public_url: &str, refresh_hours: u64) -> anyhow::Result<Self> {
        let clients =
            configs.into_iter().map(|(key, c)| SmartClient::new(c).map(|c| (key, c))).collect::<Result<Vec<_>, _>>().map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(Self {
            kith,
            clients: Arc::new(clients),
            redirect_uri: format!("{public_url}/sources/connect/callback"),
            refresh_every_ms: refresh_hours as i64 * 3_600_000,
        })
    }

    /// (key, name) of each provider, for the Sources page.
    pub fn offered(&self) -> app::api::SmartProviders {
        app::api::SmartProviders(self.clients.iter().map(|(k, c)| (k.clone(), c.config.name.clone())).collect())
    }

    fn client(&self, key: &str) -> Option<&SmartClient> {
        self.clients.iter().find(|(k, _)| k == key).map(|(_, c)| c)
    }

    pub fn routes(self) -> Router {
        Router::new()
            .route("/sources/connect/start", get(start))
            .route("/sources/connect/callback", get(callback))
            .route("/sources/connections/refresh", post(refresh))
            .route("/sources/connections/disconnect", post(disconnect))
            .with_state(self)
    }

    /// Pulls one connection and imports what came. Refreshes the access
    /// token when it is about to expire, or once when the server refuses it.
    pub async fn pull(&self, access: &RecordAccess, p: &Pullable) -> PullResult {
        let Some(client) = self.client(&p.provider) else {
            return PullResult::Failed("This provider is no longer offered here.".into());
        };
        let Ok(mut tokens) = serde_json::from_str::<Tokens>(&p.tokens) else {
            return PullResult::NeedsReconnect("The saved access could not be read. Connect again.".into());
        };
        let now = chrono::Utc::now().timestamp_millis();
        if tokens.expires_at_ms.is_some_and(|at| at - EXPIRY_MARGIN_MS <= now) {
            match self.renew(client, p, &tokens).await {
                Ok(t) => tokens = t,
                Err(r) => return r,
            }
        }
        let pulled = match client.pull(&tokens).await {
            Err(SmartError::Unauthorized(..)) if tokens.refresh.is_some() => match self.renew(client, p, &tokens).await {
                Ok(t) => client.pull(&t).await,
                Err(r) => return r,
            },
            other => other,
        };
        let pulled = match pulled {
            Ok(p) => p,
            Err(e) => return failure(&client.config.name, e),
        };
        let req = ImportRequest {
            file_name: format!("{} (connected)", client.config.name),
            bytes: pulled.bundle,
            source_kind: client.config.kind.parse().ok(),
            source_name: Some(client.config.name.clone()),
            // The pull read at most this much; the Bundle made of it is a little larger.
            max_bytes: kith_smart::MAX_PULL_BYTES + kith_smart::MAX_PULL_BYTES / 8,
        };
        match self.kith.import(access, req).await {
            Ok(ImportOutcome::Accepted(s)) => PullResult::Imported(format!("{} new, {} changed, {} unchanged", s.new, s.changed, s.unchanged)),
            Ok(ImportOutcome::Held { .. }) => {
                PullResult::Failed(format!("{}'s record has no NHS Number: check it in “Files waiting for you” below before it is added.", client.config.name))
            }
            Ok(ImportOutcome::Refused { reason, .. }) => PullResult::Refused(reason),
            Err(e) => PullResult::Failed(e.into_app_error().to_string()),
        }
    }

    async fn renew(&self, client: &SmartClient, p: &Pullable, tokens: &Tokens) -> Result<Tokens, PullResult> {
        match client.refresh(tokens, &self.redirect_uri).await {
            Ok(t) => {
                let json = serde_json::to_string(&t).unwrap_or_default();
                if let Err(e) = self.kith.save_connection_tokens(p, &json).await {
                    return Err(PullResult::Failed(e.into_app_error().to_string()));
                }
                Ok(t)
            }
            Err(e) => Err(failure(&client.config.name, e)),
        }
    }

    fn next_pull(&self) -> Option<i64> {
        Some(chrono::Utc::now().timestamp_millis() + self.refresh_every_ms)
    }

    /// Runs forever: pulls every connection that is due, one at a time.
    pub async fn schedule(self) {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            let due = match self.kith.due_connections().await {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(error = %e.into_app_error(), "could not list connections due a pull");
                    continue;
                }
            };
            for id in due {
                let p = match self.kith.pullable_by_id(&id).await {
                    Ok(Some(p)) => p,
                    Ok(None) => continue,
                    Err(e) => {
                        // Tokens that no longer open (the token key changed):
                        // say so once, instead of retrying every minute.
                        tracing::warn!(connection = %id, error = %e.into_app_error(), "stored access could not be opened");
                        let why = PullResult::NeedsReconnect("Kith could not open the saved access. Connect again.".into());
                        let _ = self.kith.record_pull(&id, why, None).await;
                        continue;
                    }
                };
                let Ok(access) = self.kith.open_patient(&Principal::Operator, &p.patient_id, Right::Manage).await else { continue };
                let result = self.pull(&access, &p).await;
                log_result(&p, &result);
                let _ = self.kith.record_pull(&p.id, result, self.next_pull()).await;
            }
        }
    }
}

fn failure(name: &str, e: SmartError) -> PullResult {
    tracing::warn!(provider = %name, detail = %e.detail(), "pull from a connected provider failed");
    match e {
        SmartError::Unauthorized(..) => PullResult::NeedsReconnect(e.to_string()),
        _ => PullResult::Failed(e.to_string()),
    }
}

fn log_result(p: &Pullable, r: &PullResult) {
    match r {
        PullResult::Imported(s) => tracing::info!(connection = %p.id, summary = %s, "pulled from a connected provider"),
        PullResult::NeedsReconnect(_) => tracing::warn!(connection = %p.id, "connection needs the patient to connect again"),
        PullResult::Refused(_) => tracing::warn!(connection = %p.id, "the import refused what the provider sent"),
        PullResult::Failed(_) => tracing::warn!(connection = %p.id, "pull failed; will try again"),
    }
}

/// What the Sources page says of a pull. Its counts include private
/// entries, so someone who may not see those (a carer acting for the
/// patient) is told only that it worked.
fn message(access: &RecordAccess, name: &str, r: &PullResult) -> String {
    match r {
        PullResult::Imported(_) if access.scope().is_some() => format!("Updated from {name}."),
        PullResult::Imported(s) => format!("Updated from {name}: {s}."),
        PullResult::NeedsReconnect(e) | PullResult::Refused(e) | PullResult::Failed(e) => e.clone(),
    }
}

async fn notice(session: &Session, message: &str) -> Response {
    let _ = session.insert(SOURCES_NOTICE_KEY, message.to_string()).await;
    Redirect::to("/sources#connections").into_response()
}

async fn manage(kith: &Kith, session: &Session, from: kith_core::policy::Origin) -> Result<RecordAccess, Response> {
    resolve_record(kith, session, from, Right::Manage).await.map_err(|e| match e {
        kith_types::AppError::Unauthenticated => Redirect::to("/sign-in").into_response(),
        _ => (http::StatusCode::NOT_FOUND, "Not found").into_response(),
    })
}

#[derive(Deserialize)]
struct StartQuery {
    provider: String,
}

async fn start(State(c): State<Connections>, session: Session, Query(q): Query<StartQuery>, req: Request) -> Response {
    let from = origin(&req);
    drop(req);
    let access = manage(&c.kith, &session, from).await;
    let access = match access {
        Ok(a) => a,
        Err(r) => return r,
    };
    let Some(client) = c.client(&q.provider) else { return (http::StatusCode::NOT_FOUND, "No such provider").into_response() };
    match client.start(&c.redirect_uri).await {
        Ok((url, pending)) => {
            let flow =
                Flow { provider: q.provider.clone(), patient_id: access.patient_id().to_string(), pending, started_ms: chrono::Utc::now().timestamp_millis() };
            if session.insert(FLOW_KEY, flow).await.is_err() {
                return (http::StatusCode::INTERNAL_SERVER_ERROR, "Could not start connecting").into_response();
            }
            Redirect::to(&url).into_response()
        }
        Err(e) => {
            tracing::warn!(provider = %client.config.name, detail = %e.detail(), "could not start connecting");
            notice(&session, &e.to_string()).await
        }
    }
}

async fn callback(State(c): State<Connections>, session: Session, Query(q): Query<CallbackQuery>, req: Request) -> Response {
    let from = origin(&req);
    drop(req);
    let access = manage(&c.kith, &session, from).await;
    let access = match access {
        Ok(a) => a,
        Err(r) => return r,
    };
    let flow: Option<Flow> = session.remove(FLOW_KEY).await.ok().flatten();
    let Some(flow) = flow
        .filter(|f| chrono::Utc::now().timestamp_millis() - f.started_ms < FLOW_MINUTES * 60_000)
        .filter(|f| q.state.as_deref().is_some_and(|s| crate::oidc::same_secret(s, &f.pending.state)))
    else {
        return notice(&session, "That connection link is out of date or was not started here. Start again from this page.").await;
    };
    if flow.patient_id != access.patient_id() {
        return notice(&session, "That connection was started for another record. Start again from this record's Sources page.").await;
    }
    let Some(client) = c.client(&flow.provider) else { return notice(&session, "That provider is no longer offered here.").await };
    let name = client.config.name.clone();
    if let Some(e) = q.error {
        let why: String = q.error_description.unwrap_or(e).chars().take(200).collect();
        return notice(&session, &format!("{name} did not connect ({why}). Nothing has changed.")).await;
    }
    let Some(code) = q.code else { return notice(&session, &format!("{name} sent no authorisation code. Start again.")).await };
    let tokens = match client.finish(&flow.pending, &code, &c.redirect_uri).await {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(provider = %name, detail = %e.detail(), "connecting failed");
            return notice(&session, &e.to_string()).await;
        }
    };
    let json = match serde_json::to_string(&tokens) {
        Ok(j) => j,
        Err(_) => return notice(&session, "Could not keep the connection. Try again.").await,
    };
    let id = match c.kith.connect_provider(&access, &flow.provider, &name, &json).await {
        Ok(id) => id,
        Err(e) => return notice(&session, &e.into_app_error().to_string()).await,
    };
    let Ok(p) = c.kith.pullable(&access, &id).await else { return notice(&session, "Could not read the new connection.").await };
    let result = c.pull(&access, &p).await;
    log_result(&p, &result);
    // A first pull the import refused (another patient's NHS Number, say):
    // nothing was stored, and the connection is not kept. Other failures
    // (the provider busy or down) keep it, to be tried again.
    if let PullResult::Refused(reason) = &result {
        let _ = c.kith.disconnect_provider(&access, &id).await;
        return notice(&session, &format!("{name} was not connected: {reason}")).await;
    }
    let text = message(&access, &name, &result);
    let _ = c.kith.record_pull(&id, result, c.next_pull()).await;
    notice(&session, &format!("{name} is connected. {text}")).await
}

#[derive(Deserialize)]
struct ConnectionForm {
    id: String,
}

/// The record this session manages, and the connection the form names.
async fn managed_connection(c: &Connections, session: &Session, req: Request) -> Result<(RecordAccess, String), Response> {
    let from = origin(&req);
    let form = Form::<ConnectionForm>::from_request(req, &()).await;
    let access = manage(&c.kith, session, from).await?;
    match form {
        Ok(Form(f)) => Ok((access, f.id)),
        Err(_) => Err((http::StatusCode::BAD_REQUEST, "Which connection?").into_response()),
    }
}

async fn refresh(State(c): State<Connections>, session: Session, req: Request) -> Response {
    let (access, id) = match managed_connection(&c, &session, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Ok(p) = c.kith.pullable(&access, &id).await else { return (http::StatusCode::NOT_FOUND, "Not found").into_response() };
    let result = c.pull(&access, &p).await;
    log_result(&p, &result);
    let text = message(&access, &p.name, &result);
    let _ = c.kith.record_pull(&p.id, result, c.next_pull()).await;
    notice(&session, &text).await
}

async fn disconnect(State(c): State<Connections>, session: Session, req: Request) -> Response {
    let (access, id) = match managed_connection(&c, &session, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match c.kith.disconnect_provider(&access, &id).await {
        Ok(()) => notice(&session, "Disconnected. Kith no longer holds any access to it; what it already sent stays in your record, marked as from it.").await,
        Err(e) => match e.into_app_error() {
            kith_types::AppError::NotFound => (http::StatusCode::NOT_FOUND, "Not found").into_response(),
            other => notice(&session, &other.to_string()).await,
        },
    }
}

use axum::extract::FromRequest;

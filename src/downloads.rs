//! Files to download: the access log (CSV, FHIR AuditEvent Bundle, the
//! chain for checking) and its signed checkpoints. Plain GET routes, so a link works without JavaScript;
//! each resolves the record exactly as server functions do and goes through
//! the same policy (owner, or a carer acting for them).

use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http::header::{CONTENT_DISPOSITION, CONTENT_TYPE, USER_AGENT};
use http::StatusCode;
use kith_core::policy::{Origin, RecordAccess, Right};
use kith_core::Kith;
use kith_types::AppError;
use std::net::SocketAddr;
use tower_sessions::Session;

pub fn routes(kith: Kith) -> Router {
    Router::new()
        .route("/access-log/export.csv", get(csv))
        .route("/access-log/export.fhir.json", get(fhir))
        .route("/access-log/checkpoints.json", get(checkpoints))
        .route("/access-log/chain.json", get(chain))
        .route("/care-plan/export.fhir.json", get(care_plan))
        .route("/record/export.fhir.json", get(record))
        .with_state(kith)
}

/// Where a plain (non server-function) request came from, for the access log.
pub(crate) fn origin(req: &Request) -> Origin {
    Origin {
        address: req.extensions().get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(a)| a.ip().to_string()).unwrap_or_else(|| "unknown".into()),
        user_agent: req.headers().get(USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string(),
    }
}

async fn access(kith: &Kith, session: &Session, origin: Origin) -> Result<RecordAccess, Response> {
    access_with(kith, session, origin, Right::Manage).await
}

async fn access_with(kith: &Kith, session: &Session, origin: Origin, right: Right) -> Result<RecordAccess, Response> {
    app::api::ssr::resolve_record(kith, session, origin, right).await.map_err(|e| match e {
        AppError::Unauthenticated => axum::response::Redirect::to("/sign-in").into_response(),
        _ => (StatusCode::NOT_FOUND, "Not found").into_response(),
    })
}

fn file(body: String, content_type: &'static str, name: &str) -> Response {
    ([(CONTENT_TYPE, content_type.to_string()), (CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\""))], body).into_response()
}

fn failed(e: kith_core::CoreError) -> Response {
    match e.into_app_error() {
        AppError::NotFound => (StatusCode::NOT_FOUND, "Not found").into_response(),
        other => (StatusCode::INTERNAL_SERVER_ERROR, other.to_string()).into_response(),
    }
}

async fn csv(State(kith): State<Kith>, session: Session, req: Request) -> Response {
    let a = match access(&kith, &session, origin(&req)).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    match kith.audit_csv(&a).await {
        Ok(body) => file(body, "text/csv; charset=utf-8", &format!("kith-access-log-{}.csv", a.nhs_number().as_str())),
        Err(e) => failed(e),
    }
}

async fn fhir(State(kith): State<Kith>, session: Session, req: Request) -> Response {
    let a = match access(&kith, &session, origin(&req)).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    match kith.audit_events_bundle(&a).await {
        Ok(v) => file(v.to_string(), "application/fhir+json", &format!("kith-access-log-{}.json", a.nhs_number().as_str())),
        Err(e) => failed(e),
    }
}

async fn checkpoints(State(kith): State<Kith>, session: Session, req: Request) -> Response {
    let a = match access(&kith, &session, origin(&req)).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    match kith.audit_checkpoints_json(&a).await {
        Ok(v) => file(
            serde_json::to_string_pretty(&v).unwrap_or_default(),
            "application/json",
            &format!("kith-access-log-checkpoints-{}.json", a.nhs_number().as_str()),
        ),
        Err(e) => failed(e),
    }
}

/// Every record of the log as hashed, with the signed checkpoints.
async fn chain(State(kith): State<Kith>, session: Session, req: Request) -> Response {
    let a = match access(&kith, &session, origin(&req)).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    match kith.audit_chain_file(&a).await {
        Ok(v) => {
            file(serde_json::to_string_pretty(&v).unwrap_or_default(), "application/json", &format!("kith-access-log-chain-{}.json", a.nhs_number().as_str()))
        }
        Err(e) => failed(e),
    }
}

/// The care plan as FHIR (CarePlan and Goals), for anyone who may read it.
async fn care_plan(State(kith): State<Kith>, session: Session, req: Request) -> Response {
    let a = match access_with(&kith, &session, origin(&req), Right::Read).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    match kith.care_plan_fhir(&a).await {
        Ok(v) => {
            file(serde_json::to_string_pretty(&v).unwrap_or_default(), "application/fhir+json", &format!("kith-care-plan-{}.json", a.nhs_number().as_str()))
        }
        Err(e) => failed(e),
    }
}

/// The record as FHIR: all of it for the patient, only what was shared for
/// anyone else.
async fn record(State(kith): State<Kith>, session: Session, req: Request) -> Response {
    let a = match access_with(&kith, &session, origin(&req), Right::Read).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    match kith.export_bundle(&a).await {
        Ok(v) => file(v.to_string(), "application/fhir+json", &format!("kith-record-{}.json", a.nhs_number().as_str())),
        Err(e) => failed(e),
    }
}

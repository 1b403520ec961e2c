//! `GET /events`: server-sent events telling an open page that the record it
//! shows has changed (a comment, the care plan), so it fetches again. The
//! events carry only a topic, never health data, and each is checked against
//! the access again before it is sent (`Kith::hears`): a revoked grant or
//! expired link ends the stream, and changes outside the scope are skipped.
//! One process's changes only; several servers would relay them through the
//! database (PostgreSQL LISTEN/NOTIFY), which Kith does not do yet.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http::StatusCode;
use kith_core::policy::Right;
use kith_core::together::{Change, Hearing};
use kith_core::Kith;
use tokio::sync::broadcast::error::RecvError;
use tower_sessions::Session;

pub fn routes(kith: Kith) -> Router {
    Router::new().route("/events", get(events)).with_state(kith)
}

async fn events(State(kith): State<Kith>, session: Session, req: Request) -> Response {
    let Ok(access) = app::api::ssr::resolve_record(&kith, &session, crate::downloads::origin(&req), Right::Read).await else {
        return (StatusCode::NOT_FOUND, "Not found").into_response();
    };
    let rx = kith.subscribe();
    let stream = futures::stream::unfold((rx, kith, access), |(mut rx, kith, access)| async move {
        loop {
            let change = match rx.recv().await {
                Ok(c) => c,
                // Missed some: tell the page to fetch everything again.
                Err(RecvError::Lagged(_)) => Change { patient_id: access.patient_id().to_string(), topic: "all".into() },
                Err(RecvError::Closed) => return None,
            };
            match kith.hears(&access, &change).await {
                Ok(Hearing::Tell) => return Some((Ok::<_, Infallible>(Event::default().event("change").data(change.topic)), (rx, kith, access))),
                Ok(Hearing::Skip) => continue,
                // Revoked, expired, or the database failing: end the stream;
                // the page's own fetches say what happened.
                Ok(Hearing::Closed) | Err(_) => return None,
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(20))).into_response()
}

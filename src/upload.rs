//! `POST /record/upload`: a plain multipart form post (works without
//! JavaScript), so it is an axum handler rather than a server function. It
//! resolves the person from the session like every server function does and
//! goes through the same policy.

use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::Router;
use http::StatusCode;
use kith_core::import::{ImportOutcome, ImportRequest};
use kith_core::policy::Right;
use kith_core::session_store::{LAST_UPLOAD_KEY, USER_ID_KEY};
use kith_core::Kith;
use kith_types::record::UploadResult;
use tower_sessions::Session;

#[derive(Clone)]
struct UploadState {
    kith: Kith,
    max_bytes: usize,
}

pub fn routes(kith: Kith, max_bytes: usize) -> Router {
    Router::new()
        .route("/record/upload", post(upload))
        // A little over the limit, so a slightly-too-big file still gets a
        // clear message rather than a bare 413.
        .layer(DefaultBodyLimit::max(max_bytes + 1024 * 1024))
        .with_state(UploadState { kith, max_bytes })
}

async fn upload(State(s): State<UploadState>, session: Session, mut form: Multipart) -> Response {
    let user_id: Option<String> = session.get(USER_ID_KEY).await.ok().flatten();
    let actor = match user_id {
        Some(id) => s.kith.actor(&id).await.ok().flatten(),
        None => None,
    };
    let Some(actor) = actor else {
        return Redirect::to("/sign-in").into_response();
    };
    let access = match s.kith.own_record(&actor, Right::Contribute).await {
        Ok(a) => a,
        Err(e) => return (StatusCode::NOT_FOUND, e.into_app_error().to_string()).into_response(),
    };

    let mut file_name = String::new();
    let mut bytes: Option<Vec<u8>> = None;
    let mut kind = None;
    let mut source_name = None;
    let mut problem = None;
    loop {
        match form.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_string();
                if name == "file" {
                    file_name = field.file_name().unwrap_or("upload.json").to_string();
                }
                match field.bytes().await {
                    Ok(b) => match name.as_str() {
                        "file" => bytes = Some(b.to_vec()),
                        "source_kind" => kind = String::from_utf8(b.to_vec()).ok().and_then(|k| k.parse().ok()),
                        "source_name" => source_name = String::from_utf8(b.to_vec()).ok().filter(|n| !n.trim().is_empty()),
                        _ => {}
                    },
                    Err(_) => {
                        problem = Some(format!("The file is larger than the {} MB Kith accepts.", s.max_bytes / (1024 * 1024)));
                        break;
                    }
                }
            }
            Ok(None) => break,
            Err(_) => {
                problem = Some(format!("The upload did not arrive whole, or is larger than the {} MB Kith accepts. Try again.", s.max_bytes / (1024 * 1024)));
                break;
            }
        }
    }
    let id = uuid_like();
    let result = match (problem, bytes) {
        (Some(p), _) => UploadResult { id: id.clone(), file: file_name, outcome: "refused".into(), message: p },
        (None, None) => UploadResult { id: id.clone(), file: String::new(), outcome: "refused".into(), message: "Choose a file to add.".into() },
        (None, Some(bytes)) => {
            let req = ImportRequest { file_name: file_name.clone(), bytes, source_kind: kind, source_name, max_bytes: s.max_bytes };
            match s.kith.import(&access, req).await {
                Ok(ImportOutcome::Accepted(sum)) => UploadResult {
                    id: id.clone(),
                    file: file_name,
                    outcome: "accepted".into(),
                    message: if sum.nothing_changed() {
                        format!("Nothing new from {}: all {} records were already in your record.", sum.source, sum.unchanged)
                    } else {
                        format!("Added from {}: {} new, {} changed, {} unchanged.", sum.source, sum.new, sum.changed, sum.unchanged)
                    },
                },
                Ok(ImportOutcome::Held { found_name, .. }) => UploadResult {
                    id: id.clone(),
                    file: file_name,
                    outcome: "held".into(),
                    message: format!(
                        "This file has no NHS Number{}. Check the details below before it is added.",
                        found_name.map(|n| format!(" (it names {n})")).unwrap_or_default()
                    ),
                },
                Ok(ImportOutcome::Refused { reason, .. }) => UploadResult { id: id.clone(), file: file_name, outcome: "refused".into(), message: reason },
                Err(e) => UploadResult { id: id.clone(), file: file_name, outcome: "refused".into(), message: e.into_app_error().to_string() },
            }
        }
    };
    let _ = session.insert(LAST_UPLOAD_KEY, result).await;
    Redirect::to(&format!("/sources?upload={id}#upload-result")).into_response()
}

/// A short random id for one upload's result.
fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
    format!("{:x}", nanos ^ (std::process::id() as u128) << 64)
}

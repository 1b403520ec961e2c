//! SQL for provider connections (see `crate::connections`).

use sqlx::{Any, Executor, FromRow};

#[derive(Debug, FromRow)]
pub(crate) struct ConnectionRow {
    pub id: String,
    pub patient_id: String,
    pub provider: String,
    pub name: String,
    pub status: String,
    pub tokens: Option<String>,
    pub connected_at: i64,
    pub last_pull_at: Option<i64>,
    pub last_summary: Option<String>,
    pub last_error: Option<String>,
    pub next_pull_at: Option<i64>,
}

const COLUMNS: &str = "id, patient_id, provider, name, status, tokens, connected_at, last_pull_at, last_summary, last_error, next_pull_at";

pub(crate) async fn by_id<'e, E: Executor<'e, Database = Any>>(ex: E, id: &str) -> sqlx::Result<Option<ConnectionRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM connections WHERE id = $1")).bind(id.to_string()).fetch_optional(ex).await
}

pub(crate) async fn for_patient<'e, E: Executor<'e, Database = Any>>(ex: E, patient_id: &str) -> sqlx::Result<Vec<ConnectionRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM connections WHERE patient_id = $1 ORDER BY name, id")).bind(patient_id.to_string()).fetch_all(ex).await
}

/// Connects (or reconnects) a patient's record to a provider, with fresh tokens.
pub(crate) async fn upsert<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    patient_id: &str,
    provider: &str,
    name: &str,
    tokens: &str,
    now: i64,
) -> sqlx::Result<String> {
    sqlx::query_scalar(
        "INSERT INTO connections (id, patient_id, provider, name, status, tokens, connected_at) VALUES ($1, $2, $3, $4, 'connected', $5, $6) \
         ON CONFLICT (patient_id, provider) DO UPDATE SET name = $4, status = 'connected', tokens = $5, connected_at = $6, last_error = NULL \
         RETURNING id",
    )
    .bind(id.to_string())
    .bind(patient_id.to_string())
    .bind(provider.to_string())
    .bind(name.to_string())
    .bind(tokens.to_string())
    .bind(now)
    .fetch_one(ex)
    .await
}

pub(crate) async fn set_tokens<'e, E: Executor<'e, Database = Any>>(ex: E, id: &str, tokens: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE connections SET tokens = $2 WHERE id = $1 AND tokens IS NOT NULL")
        .bind(id.to_string())
        .bind(tokens.to_string())
        .execute(ex)
        .await
        .map(|_| ())
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn record_pull<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    status: &str,
    at: i64,
    summary: Option<&str>,
    error: Option<&str>,
    next_pull_at: Option<i64>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE connections SET status = $2, last_pull_at = $3, last_summary = COALESCE($4, last_summary), last_error = $5, next_pull_at = $6 \
         WHERE id = $1 AND status <> 'disconnected'",
    )
    .bind(id.to_string())
    .bind(status.to_string())
    .bind(at)
    .bind(summary.map(str::to_string))
    .bind(error.map(str::to_string))
    .bind(next_pull_at)
    .execute(ex)
    .await
    .map(|_| ())
}

pub(crate) async fn disconnect<'e, E: Executor<'e, Database = Any>>(ex: E, patient_id: &str, id: &str) -> sqlx::Result<u64> {
    sqlx::query("UPDATE connections SET status = 'disconnected', tokens = NULL, next_pull_at = NULL WHERE patient_id = $1 AND id = $2")
        .bind(patient_id.to_string())
        .bind(id.to_string())
        .execute(ex)
        .await
        .map(|r| r.rows_affected())
}

pub(crate) async fn due<'e, E: Executor<'e, Database = Any>>(ex: E, now: i64) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("SELECT id FROM connections WHERE status = 'connected' AND tokens IS NOT NULL AND next_pull_at IS NOT NULL AND next_pull_at <= $1 ORDER BY next_pull_at")
        .bind(now)
        .fetch_all(ex)
        .await
}

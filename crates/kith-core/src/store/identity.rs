//! SQL for sign-in methods (linked provider identities), sessions listed on
//! the Account page, and failed provider sign-ins.

use sqlx::{Any, Executor, FromRow};

#[derive(Debug, FromRow)]
pub(crate) struct LinkedRow {
    pub id: String,
    pub user_id: String,
    pub provider: String,
    pub label: String,
    pub linked_at: i64,
    pub last_used_at: Option<i64>,
}

const LINKED: &str = "id, user_id, provider, label, linked_at, last_used_at";

pub(crate) async fn linked_by_subject<'e, E: Executor<'e, Database = Any>>(ex: E, issuer: &str, subject: &str) -> sqlx::Result<Option<LinkedRow>> {
    sqlx::query_as(&format!("SELECT {LINKED} FROM linked_identities WHERE issuer = $1 AND subject = $2"))
        .bind(issuer.to_string())
        .bind(subject.to_string())
        .fetch_optional(ex)
        .await
}

pub(crate) async fn linked_for_user<'e, E: Executor<'e, Database = Any>>(ex: E, user_id: &str) -> sqlx::Result<Vec<LinkedRow>> {
    sqlx::query_as(&format!("SELECT {LINKED} FROM linked_identities WHERE user_id = $1 ORDER BY linked_at, id")).bind(user_id.to_string()).fetch_all(ex).await
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert_linked<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    user_id: &str,
    provider: &str,
    issuer: &str,
    subject: &str,
    label: &str,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO linked_identities (id, user_id, provider, issuer, subject, label, linked_at, last_used_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(id.to_string())
    .bind(user_id.to_string())
    .bind(provider.to_string())
    .bind(issuer.to_string())
    .bind(subject.to_string())
    .bind(label.to_string())
    .bind(now)
    .execute(ex)
    .await
    .map(|_| ())
}

pub(crate) async fn touch_linked<'e, E: Executor<'e, Database = Any>>(ex: E, id: &str, now: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE linked_identities SET last_used_at = $1 WHERE id = $2").bind(now).bind(id.to_string()).execute(ex).await.map(|_| ())
}

pub(crate) async fn delete_linked<'e, E: Executor<'e, Database = Any>>(ex: E, user_id: &str, id: &str) -> sqlx::Result<u64> {
    sqlx::query("DELETE FROM linked_identities WHERE user_id = $1 AND id = $2")
        .bind(user_id.to_string())
        .bind(id.to_string())
        .execute(ex)
        .await
        .map(|r| r.rows_affected())
}

/// Takes the user's row for this transaction (serialising changes to how
/// they sign in).
pub(crate) async fn touch_user<'e, E: Executor<'e, Database = Any>>(ex: E, user_id: &str, now: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET updated_at = $1 WHERE id = $2").bind(now).bind(user_id.to_string()).execute(ex).await.map(|_| ())
}

/// Ways this user can sign in: a password counts as one, each linked identity as one.
pub(crate) async fn count_methods<'e, E: Executor<'e, Database = Any>>(ex: E, user_id: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM users WHERE id = $1 AND password_hash IS NOT NULL) \
              + (SELECT COUNT(*) FROM linked_identities WHERE user_id = $1)",
    )
    .bind(user_id.to_string())
    .fetch_one(ex)
    .await
}

pub(crate) async fn clear_password<'e, E: Executor<'e, Database = Any>>(ex: E, user_id: &str, now: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET password_hash = NULL, updated_at = $1 WHERE id = $2").bind(now).bind(user_id.to_string()).execute(ex).await.map(|_| ())
}

pub(crate) async fn set_organisation<'e, E: Executor<'e, Database = Any>>(ex: E, user_id: &str, organisation: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET organisation = $1 WHERE id = $2").bind(organisation.to_string()).bind(user_id.to_string()).execute(ex).await.map(|_| ())
}

/// Gives an unclaimed record (one imported before its patient had an
/// account) to a user. Returns whether it was claimed.
pub(crate) async fn claim_patient<'e, E: Executor<'e, Database = Any>>(ex: E, patient_id: &str, user_id: &str) -> sqlx::Result<bool> {
    sqlx::query("UPDATE patients SET user_id = $1 WHERE id = $2 AND user_id IS NULL")
        .bind(user_id.to_string())
        .bind(patient_id.to_string())
        .execute(ex)
        .await
        .map(|r| r.rows_affected() == 1)
}

#[derive(Debug, FromRow)]
pub(crate) struct UserSessionRow {
    pub id: String,
    pub data: String,
    pub expires_at: i64,
}

pub(crate) async fn sessions_for_user<'e, E: Executor<'e, Database = Any>>(ex: E, user_id: &str, now: i64) -> sqlx::Result<Vec<UserSessionRow>> {
    sqlx::query_as("SELECT id, data, expires_at FROM sessions WHERE user_id = $1 AND expires_at > $2 ORDER BY expires_at DESC")
        .bind(user_id.to_string())
        .bind(now)
        .fetch_all(ex)
        .await
}

pub(crate) async fn insert_failure<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    at: i64,
    method: &str,
    reason: &str,
    address: &str,
    user_agent: &str,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO sign_in_failures (id, at, method, reason, address, user_agent) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(id.to_string())
        .bind(at)
        .bind(method.to_string())
        .bind(reason.to_string())
        .bind(address.to_string())
        .bind(user_agent.to_string())
        .execute(ex)
        .await
        .map(|_| ())
}

#[derive(Debug, FromRow)]
pub(crate) struct FailureRow {
    pub at: i64,
    pub method: String,
    pub reason: String,
    pub address: String,
    pub user_agent: String,
}

pub(crate) async fn recent_failures<'e, E: Executor<'e, Database = Any>>(ex: E, limit: i64) -> sqlx::Result<Vec<FailureRow>> {
    sqlx::query_as("SELECT at, method, reason, address, user_agent FROM sign_in_failures ORDER BY at DESC, id DESC LIMIT $1").bind(limit).fetch_all(ex).await
}

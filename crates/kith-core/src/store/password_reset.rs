//! SQL for password reset links (see `crate::password_reset`).

use sqlx::{Any, Executor, FromRow};

#[derive(Debug, FromRow)]
pub(crate) struct PasswordResetRow {
    pub token_hash: String,
    pub user_id: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// Stores a link unless the account has had `limit` since `since`: one
/// statement (after `lock_user` on PostgreSQL), so requests at the same
/// moment cannot together pass the limit. False when over it.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert_password_reset_within(
    conn: &mut sqlx::AnyConnection,
    token_hash: &str,
    user_id: &str,
    now: i64,
    expires_at: i64,
    used_at: Option<i64>,
    since: i64,
    limit: i64,
) -> sqlx::Result<bool> {
    sqlx::query(
        "INSERT INTO password_resets (token_hash, user_id, created_at, expires_at, used_at) \
         SELECT $1, $2, $3, $4, $5 WHERE (SELECT COUNT(*) FROM password_resets WHERE user_id = $2 AND created_at > $6) < $7",
    )
    .bind(token_hash.to_string())
    .bind(user_id.to_string())
    .bind(now)
    .bind(expires_at)
    .bind(used_at)
    .bind(since)
    .bind(limit)
    .execute(conn)
    .await
    .map(|r| r.rows_affected() == 1)
}

/// Holds an account's row until the transaction ends (PostgreSQL; SQLite
/// has one writer at a time anyway).
pub(crate) async fn lock_user(conn: &mut sqlx::AnyConnection, backend: crate::Backend, user_id: &str) -> sqlx::Result<()> {
    if backend == crate::Backend::Postgres {
        sqlx::query("SELECT id FROM users WHERE id = $1 FOR UPDATE").bind(user_id.to_string()).fetch_all(conn).await?;
    }
    Ok(())
}

pub(crate) async fn password_reset_by_hash<'e, E: Executor<'e, Database = Any>>(ex: E, token_hash: &str) -> sqlx::Result<Option<PasswordResetRow>> {
    sqlx::query_as("SELECT token_hash, user_id, expires_at, used_at FROM password_resets WHERE token_hash = $1")
        .bind(token_hash.to_string())
        .fetch_optional(ex)
        .await
}

/// Uses a link up; false when it was used already (at the same moment).
pub(crate) async fn use_password_reset<'e, E: Executor<'e, Database = Any>>(ex: E, token_hash: &str, now: i64) -> sqlx::Result<bool> {
    sqlx::query("UPDATE password_resets SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1")
        .bind(now)
        .bind(token_hash.to_string())
        .execute(ex)
        .await
        .map(|r| r.rows_affected() == 1)
}

/// Ends every other link of the account: one new password is enough.
pub(crate) async fn end_password_resets<'e, E: Executor<'e, Database = Any>>(ex: E, user_id: &str, now: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE password_resets SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL")
        .bind(now)
        .bind(user_id.to_string())
        .execute(ex)
        .await
        .map(|_| ())
}

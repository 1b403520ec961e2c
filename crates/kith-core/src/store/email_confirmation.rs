//! SQL for confirming email addresses (see `crate::email_confirmation`).

use sqlx::{Any, Executor, FromRow};

#[derive(Debug, FromRow)]
pub(crate) struct EmailConfirmationRow {
    pub token_hash: String,
    pub user_id: String,
    pub email: String,
    pub account_email: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// Stores a link unless the account has had `limit` since `since`: one
/// statement (after `lock_user` on PostgreSQL), as for reset links. False
/// when over the limit.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert_email_confirmation_within(
    conn: &mut sqlx::AnyConnection,
    token_hash: &str,
    user_id: &str,
    email: &str,
    account_email: &str,
    now: i64,
    expires_at: i64,
    since: i64,
    limit: i64,
) -> sqlx::Result<bool> {
    sqlx::query(
        "INSERT INTO email_confirmations (token_hash, user_id, email, account_email, created_at, expires_at) \
         SELECT $1, $2, $3, $8, $4, $5 WHERE (SELECT COUNT(*) FROM email_confirmations WHERE user_id = $2 AND created_at > $6) < $7",
    )
    .bind(token_hash.to_string())
    .bind(user_id.to_string())
    .bind(email.to_string())
    .bind(now)
    .bind(expires_at)
    .bind(since)
    .bind(limit)
    .bind(account_email.to_string())
    .execute(conn)
    .await
    .map(|r| r.rows_affected() == 1)
}

pub(crate) async fn email_confirmation_by_hash<'e, E: Executor<'e, Database = Any>>(ex: E, token_hash: &str) -> sqlx::Result<Option<EmailConfirmationRow>> {
    sqlx::query_as("SELECT token_hash, user_id, email, account_email, expires_at, used_at FROM email_confirmations WHERE token_hash = $1")
        .bind(token_hash.to_string())
        .fetch_optional(ex)
        .await
}

/// Uses a link up; false when it was used already, or is out of date.
pub(crate) async fn use_email_confirmation<'e, E: Executor<'e, Database = Any>>(ex: E, token_hash: &str, now: i64) -> sqlx::Result<bool> {
    sqlx::query("UPDATE email_confirmations SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1")
        .bind(now)
        .bind(token_hash.to_string())
        .execute(ex)
        .await
        .map(|r| r.rows_affected() == 1)
}

/// Gives the account the confirmed address `email`, if its address is still
/// `account_email` (the same for a plain confirmation; the old one for a
/// change). False when it is not. A unique violation: another account has
/// taken `email` meanwhile.
pub(crate) async fn take_confirmed_email<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    user_id: &str,
    email: &str,
    account_email: &str,
    now: i64,
) -> sqlx::Result<bool> {
    sqlx::query("UPDATE users SET email = $1, email_confirmed_at = $2 WHERE id = $3 AND email = $4")
        .bind(email.to_string())
        .bind(now)
        .bind(user_id.to_string())
        .bind(account_email.to_string())
        .execute(ex)
        .await
        .map(|r| r.rows_affected() == 1)
}

/// Marks the account's address confirmed, if it is still `email`, keeping
/// the first time it was. False when it is not.
pub(crate) async fn confirm_user_email<'e, E: Executor<'e, Database = Any>>(ex: E, user_id: &str, email: &str, now: i64) -> sqlx::Result<bool> {
    sqlx::query("UPDATE users SET email_confirmed_at = COALESCE(email_confirmed_at, $1) WHERE id = $2 AND email = $3")
        .bind(now)
        .bind(user_id.to_string())
        .bind(email.to_string())
        .execute(ex)
        .await
        .map(|r| r.rows_affected() == 1)
}

/// Gives the account a new address at once, unconfirmed (where Kith sends
/// no email, so nothing could confirm it).
pub(crate) async fn set_unconfirmed_email<'e, E: Executor<'e, Database = Any>>(ex: E, user_id: &str, email: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET email = $1, email_confirmed_at = NULL WHERE id = $2")
        .bind(email.to_string())
        .bind(user_id.to_string())
        .execute(ex)
        .await
        .map(|_| ())
}

/// Accounts whose address is not confirmed and has no link still working.
pub(crate) async fn unconfirmed_without_link<'e, E: Executor<'e, Database = Any>>(ex: E, now: i64) -> sqlx::Result<Vec<super::UserRow>> {
    sqlx::query_as(&format!(
        "SELECT {} FROM users WHERE email_confirmed_at IS NULL AND NOT EXISTS \
         (SELECT 1 FROM email_confirmations c WHERE c.user_id = users.id AND c.email = users.email AND c.used_at IS NULL AND c.expires_at > $1) \
         ORDER BY created_at, id",
        super::USER_COLUMNS
    ))
    .bind(now)
    .fetch_all(ex)
    .await
}

/// Ends the account's other links once one has worked.
pub(crate) async fn end_email_confirmations<'e, E: Executor<'e, Database = Any>>(ex: E, user_id: &str, now: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE email_confirmations SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL")
        .bind(now)
        .bind(user_id.to_string())
        .execute(ex)
        .await
        .map(|_| ())
}

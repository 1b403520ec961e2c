//! SQL for two-step verification (see `crate::two_step`).

use sqlx::{Any, Executor, FromRow};

#[derive(Debug, FromRow)]
pub(crate) struct TwoStepState {
    #[sqlx(rename = "totp_secret")]
    pub secret: String,
    #[sqlx(rename = "totp_enabled_at")]
    pub enabled_at: Option<i64>,
    #[sqlx(rename = "totp_last_step")]
    pub last_step: Option<i64>,
}

pub(crate) async fn state<'e, E: Executor<'e, Database = Any>>(ex: E, user_id: &str) -> sqlx::Result<Option<TwoStepState>> {
    sqlx::query_as("SELECT totp_secret, totp_enabled_at, totp_last_step FROM users WHERE id = $1 AND totp_secret IS NOT NULL")
        .bind(user_id.to_string())
        .fetch_optional(ex)
        .await
}

pub(crate) async fn set_pending<'e, E: Executor<'e, Database = Any>>(ex: E, user_id: &str, secret: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET totp_secret = $2, totp_enabled_at = NULL, totp_last_step = NULL WHERE id = $1 AND totp_enabled_at IS NULL")
        .bind(user_id.to_string())
        .bind(secret.to_string())
        .execute(ex)
        .await
        .map(|_| ())
}

/// Switches it on and replaces the recovery codes, within the caller's
/// transaction.
pub(crate) async fn enable(tx: &mut sqlx::AnyConnection, user_id: &str, now: i64, step: i64, code_hashes: &[String]) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET totp_enabled_at = $2, totp_last_step = $3 WHERE id = $1")
        .bind(user_id.to_string())
        .bind(now)
        .bind(step)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user_id.to_string()).execute(&mut *tx).await?;
    for h in code_hashes {
        sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)").bind(user_id.to_string()).bind(h.clone()).execute(&mut *tx).await?;
    }
    Ok(())
}

/// Records a used time step; false if that step (or a later one) was used
/// already, so two requests racing with one code cannot both pass.
pub(crate) async fn use_step<'e, E: Executor<'e, Database = Any>>(ex: E, user_id: &str, step: i64) -> sqlx::Result<bool> {
    let r = sqlx::query("UPDATE users SET totp_last_step = $2 WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)")
        .bind(user_id.to_string())
        .bind(step)
        .execute(ex)
        .await?;
    Ok(r.rows_affected() == 1)
}

pub(crate) async fn use_recovery_code<'e, E: Executor<'e, Database = Any>>(ex: E, user_id: &str, hash: &str, now: i64) -> sqlx::Result<bool> {
    let r = sqlx::query("UPDATE recovery_codes SET used_at = $3 WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL")
        .bind(user_id.to_string())
        .bind(hash.to_string())
        .bind(now)
        .execute(ex)
        .await?;
    Ok(r.rows_affected() == 1)
}

pub(crate) async fn codes_left<'e, E: Executor<'e, Database = Any>>(ex: E, user_id: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL").bind(user_id.to_string()).fetch_one(ex).await
}

/// Switches it off (within the caller's transaction).
pub(crate) async fn disable(tx: &mut sqlx::AnyConnection, user_id: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET totp_secret = NULL, totp_enabled_at = NULL, totp_last_step = NULL WHERE id = $1")
        .bind(user_id.to_string())
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user_id.to_string()).execute(&mut *tx).await?;
    Ok(())
}

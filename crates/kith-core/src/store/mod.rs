//! All SQL lives here. Row structs never leave this module's callers in the
//! crate and are never serialised. Every statement runs unchanged on SQLite and
//! PostgreSQL: `$n` parameters, BIGINT milliseconds for times, TEXT ids.

use sqlx::{Any, Executor, FromRow};

#[derive(Debug, FromRow)]
pub(crate) struct UserRow {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: String,
    pub password_hash: Option<String>,
    pub organisation: String,
    /// How a clinician's staff identity was checked; None: not checked.
    pub clinician_verified_by: Option<String>,
    /// When its owner confirmed the address; None: Kith sends it nothing.
    pub email_confirmed_at: Option<i64>,
}

#[derive(Debug, FromRow)]
#[allow(dead_code)] // id is used once records are read (import issue)
pub(crate) struct PatientRow {
    pub id: String,
    pub nhs_number: String,
    pub name: String,
    pub birth_date: String,
}

#[derive(Debug, FromRow)]
pub(crate) struct ThrottleRow {
    pub failures: i64,
    pub window_start: i64,
    pub locked_until: Option<i64>,
}

#[derive(Debug, FromRow)]
pub(crate) struct SessionRow {
    pub data: String,
}

pub(super) const USER_COLUMNS: &str = "id, email, name, role, password_hash, organisation, clinician_verified_by, email_confirmed_at";

pub(crate) async fn user_by_email<'e, E: Executor<'e, Database = Any>>(ex: E, email: &str) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1")).bind(email.to_string()).fetch_optional(ex).await
}

pub(crate) async fn user_by_id<'e, E: Executor<'e, Database = Any>>(ex: E, id: &str) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1")).bind(id.to_string()).fetch_optional(ex).await
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert_user<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    email: &str,
    name: &str,
    role: &str,
    password_hash: Option<&str>,
    organisation: &str,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO users (id, email, name, role, password_hash, created_at, updated_at, organisation) \
         VALUES ($1, $2, $3, $4, $5, $6, $6, $7)",
    )
    .bind(id.to_string())
    .bind(email.to_string())
    .bind(name.to_string())
    .bind(role.to_string())
    .bind(password_hash.map(str::to_string))
    .bind(now)
    .bind(organisation.to_string())
    .execute(ex)
    .await
    .map(|_| ())
}

/// Marks a clinician's account as checked (`how`: who checked it).
pub(crate) async fn verify_clinician<'e, E: Executor<'e, Database = Any>>(ex: E, user_id: &str, how: &str, now: i64) -> sqlx::Result<u64> {
    sqlx::query("UPDATE users SET clinician_verified_by = $1, updated_at = $2 WHERE id = $3 AND role = 'clinician'")
        .bind(how.to_string())
        .bind(now)
        .bind(user_id.to_string())
        .execute(ex)
        .await
        .map(|r| r.rows_affected())
}

pub(crate) async fn set_password_hash<'e, E: Executor<'e, Database = Any>>(ex: E, user_id: &str, hash: &str, now: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(hash.to_string())
        .bind(now)
        .bind(user_id.to_string())
        .execute(ex)
        .await
        .map(|_| ())
}

pub(crate) async fn patient_by_user<'e, E: Executor<'e, Database = Any>>(ex: E, user_id: &str) -> sqlx::Result<Option<PatientRow>> {
    sqlx::query_as("SELECT id, nhs_number, name, birth_date FROM patients WHERE user_id = $1").bind(user_id.to_string()).fetch_optional(ex).await
}

pub(crate) async fn patient_by_nhs_number<'e, E: Executor<'e, Database = Any>>(ex: E, nhs_number: &str) -> sqlx::Result<Option<PatientRow>> {
    sqlx::query_as("SELECT id, nhs_number, name, birth_date FROM patients WHERE nhs_number = $1").bind(nhs_number.to_string()).fetch_optional(ex).await
}

pub(crate) async fn insert_patient<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    nhs_number: &str,
    name: &str,
    birth_date: &str,
    user_id: Option<&str>,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO patients (id, nhs_number, name, birth_date, user_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id.to_string())
    .bind(nhs_number.to_string())
    .bind(name.to_string())
    .bind(birth_date.to_string())
    .bind(user_id.map(str::to_string))
    .bind(now)
    .execute(ex)
    .await
    .map(|_| ())
}

// ---- sign-in throttling ----

pub(crate) async fn throttle_get<'e, E: Executor<'e, Database = Any>>(ex: E, key: &str) -> sqlx::Result<Option<ThrottleRow>> {
    sqlx::query_as("SELECT failures, window_start, locked_until FROM sign_in_throttle WHERE key = $1").bind(key.to_string()).fetch_optional(ex).await
}

/// Writes nothing, but as a write it takes SQLite's write lock (and on
/// PostgreSQL the row's lock) before the count is read: a read first would
/// fail with "database is locked" if another connection wrote meanwhile,
/// and two failures at once could count as one.
pub(crate) async fn throttle_hold<'e, E: Executor<'e, Database = Any>>(ex: E, key: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE sign_in_throttle SET failures = failures WHERE key = $1").bind(key.to_string()).execute(ex).await.map(|_| ())
}

pub(crate) async fn throttle_put<'e, E: Executor<'e, Database = Any>>(ex: E, key: &str, row: &ThrottleRow) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO sign_in_throttle (key, failures, window_start, locked_until) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (key) DO UPDATE SET failures = $2, window_start = $3, locked_until = $4",
    )
    .bind(key.to_string())
    .bind(row.failures)
    .bind(row.window_start)
    .bind(row.locked_until)
    .execute(ex)
    .await
    .map(|_| ())
}

pub(crate) async fn throttle_clear<'e, E: Executor<'e, Database = Any>>(ex: E, key: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM sign_in_throttle WHERE key = $1").bind(key.to_string()).execute(ex).await.map(|_| ())
}

// ---- sessions ----

/// Saves a session loaded earlier: an update only, never an insert, so a
/// request that was under way when its session was ended (sign-out
/// everywhere, a new password) cannot bring it back by saving it.
pub(crate) async fn session_update<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    user_id: Option<&str>,
    data: &str,
    expires_at: i64,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE sessions SET user_id = $2, data = $3, expires_at = $4 WHERE id = $1")
        .bind(id.to_string())
        .bind(user_id.map(str::to_string))
        .bind(data.to_string())
        .bind(expires_at)
        .execute(ex)
        .await
        .map(|_| ())
}

/// Inserts only if the id is new; returns whether it was inserted.
pub(crate) async fn session_insert_new<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    user_id: Option<&str>,
    data: &str,
    expires_at: i64,
) -> sqlx::Result<bool> {
    let r = sqlx::query(
        "INSERT INTO sessions (id, user_id, data, expires_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(id.to_string())
    .bind(user_id.map(str::to_string))
    .bind(data.to_string())
    .bind(expires_at)
    .execute(ex)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub(crate) async fn session_get<'e, E: Executor<'e, Database = Any>>(ex: E, id: &str, now: i64) -> sqlx::Result<Option<SessionRow>> {
    sqlx::query_as("SELECT data FROM sessions WHERE id = $1 AND expires_at > $2").bind(id.to_string()).bind(now).fetch_optional(ex).await
}

pub(crate) async fn session_delete<'e, E: Executor<'e, Database = Any>>(ex: E, id: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM sessions WHERE id = $1").bind(id.to_string()).execute(ex).await.map(|_| ())
}

pub(crate) async fn sessions_delete_for_user_except<'e, E: Executor<'e, Database = Any>>(ex: E, user_id: &str, keep_id: &str) -> sqlx::Result<u64> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
        .bind(user_id.to_string())
        .bind(keep_id.to_string())
        .execute(ex)
        .await
        .map(|r| r.rows_affected())
}

pub(crate) async fn sessions_delete_expired<'e, E: Executor<'e, Database = Any>>(ex: E, now: i64) -> sqlx::Result<u64> {
    sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now).execute(ex).await.map(|r| r.rows_affected())
}

pub(crate) async fn count_sessions_for_user<'e, E: Executor<'e, Database = Any>>(ex: E, user_id: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE user_id = $1").bind(user_id.to_string()).fetch_one(ex).await
}

pub(crate) mod audit;
mod bulk;
pub(crate) mod connections;
mod email_confirmation;
pub(crate) mod identity;
mod mail;
mod password_reset;
mod record;
mod sharing;
pub(crate) mod together;
pub(crate) mod two_step;
mod views;
#[allow(unused_imports)]
pub(crate) use bulk::*;
pub(crate) use email_confirmation::*;
pub(crate) use mail::*;
pub(crate) use password_reset::*;
pub(crate) use record::*;
pub(crate) use sharing::*;
pub(crate) use views::*;

/// `$first, $first+1, ...` for an IN list.
pub(crate) fn list_placeholders(count: usize, first: usize) -> String {
    (first..first + count).map(|n| format!("${n}")).collect::<Vec<_>>().join(",")
}

/// Rows per multi-row statement: well under SQLite's and PostgreSQL's
/// parameter limits.
pub(crate) const BATCH: usize = 400;

/// The account that owns a record, if it has one.
pub(crate) async fn owner_user_id<'e, E: Executor<'e, Database = Any>>(ex: E, patient: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT user_id FROM patients WHERE id = $1").bind(patient.to_string()).fetch_optional(ex).await.map(Option::flatten)
}

pub(crate) async fn patient_by_id<'e, E: Executor<'e, Database = Any>>(ex: E, id: &str) -> sqlx::Result<Option<PatientRow>> {
    sqlx::query_as("SELECT id, nhs_number, name, birth_date FROM patients WHERE id = $1").bind(id.to_string()).fetch_optional(ex).await
}

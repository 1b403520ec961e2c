//! SQL for sharing: grants, links, notifications, and the scope filter every
//! read of entries goes through.

use sqlx::{Any, AnyConnection, Executor, FromRow};

use crate::policy::Scope;

/// ` AND ...` restricting entries to `scope`, binding its values as `$n`
/// parameters appended to `args`. None means the whole record.
pub(crate) fn scope_clause(scope: Option<&Scope>, args: &mut Vec<String>, table: &str) -> String {
    let Some(scope) = scope else { return String::new() };
    let col = |c: &str| if table.is_empty() { c.to_string() } else { format!("{table}.{c}") };
    let mut sql = format!(" AND {} <> 'private'", col("label"));
    if scope.all {
        return sql;
    }
    let mut any = Vec::new();
    let mut list = |values: &Vec<String>, column: &str, args: &mut Vec<String>| {
        if values.is_empty() {
            return;
        }
        let ps: Vec<String> = values
            .iter()
            .map(|v| {
                args.push(v.clone());
                format!("${}", args.len())
            })
            .collect();
        any.push(format!("{} IN ({})", col(column), ps.join(",")));
    };
    list(&scope.labels, "label", args);
    list(&scope.kinds, "kind", args);
    list(&scope.entries, "id", args);
    if any.is_empty() {
        sql.push_str(" AND 1 = 0");
    } else {
        sql.push_str(&format!(" AND ({})", any.join(" OR ")));
    }
    sql
}

/// A family carer's access continues for another period (not if revoked).
pub(crate) async fn renew_carer_grant<'e, E: Executor<'e, Database = Any>>(ex: E, patient: &str, id: &str, expires_at: i64) -> sqlx::Result<u64> {
    // A new end is reviewed afresh: the review email goes again before it.
    sqlx::query(
        "UPDATE grants SET expires_at = $1, review_notice_at = NULL WHERE patient_id = $2 AND id = $3 AND revoked_at IS NULL AND grantee_role = 'carer'",
    )
    .bind(expires_at)
    .bind(patient.to_string())
    .bind(id.to_string())
    .execute(ex)
    .await
    .map(|r| r.rows_affected())
}

#[derive(Debug, FromRow)]
pub(crate) struct GrantRow {
    pub id: String,
    pub patient_id: String,
    pub grantee_email: String,
    pub grantee_role: String,
    pub scope: String,
    pub can_comment: i64,
    pub can_contribute: i64,
    pub can_act_for: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub created_at: i64,
    /// The account that accepted the invitation; None: not accepted yet.
    pub grantee_user_id: Option<String>,
    pub accepted_at: Option<i64>,
    /// The account that made the grant (the patient, or a carer acting for them).
    pub created_by: String,
}

// `grants.last_used_at` stays NULL: the Sharing page takes a grant's last
// use from the access log, which cannot drift from what happened.
const GRANT_COLUMNS: &str =
    "id, patient_id, grantee_email, grantee_role, scope, can_comment, can_contribute, can_act_for, expires_at, revoked_at, created_at, grantee_user_id, accepted_at, created_by";

/// The grants this account accepted that are in force for one record.
pub(crate) async fn active_grants_for<'e, E: Executor<'e, Database = Any>>(ex: E, patient: &str, user_id: &str, now: i64) -> sqlx::Result<Vec<GrantRow>> {
    sqlx::query_as(&format!(
        "SELECT {GRANT_COLUMNS} FROM grants WHERE patient_id = $1 AND grantee_user_id = $2 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $3)"
    ))
    .bind(patient.to_string())
    .bind(user_id.to_string())
    .bind(now)
    .fetch_all(ex)
    .await
}

/// Every grant in force that this account accepted, across patients
/// (records shared with me).
pub(crate) async fn grants_to_user<'e, E: Executor<'e, Database = Any>>(ex: E, user_id: &str, now: i64) -> sqlx::Result<Vec<GrantRow>> {
    sqlx::query_as(&format!(
        "SELECT {GRANT_COLUMNS} FROM grants WHERE grantee_user_id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2) ORDER BY created_at"
    ))
    .bind(user_id.to_string())
    .bind(now)
    .fetch_all(ex)
    .await
}

/// The grant waiting for the invitation with this token hash (any patient:
/// the token is all the invited person has).
pub(crate) async fn grant_by_invite<'e, E: Executor<'e, Database = Any>>(ex: E, invite_hash: &str) -> sqlx::Result<Option<GrantRow>> {
    sqlx::query_as(&format!("SELECT {GRANT_COLUMNS} FROM grants WHERE invite_hash = $1 AND grantee_user_id IS NULL"))
        .bind(invite_hash.to_string())
        .fetch_optional(ex)
        .await
}

/// Gives a grant to the account that accepted its invitation; the
/// invitation cannot be used again. False: someone else took it first.
pub(crate) async fn accept_grant<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    patient: &str,
    id: &str,
    invite_hash: &str,
    user_id: &str,
    now: i64,
) -> sqlx::Result<bool> {
    sqlx::query(
        "UPDATE grants SET grantee_user_id = $1, accepted_at = $2, invite_hash = NULL \
         WHERE patient_id = $3 AND id = $4 AND invite_hash = $5 AND grantee_user_id IS NULL AND revoked_at IS NULL",
    )
    .bind(user_id.to_string())
    .bind(now)
    .bind(patient.to_string())
    .bind(id.to_string())
    .bind(invite_hash.to_string())
    .execute(ex)
    .await
    .map(|r| r.rows_affected() == 1)
}

/// A new invitation for a grant nobody has accepted (the old one stops working).
pub(crate) async fn set_invite<'e, E: Executor<'e, Database = Any>>(ex: E, patient: &str, id: &str, invite_hash: &str) -> sqlx::Result<u64> {
    sqlx::query("UPDATE grants SET invite_hash = $1 WHERE patient_id = $2 AND id = $3 AND grantee_user_id IS NULL AND revoked_at IS NULL")
        .bind(invite_hash.to_string())
        .bind(patient.to_string())
        .bind(id.to_string())
        .execute(ex)
        .await
        .map(|r| r.rows_affected())
}

pub(crate) async fn grants_of<'e, E: Executor<'e, Database = Any>>(ex: E, patient: &str) -> sqlx::Result<Vec<GrantRow>> {
    sqlx::query_as(&format!("SELECT {GRANT_COLUMNS} FROM grants WHERE patient_id = $1 ORDER BY created_at DESC")).bind(patient.to_string()).fetch_all(ex).await
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert_grant<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    patient: &str,
    id: &str,
    email: &str,
    role: &str,
    scope: &str,
    rights: (bool, bool, bool),
    expires_at: Option<i64>,
    by: &str,
    invite_hash: &str,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO grants (patient_id, id, grantee_email, grantee_role, scope, can_comment, can_contribute, can_act_for, expires_at, revoked_at, created_by, created_at, last_used_at, invite_hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, $10, $11, NULL, $12)",
    )
    .bind(patient.to_string())
    .bind(id.to_string())
    .bind(email.to_string())
    .bind(role.to_string())
    .bind(scope.to_string())
    .bind(i64::from(rights.0))
    .bind(i64::from(rights.1))
    .bind(i64::from(rights.2))
    .bind(expires_at)
    .bind(by.to_string())
    .bind(now)
    .bind(invite_hash.to_string())
    .execute(ex)
    .await
    .map(|_| ())
}

pub(crate) async fn revoke_grant<'e, E: Executor<'e, Database = Any>>(ex: E, patient: &str, id: &str, now: i64) -> sqlx::Result<u64> {
    sqlx::query("UPDATE grants SET revoked_at = $1 WHERE patient_id = $2 AND id = $3 AND revoked_at IS NULL")
        .bind(now)
        .bind(patient.to_string())
        .bind(id.to_string())
        .execute(ex)
        .await
        .map(|r| r.rows_affected())
}

/// Locks a person's grants to a record until the transaction ends
/// (PostgreSQL; SQLite has one writer at a time anyway).
pub(crate) async fn lock_grants_of_user(conn: &mut AnyConnection, backend: crate::Backend, patient: &str, user_id: &str) -> sqlx::Result<()> {
    if backend == crate::Backend::Postgres {
        sqlx::query("SELECT id FROM grants WHERE patient_id = $1 AND grantee_user_id = $2 FOR UPDATE")
            .bind(patient.to_string())
            .bind(user_id.to_string())
            .fetch_all(conn)
            .await?;
    }
    Ok(())
}

/// Stops every grant and link that `user_id` made on the patient's behalf
/// and that is still running: what a carer acting for the patient shared
/// ends with their own access. Returns (grants, links) stopped.
pub(crate) async fn revoke_shares_made_by(conn: &mut AnyConnection, patient: &str, user_id: &str, now: i64) -> sqlx::Result<(u64, u64)> {
    let grants = sqlx::query(
        "UPDATE grants SET revoked_at = $1 WHERE patient_id = $2 AND created_by = $3 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $1)",
    )
    .bind(now)
    .bind(patient.to_string())
    .bind(user_id.to_string())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    // Links that still open: a locked or used-up one is stopped already.
    let links = sqlx::query(
        "UPDATE share_links SET revoked_at = $1 WHERE patient_id = $2 AND created_by = $3 AND revoked_at IS NULL AND expires_at > $1 \
         AND locked_at IS NULL AND NOT (single_use <> 0 AND used_at IS NOT NULL)",
    )
    .bind(now)
    .bind(patient.to_string())
    .bind(user_id.to_string())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok((grants, links))
}

/// Family carers' accepted grants that end between `now` and `horizon` and
/// whose review email has not been queued: (patient, grant, carer's account).
pub(crate) async fn carer_grants_due_review<'e, E: Executor<'e, Database = Any>>(ex: E, now: i64, horizon: i64) -> sqlx::Result<Vec<(String, String, String)>> {
    sqlx::query_as(
        "SELECT patient_id, id, grantee_user_id FROM grants WHERE grantee_role = 'carer' AND grantee_user_id IS NOT NULL \
         AND revoked_at IS NULL AND expires_at > $1 AND expires_at <= $2 AND review_notice_at IS NULL ORDER BY expires_at, id",
    )
    .bind(now)
    .bind(horizon)
    .fetch_all(ex)
    .await
}

/// Whether a review email about the patient's family carers (`carer`: about
/// that one) still tells the truth when sent: a running carer's grant whose
/// review was queued and which still ends within the horizon. Renewing
/// clears `review_notice_at`, so a renewal since it was queued says no.
pub(crate) async fn carer_review_still_due<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    patient: &str,
    carer: Option<&str>,
    now: i64,
    horizon: i64,
) -> sqlx::Result<bool> {
    sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM grants WHERE patient_id = $1 AND grantee_role = 'carer' AND grantee_user_id IS NOT NULL          AND ($2 IS NULL OR grantee_user_id = $2) AND revoked_at IS NULL AND review_notice_at IS NOT NULL AND expires_at > $3 AND expires_at <= $4",
    )
    .bind(patient.to_string())
    .bind(carer.map(str::to_string))
    .bind(now)
    .bind(horizon)
    .fetch_one(ex)
    .await
    .map(|n| n > 0)
}

/// Marks a grant's review email as queued; false when it already was.
pub(crate) async fn mark_review_notice<'e, E: Executor<'e, Database = Any>>(ex: E, patient: &str, id: &str, now: i64, horizon: i64) -> sqlx::Result<bool> {
    // Checked again: a renewal or revocation since the search wins.
    sqlx::query(
        "UPDATE grants SET review_notice_at = $1 WHERE patient_id = $2 AND id = $3 AND review_notice_at IS NULL \
         AND revoked_at IS NULL AND expires_at > $1 AND expires_at <= $4",
    )
    .bind(now)
    .bind(patient.to_string())
    .bind(id.to_string())
    .bind(horizon)
    .execute(ex)
    .await
    .map(|r| r.rows_affected() == 1)
}

#[derive(Debug, FromRow)]
pub(crate) struct ShareLinkRow {
    pub id: String,
    pub patient_id: String,
    pub name: String,
    pub scope: String,
    pub passcode_hash: Option<String>,
    pub single_use: i64,
    pub expires_at: i64,
    pub locked_at: Option<i64>,
    pub used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub created_by: String,
}

const LINK_COLUMNS: &str =
    "id, patient_id, name, scope, passcode_hash, single_use, expires_at, locked_at, used_at, revoked_at, created_at, last_used_at, created_by";

pub(crate) async fn share_link_by_id<'e, E: Executor<'e, Database = Any>>(ex: E, patient: &str, id: &str) -> sqlx::Result<Option<ShareLinkRow>> {
    sqlx::query_as(&format!("SELECT {LINK_COLUMNS} FROM share_links WHERE patient_id = $1 AND id = $2"))
        .bind(patient.to_string())
        .bind(id.to_string())
        .fetch_optional(ex)
        .await
}

pub(crate) async fn share_link_by_token_hash<'e, E: Executor<'e, Database = Any>>(ex: E, hash: &str) -> sqlx::Result<Option<ShareLinkRow>> {
    sqlx::query_as(&format!("SELECT {LINK_COLUMNS} FROM share_links WHERE token_hash = $1")).bind(hash.to_string()).fetch_optional(ex).await
}

pub(crate) async fn share_links_of<'e, E: Executor<'e, Database = Any>>(ex: E, patient: &str) -> sqlx::Result<Vec<ShareLinkRow>> {
    sqlx::query_as(&format!("SELECT {LINK_COLUMNS} FROM share_links WHERE patient_id = $1 ORDER BY created_at DESC"))
        .bind(patient.to_string())
        .fetch_all(ex)
        .await
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert_share_link<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    patient: &str,
    id: &str,
    token_hash: &str,
    name: &str,
    scope: &str,
    passcode_hash: Option<&str>,
    single_use: bool,
    expires_at: i64,
    by: &str,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO share_links (patient_id, id, token_hash, name, scope, passcode_hash, single_use, expires_at, failed_attempts, locked_at, used_at, revoked_at, created_by, created_at, last_used_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, NULL, NULL, NULL, $9, $10, NULL)",
    )
    .bind(patient.to_string())
    .bind(id.to_string())
    .bind(token_hash.to_string())
    .bind(name.to_string())
    .bind(scope.to_string())
    .bind(passcode_hash.map(str::to_string))
    .bind(i64::from(single_use))
    .bind(expires_at)
    .bind(by.to_string())
    .bind(now)
    .execute(ex)
    .await
    .map(|_| ())
}

pub(crate) async fn revoke_share_link<'e, E: Executor<'e, Database = Any>>(ex: E, patient: &str, id: &str, now: i64) -> sqlx::Result<u64> {
    sqlx::query("UPDATE share_links SET revoked_at = $1 WHERE patient_id = $2 AND id = $3 AND revoked_at IS NULL")
        .bind(now)
        .bind(patient.to_string())
        .bind(id.to_string())
        .execute(ex)
        .await
        .map(|r| r.rows_affected())
}

/// Counts a wrong passcode on a link that is not locked, locking it at
/// `limit`. Returns the new count and whether this attempt locked it; None
/// when the link was already locked (by a guess at the same moment).
pub(crate) async fn link_failed_attempt<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    patient: &str,
    id: &str,
    limit: i64,
    now: i64,
) -> sqlx::Result<Option<(i64, bool)>> {
    let row: Option<(i64, Option<i64>)> = sqlx::query_as(
        "UPDATE share_links SET failed_attempts = failed_attempts + 1, \
         locked_at = CASE WHEN failed_attempts + 1 >= $1 THEN $2 ELSE locked_at END \
         WHERE patient_id = $3 AND id = $4 AND locked_at IS NULL RETURNING failed_attempts, locked_at",
    )
    .bind(limit)
    .bind(now)
    .bind(patient.to_string())
    .bind(id.to_string())
    .fetch_optional(ex)
    .await?;
    Ok(row.map(|(attempts, locked)| (attempts, locked.is_some())))
}

/// Marks a link opened. For a single-use link only the first opening counts:
/// returns false when someone else already used it.
pub(crate) async fn link_opened<'e, E: Executor<'e, Database = Any>>(ex: E, patient: &str, id: &str, now: i64) -> sqlx::Result<bool> {
    sqlx::query(
        "UPDATE share_links SET used_at = COALESCE(used_at, $1), last_used_at = $1 WHERE patient_id = $2 AND id = $3 AND (single_use = 0 OR used_at IS NULL)",
    )
    .bind(now)
    .bind(patient.to_string())
    .bind(id.to_string())
    .execute(ex)
    .await
    .map(|r| r.rows_affected() == 1)
}

pub(crate) async fn insert_notification<'e, E: Executor<'e, Database = Any>>(ex: E, patient: &str, id: &str, message: &str, now: i64) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO notifications (patient_id, id, message, created_at, read_at) VALUES ($1, $2, $3, $4, NULL)")
        .bind(patient.to_string())
        .bind(id.to_string())
        .bind(message.to_string())
        .bind(now)
        .execute(ex)
        .await
        .map(|_| ())
}

pub(crate) async fn notifications_of<'e, E: Executor<'e, Database = Any>>(ex: E, patient: &str) -> sqlx::Result<Vec<(String, i64)>> {
    sqlx::query_as("SELECT message, created_at FROM notifications WHERE patient_id = $1 ORDER BY created_at DESC LIMIT 20")
        .bind(patient.to_string())
        .fetch_all(ex)
        .await
}

pub(crate) async fn set_entry_label<'e, E: Executor<'e, Database = Any>>(ex: E, patient: &str, id: &str, label: &str, now: i64) -> sqlx::Result<u64> {
    sqlx::query("UPDATE entries SET label = $1, updated_at = $2 WHERE patient_id = $3 AND id = $4")
        .bind(label.to_string())
        .bind(now)
        .bind(patient.to_string())
        .bind(id.to_string())
        .execute(ex)
        .await
        .map(|r| r.rows_affected())
}

/// Labels every entry from one source; private entries too only with
/// `with_private` (someone who may not see them must not unlabel them).
pub(crate) async fn set_source_label<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    patient: &str,
    source: &str,
    label: &str,
    now: i64,
    with_private: bool,
) -> sqlx::Result<u64> {
    sqlx::query(
        "UPDATE entries SET label = $1, updated_at = $2 WHERE patient_id = $3 AND id IN (SELECT entry_id FROM entry_sources WHERE patient_id = $3 AND source_id = $4) \
         AND ($5 = 1 OR label <> 'private')",
    )
    .bind(label.to_string())
    .bind(now)
    .bind(patient.to_string())
    .bind(source.to_string())
    .bind(i64::from(with_private))
    .execute(ex)
    .await
    .map(|r| r.rows_affected())
}

//! SQL for the email outbox (see `crate::mail`).

use sqlx::{Any, AnyConnection, AnyPool, Executor, FromRow};

/// One email waiting to be sent.
#[derive(Debug, FromRow)]
pub(crate) struct DueMail {
    pub patient_id: String,
    pub id: String,
    pub kind: String,
    pub created_at: i64,
    pub attempts: i64,
    pub next_attempt_at: i64,
    /// A family carer acting for the patient; None: the record's owner.
    pub recipient_user_id: Option<String>,
}

/// Queues an email for the record's owner (`recipient` None) or for a
/// family carer acting for them.
pub(crate) async fn enqueue_mail(conn: &mut AnyConnection, patient: &str, id: &str, kind: &str, recipient: Option<&str>, now: i64) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO mail_outbox (patient_id, id, kind, created_at, next_attempt_at, attempts, recipient_user_id) VALUES ($1, $2, $3, $4, $4, 0, $5)")
        .bind(patient.to_string())
        .bind(id.to_string())
        .bind(kind.to_string())
        .bind(now)
        .bind(recipient.map(str::to_string))
        .execute(conn)
        .await
        .map(|_| ())
}

/// The accounts of the family carers who act for the patient now (an
/// accepted grant to act for her that has not ended, held by a carer's
/// account: the policy lets no other role act for her).
pub(crate) async fn acting_carers<'e, E: Executor<'e, Database = Any>>(ex: E, patient: &str, now: i64) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT DISTINCT g.grantee_user_id FROM grants g JOIN users u ON u.id = g.grantee_user_id \
         WHERE g.patient_id = $1 AND g.can_act_for <> 0 AND u.role = 'carer' \
         AND g.revoked_at IS NULL AND (g.expires_at IS NULL OR g.expires_at > $2) ORDER BY g.grantee_user_id",
    )
    .bind(patient.to_string())
    .bind(now)
    .fetch_all(ex)
    .await
}

/// Emails due by `now`, oldest first (across all records: the sender's own query).
pub(crate) async fn due_mail(pool: &AnyPool, now: i64, limit: i64) -> sqlx::Result<Vec<DueMail>> {
    sqlx::query_as(
        "SELECT patient_id, id, kind, created_at, attempts, next_attempt_at, recipient_user_id FROM mail_outbox \
         WHERE sent_at IS NULL AND gave_up_at IS NULL AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Takes an email for sending until `until`; false when another sender took it first.
pub(crate) async fn claim_mail(pool: &AnyPool, m: &DueMail, until: i64) -> sqlx::Result<bool> {
    let r = sqlx::query(
        "UPDATE mail_outbox SET next_attempt_at = $3 WHERE patient_id = $1 AND id = $2 AND next_attempt_at = $4 AND sent_at IS NULL AND gave_up_at IS NULL",
    )
    .bind(&m.patient_id)
    .bind(&m.id)
    .bind(until)
    .bind(m.next_attempt_at)
    .execute(pool)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub(crate) async fn mail_sent(pool: &AnyPool, m: &DueMail, now: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE mail_outbox SET sent_at = $3, attempts = attempts + 1, last_error = NULL WHERE patient_id = $1 AND id = $2")
        .bind(&m.patient_id)
        .bind(&m.id)
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ())
}

pub(crate) async fn mail_failed(pool: &AnyPool, m: &DueMail, retry_at: i64, error: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE mail_outbox SET attempts = attempts + 1, next_attempt_at = $3, last_error = $4 WHERE patient_id = $1 AND id = $2")
        .bind(&m.patient_id)
        .bind(&m.id)
        .bind(retry_at)
        .bind(error.to_string())
        .execute(pool)
        .await
        .map(|_| ())
}

pub(crate) async fn give_up_mail(pool: &AnyPool, m: &DueMail, now: i64, error: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE mail_outbox SET gave_up_at = $3, last_error = $4 WHERE patient_id = $1 AND id = $2")
        .bind(&m.patient_id)
        .bind(&m.id)
        .bind(now)
        .bind(error.to_string())
        .execute(pool)
        .await
        .map(|_| ())
}

/// Where an account's notice emails go.
#[derive(Debug, FromRow)]
pub(crate) struct NoticeAddress {
    pub name: String,
    pub email: String,
    /// Wants notice emails (1) or not (0).
    pub notice_emails: i64,
    /// None: not confirmed, so nothing is sent to it.
    pub email_confirmed_at: Option<i64>,
}

pub(crate) async fn user_email<'e, E: Executor<'e, Database = Any>>(ex: E, user_id: &str) -> sqlx::Result<Option<NoticeAddress>> {
    sqlx::query_as("SELECT name, email, notice_emails, email_confirmed_at FROM users WHERE id = $1").bind(user_id.to_string()).fetch_optional(ex).await
}

/// Turns an account's notice emails on or off: a patient's about their own
/// record, a family carer's about every record they act for.
pub(crate) async fn set_notice_emails<'e, E: Executor<'e, Database = Any>>(ex: E, user_id: &str, on: bool) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET notice_emails = $1 WHERE id = $2").bind(i64::from(on)).bind(user_id.to_string()).execute(ex).await.map(|_| ())
}

//! SQL for comments and the care plan.

use sqlx::{AnyConnection, FromRow};

#[derive(Debug, Clone, FromRow)]
pub(crate) struct CommentRow {
    pub id: String,
    pub entry_id: String,
    pub author_key: String,
    pub author_name: String,
    pub author_role: String,
    pub author_org: String,
    pub on_behalf_of: Option<String>,
    pub body: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub hidden_at: Option<i64>,
}

const COMMENT_COLUMNS: &str = "id, entry_id, author_key, author_name, author_role, author_org, on_behalf_of, body, version, created_at, updated_at, hidden_at";

pub(crate) struct NewComment<'a> {
    pub id: &'a str,
    pub entry_id: &'a str,
    pub author_key: &'a str,
    pub author_name: &'a str,
    pub author_role: &'a str,
    pub author_org: &'a str,
    pub on_behalf_of: Option<&'a str>,
    pub body: &'a str,
    pub now: i64,
}

pub(crate) async fn insert_comment(conn: &mut AnyConnection, patient: &str, c: &NewComment<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO comments (patient_id, id, entry_id, author_key, author_name, author_role, author_org, on_behalf_of, body, version, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $10)",
    )
    .bind(patient.to_string())
    .bind(c.id.to_string())
    .bind(c.entry_id.to_string())
    .bind(c.author_key.to_string())
    .bind(c.author_name.to_string())
    .bind(c.author_role.to_string())
    .bind(c.author_org.to_string())
    .bind(c.on_behalf_of.map(str::to_string))
    .bind(c.body.to_string())
    .bind(c.now)
    .execute(&mut *conn)
    .await?;
    insert_comment_version(conn, patient, c.id, 1, c.body, c.now).await
}

async fn insert_comment_version(conn: &mut AnyConnection, patient: &str, id: &str, version: i64, body: &str, at: i64) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO comment_versions (patient_id, comment_id, version, body, at) VALUES ($1, $2, $3, $4, $5)")
        .bind(patient.to_string())
        .bind(id.to_string())
        .bind(version)
        .bind(body.to_string())
        .bind(at)
        .execute(conn)
        .await
        .map(|_| ())
}

pub(crate) async fn comment(conn: &mut AnyConnection, patient: &str, id: &str) -> sqlx::Result<Option<CommentRow>> {
    sqlx::query_as(&format!("SELECT {COMMENT_COLUMNS} FROM comments WHERE patient_id = $1 AND id = $2"))
        .bind(patient.to_string())
        .bind(id.to_string())
        .fetch_optional(conn)
        .await
}

pub(crate) async fn comments_on(conn: &mut AnyConnection, patient: &str, entry_id: &str) -> sqlx::Result<Vec<CommentRow>> {
    sqlx::query_as(&format!("SELECT {COMMENT_COLUMNS} FROM comments WHERE patient_id = $1 AND entry_id = $2 ORDER BY created_at, id"))
        .bind(patient.to_string())
        .bind(entry_id.to_string())
        .fetch_all(conn)
        .await
}

pub(crate) async fn comment_versions(conn: &mut AnyConnection, patient: &str, entry_id: &str) -> sqlx::Result<Vec<(String, i64, String, i64)>> {
    sqlx::query_as(
        "SELECT v.comment_id, v.version, v.body, v.at FROM comment_versions v JOIN comments c ON c.patient_id = v.patient_id AND c.id = v.comment_id \
         WHERE v.patient_id = $1 AND c.entry_id = $2 ORDER BY v.comment_id, v.version",
    )
    .bind(patient.to_string())
    .bind(entry_id.to_string())
    .fetch_all(conn)
    .await
}

pub(crate) async fn edit_comment(conn: &mut AnyConnection, patient: &str, id: &str, version: i64, body: &str, now: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE comments SET body = $3, version = $4, updated_at = $5 WHERE patient_id = $1 AND id = $2")
        .bind(patient.to_string())
        .bind(id.to_string())
        .bind(body.to_string())
        .bind(version)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    insert_comment_version(conn, patient, id, version, body, now).await
}

pub(crate) async fn set_comment_hidden(conn: &mut AnyConnection, patient: &str, id: &str, hidden: Option<i64>, by: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE comments SET hidden_at = $3, hidden_by = $4 WHERE patient_id = $1 AND id = $2")
        .bind(patient.to_string())
        .bind(id.to_string())
        .bind(hidden)
        .bind(by.to_string())
        .execute(conn)
        .await
        .map(|_| ())
}

#[derive(Debug, Clone, FromRow)]
pub(crate) struct PlanRow {
    pub id: String,
    pub section: String,
    pub fields: String,
    pub version: i64,
    pub author_name: String,
    pub author_role: String,
    pub author_org: String,
    pub on_behalf_of: Option<String>,
    pub updated_at: i64,
    pub removed_at: Option<i64>,
}

const PLAN_COLUMNS: &str = "id, section, fields, version, author_name, author_role, author_org, on_behalf_of, created_at, updated_at, removed_at";

pub(crate) struct PlanWrite<'a> {
    pub id: &'a str,
    pub section: &'a str,
    pub fields: &'a str,
    pub version: i64,
    pub author_name: &'a str,
    pub author_role: &'a str,
    pub author_org: &'a str,
    pub on_behalf_of: Option<&'a str>,
    pub removed: bool,
    pub now: i64,
}

/// Writes an item's new state (insert or update) and its version row.
pub(crate) async fn write_plan_item(conn: &mut AnyConnection, patient: &str, w: &PlanWrite<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO care_plan_items (patient_id, id, section, fields, version, author_name, author_role, author_org, on_behalf_of, created_at, updated_at, removed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11) \
         ON CONFLICT (patient_id, id) DO UPDATE SET fields = $4, version = $5, author_name = $6, author_role = $7, author_org = $8, on_behalf_of = $9, updated_at = $10, removed_at = $11",
    )
    .bind(patient.to_string())
    .bind(w.id.to_string())
    .bind(w.section.to_string())
    .bind(w.fields.to_string())
    .bind(w.version)
    .bind(w.author_name.to_string())
    .bind(w.author_role.to_string())
    .bind(w.author_org.to_string())
    .bind(w.on_behalf_of.map(str::to_string))
    .bind(w.now)
    .bind(w.removed.then_some(w.now))
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO care_plan_versions (patient_id, item_id, version, section, fields, removed, author_name, author_role, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(patient.to_string())
    .bind(w.id.to_string())
    .bind(w.version)
    .bind(w.section.to_string())
    .bind(w.fields.to_string())
    .bind(w.removed as i64)
    .bind(w.author_name.to_string())
    .bind(w.author_role.to_string())
    .bind(w.now)
    .execute(conn)
    .await
    .map(|_| ())
}

pub(crate) async fn plan_item(conn: &mut AnyConnection, patient: &str, id: &str) -> sqlx::Result<Option<PlanRow>> {
    sqlx::query_as(&format!("SELECT {PLAN_COLUMNS} FROM care_plan_items WHERE patient_id = $1 AND id = $2"))
        .bind(patient.to_string())
        .bind(id.to_string())
        .fetch_optional(conn)
        .await
}

pub(crate) async fn plan_items(conn: &mut AnyConnection, patient: &str) -> sqlx::Result<Vec<PlanRow>> {
    sqlx::query_as(&format!("SELECT {PLAN_COLUMNS} FROM care_plan_items WHERE patient_id = $1 AND removed_at IS NULL ORDER BY created_at, id"))
        .bind(patient.to_string())
        .fetch_all(conn)
        .await
}

#[derive(Debug, Clone, FromRow)]
pub(crate) struct PlanVersionRow {
    pub item_id: String,
    pub section: String,
    pub fields: String,
    pub removed: i64,
    pub author_name: String,
    pub author_role: String,
    pub at: i64,
}

pub(crate) async fn plan_versions(conn: &mut AnyConnection, patient: &str) -> sqlx::Result<Vec<PlanVersionRow>> {
    sqlx::query_as(
        "SELECT item_id, version, section, fields, removed, author_name, author_role, at FROM care_plan_versions WHERE patient_id = $1 ORDER BY item_id, version",
    )
    .bind(patient.to_string())
    .fetch_all(conn)
    .await
}

pub(crate) async fn insert_review(conn: &mut AnyConnection, patient: &str, id: &str, at: i64, by: &str, next: Option<&str>) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO care_plan_reviews (patient_id, id, reviewed_at, reviewed_by, next_review) VALUES ($1, $2, $3, $4, $5)")
        .bind(patient.to_string())
        .bind(id.to_string())
        .bind(at)
        .bind(by.to_string())
        .bind(next.map(str::to_string))
        .execute(conn)
        .await
        .map(|_| ())
}

/// The latest review: (when, by, next review date).
pub(crate) async fn last_review(conn: &mut AnyConnection, patient: &str) -> sqlx::Result<Option<(i64, String, Option<String>)>> {
    sqlx::query_as("SELECT reviewed_at, reviewed_by, next_review FROM care_plan_reviews WHERE patient_id = $1 ORDER BY reviewed_at DESC, id DESC LIMIT 1")
        .bind(patient.to_string())
        .fetch_optional(conn)
        .await
}

//! SQL for the access log (see `crate::audit` for what it means).

use sqlx::any::AnyArguments;
use sqlx::{Any, AnyConnection, Arguments, Executor, FromRow};

use crate::db::Backend;

/// One row of `audit_events`, exactly as stored (the hash covers these).
#[derive(Clone, Debug, FromRow)]
pub(crate) struct AuditRow {
    pub patient_id: String,
    pub seq: i64,
    pub at: i64,
    pub action: String,
    pub what: String,
    pub entries: String,
    pub labels: String,
    pub actor_key: String,
    pub actor_name: String,
    pub actor_role: String,
    pub actor_org: String,
    pub via: String,
    pub via_id: Option<String>,
    pub reason: Option<String>,
    pub on_behalf_of: Option<String>,
    pub address: String,
    pub user_agent: String,
    pub prev_hash: String,
    pub hash: String,
    /// How `hash` is computed (`crate::audit::row_hash`): 1 or 2.
    pub hash_version: i64,
}

const COLUMNS: &str = "patient_id, seq, at, action, what, entries, labels, actor_key, actor_name, actor_role, actor_org, \
                       via, via_id, reason, on_behalf_of, address, user_agent, prev_hash, hash, hash_version";

/// Takes the patient's chain head for this transaction (creating it for a
/// record's first event). On SQLite it must be the transaction's first
/// statement: it takes the write lock before anything is read, so the
/// transaction never has to upgrade a stale read snapshot. On PostgreSQL it
/// locks the head row, serialising appends to one chain; writes take it
/// first, page views only when they need it before their append (see
/// `Kith::audited_view`).
pub(crate) async fn lock_head(conn: &mut AnyConnection, patient_id: &str) -> sqlx::Result<(i64, String)> {
    sqlx::query_as(
        "INSERT INTO audit_heads (patient_id, seq, hash) VALUES ($1, 0, '') \
         ON CONFLICT (patient_id) DO UPDATE SET seq = audit_heads.seq RETURNING seq, hash",
    )
    .bind(patient_id.to_string())
    .fetch_one(conn)
    .await
}

/// Appends `r` (its content made by `crate::audit`) at the end of its
/// patient's chain, filling in `seq`, `prev_hash` and `hash` (version 2).
///
/// PostgreSQL does it in one statement: the upsert takes and locks the head
/// row, computes the new hash from the old one (`sha256` in SQL, the same
/// text as `crate::audit::chain_hash`) and the insert appends the row, so a
/// page view's log costs one statement and the commit. On SQLite, whose
/// transaction already holds the write lock, the hash is computed here from
/// `held`, the head as this transaction last took or moved it (read again
/// when None).
pub(crate) async fn append(conn: &mut AnyConnection, backend: Backend, held: Option<(i64, String)>, r: &mut AuditRow) -> sqlx::Result<()> {
    let content = crate::audit::content_digest(r);
    r.hash_version = 2;
    if backend == Backend::Postgres {
        // $2 is the content digest; the head gives seq, prev_hash and hash.
        let (seq, prev_hash, hash): (i64, String, String) = sqlx::query_as_with(
            "WITH h AS ( \
               INSERT INTO audit_heads AS a (patient_id, seq, prev_hash, hash) \
               VALUES ($1, 1, '', encode(sha256(convert_to(E'\\n1\\n' || $2::text, 'UTF8')), 'hex')) \
               ON CONFLICT (patient_id) DO UPDATE SET seq = a.seq + 1, prev_hash = a.hash, \
                 hash = encode(sha256(convert_to(a.hash || E'\\n' || (a.seq + 1)::text || E'\\n' || $2::text, 'UTF8')), 'hex') \
               RETURNING seq, prev_hash, hash) \
             INSERT INTO audit_events (patient_id, seq, at, action, what, entries, labels, actor_key, actor_name, actor_role, actor_org, \
               via, via_id, reason, on_behalf_of, address, user_agent, prev_hash, hash, hash_version) \
             SELECT $1, h.seq, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, h.prev_hash, h.hash, 2 FROM h \
             RETURNING seq, prev_hash, hash",
            row_args(r, content)?,
        )
        .fetch_one(conn)
        .await?;
        (r.seq, r.prev_hash, r.hash) = (seq, prev_hash, hash);
        return Ok(());
    }
    let (seq, prev) = match held {
        Some(h) => h,
        None => lock_head(&mut *conn, &r.patient_id).await?,
    };
    r.seq = seq + 1;
    r.hash = crate::audit::chain_hash(&prev, r.seq, &content);
    r.prev_hash = prev;
    // $2 is seq; then the chain columns.
    let mut args = row_args(r, r.seq)?;
    for v in [&r.prev_hash, &r.hash] {
        args.add(v.as_str()).map_err(sqlx::Error::Encode)?;
    }
    args.add(r.hash_version).map_err(sqlx::Error::Encode)?;
    sqlx::query_with(
        &format!("INSERT INTO audit_events ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"),
        args,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE audit_heads SET seq = $2, prev_hash = $3, hash = $4 WHERE patient_id = $1")
        .bind(&r.patient_id)
        .bind(r.seq)
        .bind(&r.prev_hash)
        .bind(&r.hash)
        .execute(conn)
        .await
        .map(|_| ())
}

/// A row's patient, `second`, then its content columns from `at` to
/// `user_agent`: $1 to $17 of both append statements.
fn row_args<'q, T>(r: &'q AuditRow, second: T) -> sqlx::Result<AnyArguments<'q>>
where
    T: 'q + sqlx::Encode<'q, Any> + sqlx::Type<Any>,
{
    let mut a = AnyArguments::default();
    let enc = sqlx::Error::Encode;
    a.add(r.patient_id.as_str()).map_err(enc)?;
    a.add(second).map_err(enc)?;
    a.add(r.at).map_err(enc)?;
    for v in [&r.action, &r.what, &r.entries, &r.labels, &r.actor_key, &r.actor_name, &r.actor_role, &r.actor_org, &r.via] {
        a.add(v.as_str()).map_err(enc)?;
    }
    for v in [&r.via_id, &r.reason, &r.on_behalf_of] {
        a.add(v.as_deref()).map_err(enc)?;
    }
    a.add(r.address.as_str()).map_err(enc)?;
    a.add(r.user_agent.as_str()).map_err(enc)?;
    Ok(a)
}

/// Whether this actor has viewed the record before, or opened it by
/// emergency access (which told the patient already).
pub(crate) async fn has_viewed(conn: &mut AnyConnection, patient_id: &str, actor_key: &str) -> sqlx::Result<bool> {
    let n: Option<i64> =
        sqlx::query_scalar("SELECT seq FROM audit_events WHERE patient_id = $1 AND actor_key = $2 AND action IN ('view', 'export', 'break-glass') LIMIT 1")
            .bind(patient_id.to_string())
            .bind(actor_key.to_string())
            .fetch_optional(conn)
            .await?;
    Ok(n.is_some())
}

/// The whole chain in order (for verification and exports), every row
/// whatever its seq (a full check must see rows moved below 1).
pub(crate) async fn chain<'e, E: Executor<'e, Database = Any>>(ex: E, patient_id: &str) -> sqlx::Result<Vec<AuditRow>> {
    chain_from(ex, patient_id, i64::MIN).await
}

/// The chain from record `from_seq` on (the Access log page's check of what
/// is new since a full check).
pub(crate) async fn chain_from<'e, E: Executor<'e, Database = Any>>(ex: E, patient_id: &str, from_seq: i64) -> sqlx::Result<Vec<AuditRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM audit_events WHERE patient_id = $1 AND seq >= $2 ORDER BY seq"))
        .bind(patient_id.to_string())
        .bind(from_seq)
        .fetch_all(ex)
        .await
}

/// How many log records lie before record `seq`, the lowest seq of them, and
/// how many checkpoints.
pub(crate) async fn counts_before<'e, E: Executor<'e, Database = Any>>(ex: E, patient_id: &str, seq: i64) -> sqlx::Result<(i64, Option<i64>, i64)> {
    sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM audit_events WHERE patient_id = $1 AND seq < $2), \
                (SELECT MIN(seq) FROM audit_events WHERE patient_id = $1), \
                (SELECT COUNT(*) FROM audit_checkpoints WHERE patient_id = $1 AND seq < $2)",
    )
    .bind(patient_id.to_string())
    .bind(seq)
    .fetch_one(ex)
    .await
}

pub(crate) async fn head<'e, E: Executor<'e, Database = Any>>(ex: E, patient_id: &str) -> sqlx::Result<Option<(i64, String)>> {
    sqlx::query_as("SELECT seq, hash FROM audit_heads WHERE patient_id = $1").bind(patient_id.to_string()).fetch_optional(ex).await
}

pub(crate) async fn heads<'e, E: Executor<'e, Database = Any>>(ex: E) -> sqlx::Result<Vec<(String, i64, String)>> {
    sqlx::query_as("SELECT patient_id, seq, hash FROM audit_heads WHERE seq > 0 ORDER BY patient_id").fetch_all(ex).await
}

/// Other people's views and downloads: what "who has seen this" counts,
/// written exactly as migration 0016's partial index is, so both planners
/// can use it.
pub(crate) const SEEN_BY_OTHERS: &str = "via NOT IN ('own', 'preview') AND action IN ('view', 'export')";

/// Filters for the access log page; empty strings mean "any".
#[derive(Debug, Default)]
pub(crate) struct AuditFilter {
    pub actor_key: Option<String>,
    pub organisation: Option<String>,
    pub action: Option<String>,
    /// Matches rows whose labels JSON holds this label.
    pub label: Option<String>,
    pub from_ms: Option<i64>,
    pub before_ms: Option<i64>,
    /// Rows whose entries JSON holds this entry id.
    pub entry: Option<String>,
    /// Only other people's views and downloads (`SEEN_BY_OTHERS`).
    pub others_views_only: bool,
    /// Cursor: rows with seq below this.
    pub before_seq: Option<i64>,
}

pub(crate) async fn events_page(conn: &mut AnyConnection, patient_id: &str, f: &AuditFilter, limit: i64) -> sqlx::Result<Vec<AuditRow>> {
    let (sql, args, ints) = events_sql(f, limit);
    let mut q = sqlx::query_as::<_, AuditRow>(&sql).bind(patient_id.to_string());
    for a in args {
        q = q.bind(a);
    }
    for i in ints {
        q = q.bind(i);
    }
    q.fetch_all(conn).await
}

/// The query `events_page` runs ($1 the patient), its text binds and then
/// its number binds.
fn events_sql(f: &AuditFilter, limit: i64) -> (String, Vec<String>, Vec<i64>) {
    let mut sql = format!("SELECT {COLUMNS} FROM audit_events WHERE patient_id = $1");
    let mut args: Vec<String> = Vec::new();
    let mut n = 1;
    let mut text = |sql: &mut String, clause: &str, v: String| {
        n += 1;
        sql.push_str(&clause.replace("$?", &format!("${n}")));
        args.push(v);
    };
    if let Some(v) = &f.actor_key {
        text(&mut sql, " AND actor_key = $?", v.clone());
    }
    if let Some(v) = &f.organisation {
        text(&mut sql, " AND actor_org = $?", v.clone());
    }
    if let Some(v) = &f.action {
        text(&mut sql, " AND action = $?", v.clone());
    }
    if let Some(v) = &f.label {
        text(&mut sql, " AND labels LIKE $?", format!("%\"{v}\"%"));
    }
    if let Some(v) = &f.entry {
        text(&mut sql, " AND entries LIKE $?", format!("%\"{v}\"%"));
    }
    if f.others_views_only {
        sql.push_str(" AND ");
        sql.push_str(SEEN_BY_OTHERS);
    }
    let mut ints: Vec<i64> = Vec::new();
    for (clause, v) in [(" AND at >= $?", f.from_ms), (" AND at < $?", f.before_ms), (" AND seq < $?", f.before_seq)] {
        if let Some(v) = v {
            n += 1;
            sql.push_str(&clause.replace("$?", &format!("${n}")));
            ints.push(v);
        }
    }
    sql.push_str(&format!(" ORDER BY seq DESC LIMIT {}", limit.max(1)));
    (sql, args, ints)
}

/// Everyone who appears in the log, and every organisation, for the filters.
pub(crate) async fn people(conn: &mut AnyConnection, patient_id: &str) -> sqlx::Result<Vec<(String, String, String, String)>> {
    sqlx::query_as(
        "SELECT actor_key, MAX(actor_name), MAX(actor_role), MAX(actor_org) FROM audit_events WHERE patient_id = $1 \
         GROUP BY actor_key ORDER BY MAX(actor_name)",
    )
    .bind(patient_id.to_string())
    .fetch_all(conn)
    .await
}

/// Records that `user_id` read the log up to `seq`; returns the seq they had
/// seen before (0 the first time).
/// Where `user_id` last left the patient's Access log (the first record
/// then unseen), and, with `now_at`, moves that mark to `now_at`.
pub(crate) async fn log_visit(conn: &mut AnyConnection, patient_id: &str, user_id: &str, now_at: Option<i64>) -> sqlx::Result<i64> {
    let before: Option<i64> = sqlx::query_scalar("SELECT seen_seq FROM audit_log_visits WHERE patient_id = $1 AND user_id = $2")
        .bind(patient_id.to_string())
        .bind(user_id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    if let Some(seq) = now_at {
        sqlx::query(
            "INSERT INTO audit_log_visits (patient_id, user_id, seen_seq, previous_seq) VALUES ($1, $2, $3, 0) \
             ON CONFLICT (patient_id, user_id) DO UPDATE SET previous_seq = audit_log_visits.seen_seq, seen_seq = $3",
        )
        .bind(patient_id.to_string())
        .bind(user_id.to_string())
        .bind(seq)
        .execute(conn)
        .await?;
    }
    Ok(before.unwrap_or(0))
}

#[derive(Debug, FromRow)]
pub(crate) struct CheckpointRow {
    pub patient_id: String,
    pub seq: i64,
    pub hash: String,
    pub signed_at: i64,
    pub public_key: String,
    pub signature: String,
}

pub(crate) async fn insert_checkpoint<'e, E: Executor<'e, Database = Any>>(ex: E, c: &CheckpointRow) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO audit_checkpoints (patient_id, seq, hash, signed_at, public_key, signature) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (patient_id, seq) DO NOTHING",
    )
    .bind(c.patient_id.clone())
    .bind(c.seq)
    .bind(c.hash.clone())
    .bind(c.signed_at)
    .bind(c.public_key.clone())
    .bind(c.signature.clone())
    .execute(ex)
    .await
    .map(|_| ())
}

pub(crate) async fn checkpoints<'e, E: Executor<'e, Database = Any>>(ex: E, patient_id: &str) -> sqlx::Result<Vec<CheckpointRow>> {
    checkpoints_from(ex, patient_id, i64::MIN).await
}

/// The checkpoints at record `from_seq` and after.
pub(crate) async fn checkpoints_from<'e, E: Executor<'e, Database = Any>>(ex: E, patient_id: &str, from_seq: i64) -> sqlx::Result<Vec<CheckpointRow>> {
    sqlx::query_as("SELECT patient_id, seq, hash, signed_at, public_key, signature FROM audit_checkpoints WHERE patient_id = $1 AND seq >= $2 ORDER BY seq")
        .bind(patient_id.to_string())
        .bind(from_seq)
        .fetch_all(ex)
        .await
}

pub(crate) async fn last_checkpoint_seq<'e, E: Executor<'e, Database = Any>>(ex: E, patient_id: &str) -> sqlx::Result<i64> {
    let n: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM audit_checkpoints WHERE patient_id = $1").bind(patient_id.to_string()).fetch_one(ex).await?;
    Ok(n.unwrap_or(0))
}

/// Every patient id (for `kith audit verify` over all chains).
pub(crate) async fn all_patients<'e, E: Executor<'e, Database = Any>>(ex: E) -> sqlx::Result<Vec<(String, String)>> {
    sqlx::query_as("SELECT id, nhs_number FROM patients ORDER BY nhs_number").fetch_all(ex).await
}

/// When each grant or link was last used, from the log: (grant or link id, time).
pub(crate) async fn last_use_by_share<'e, E: Executor<'e, Database = Any>>(ex: E, patient_id: &str) -> sqlx::Result<Vec<(String, i64)>> {
    sqlx::query_as(
        "SELECT via_id, MAX(at) FROM audit_events WHERE patient_id = $1 AND via IN ('grant', 'act-for', 'link') AND via_id IS NOT NULL GROUP BY via_id",
    )
    .bind(patient_id.to_string())
    .fetch_all(ex)
    .await
}

// ---- break-glass ----

pub(crate) async fn insert_break_glass<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    patient_id: &str,
    id: &str,
    user_id: &str,
    reason: &str,
    now: i64,
    expires_at: i64,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO break_glass (patient_id, id, user_id, reason, started_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(patient_id.to_string())
        .bind(id.to_string())
        .bind(user_id.to_string())
        .bind(reason.to_string())
        .bind(now)
        .bind(expires_at)
        .execute(ex)
        .await
        .map(|_| ())
}

/// The user's current emergency access to this record: (id, reason).
pub(crate) async fn active_break_glass<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    patient_id: &str,
    user_id: &str,
    now: i64,
) -> sqlx::Result<Option<(String, String)>> {
    sqlx::query_as("SELECT id, reason FROM break_glass WHERE patient_id = $1 AND user_id = $2 AND expires_at > $3 ORDER BY started_at DESC LIMIT 1")
        .bind(patient_id.to_string())
        .bind(user_id.to_string())
        .bind(now)
        .fetch_optional(ex)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestDb;
    use crate::Backend;

    /// "Who has seen this" can use migration 0016's partial index: with the
    /// other indexes that could serve it dropped (in a transaction rolled
    /// back) and PostgreSQL told to avoid table scans, its plan names the
    /// index. This fails if `SEEN_BY_OTHERS` and the migration drift apart.
    async fn seen_by_can_use_its_partial_index(db: &TestDb) {
        let backend = db.kith.db.backend();
        let mut tx = db.owner_tx().await;
        sqlx::query("DROP INDEX audit_events_by_actor").execute(&mut *tx).await.unwrap();
        if backend == Backend::Postgres {
            sqlx::query("SET LOCAL enable_seqscan = off").execute(&mut *tx).await.unwrap();
        }
        let f = AuditFilter { entry: Some("some-entry".into()), others_views_only: true, ..Default::default() };
        let (sql, args, ints) = events_sql(&f, 2000);
        assert!(ints.is_empty());
        let binds = std::iter::once("some-patient".to_string()).chain(args).collect();
        let plan = crate::testing::query_plan(&mut tx, backend, &sql, binds).await;
        assert!(plan.iter().any(|line| line.contains("audit_events_seen_by_others")), "{backend:?}:\n{}", plan.join("\n"));
        tx.rollback().await.unwrap();
    }

    crate::backend_tests!(seen_by_can_use_its_partial_index);
}

//! Bulk-loading helpers for imports (performance work).
//!
//! The statements here are batched multi-row statements with many
//! parameters. They are written with backend-specific placeholders: plain
//! anonymous `?` on SQLite and `$n` on PostgreSQL. On SQLite `$n` is a *named*
//! parameter: SQLite finds each name by a linear search when it parses the
//! statement, and sqlx asks for every parameter's name when it binds, so a
//! statement with P `$n` parameters costs O(P²) (with 4,400 parameters that
//! was over half of an import's time). Anonymous `?` parameters have no names
//! and bind in order, in O(P).
//!
//! Values are bound as borrowed `&str` where sqlx allows it, so nothing is
//! cloned just to be bound.

use std::fmt::Write as _;

use sqlx::AnyConnection;

use crate::db::Backend;

/// Rows per multi-row statement. The widest statement (entries, 16 columns)
/// then has 6,400 parameters: well under SQLite's 32,766 and PostgreSQL's
/// 65,535.
pub(crate) const BULK_ROWS: usize = 400;

/// Splits rows into statements of [`BULK_ROWS`] rows and then the rest in
/// power-of-two sizes (937 rows: 400, 400, 128, 8, 1). Each distinct
/// statement text is prepared once per connection and then reused from sqlx's
/// statement cache; with arbitrary tail sizes almost every import would
/// prepare (and cache) new texts.
pub(crate) fn batches<T>(rows: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = rows;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let n = if rest.len() >= BULK_ROWS { BULK_ROWS } else { 1 << rest.len().ilog2() };
        let (batch, after) = rest.split_at(n);
        rest = after;
        Some(batch)
    })
}

/// Writes placeholders for one backend, numbering from 1 on PostgreSQL.
pub(crate) struct Params {
    backend: Backend,
    next: usize,
}

impl Params {
    pub(crate) fn new(backend: Backend) -> Self {
        Params { backend, next: 1 }
    }

    /// One placeholder.
    pub(crate) fn one(&mut self, sql: &mut String) {
        match self.backend {
            Backend::Sqlite => sql.push('?'),
            Backend::Postgres => {
                let _ = write!(sql, "${}", self.next);
            }
        }
        self.next += 1;
    }

    /// `a,b,c` placeholders for an IN list.
    pub(crate) fn list(&mut self, sql: &mut String, count: usize) {
        for i in 0..count {
            if i > 0 {
                sql.push(',');
            }
            self.one(sql);
        }
    }

    /// `(a,b),(c,d)` placeholders for `rows` rows of `cols` values.
    pub(crate) fn rows(&mut self, sql: &mut String, rows: usize, cols: usize) {
        for r in 0..rows {
            if r > 0 {
                sql.push(',');
            }
            sql.push('(');
            self.list(sql, cols);
            sql.push(')');
        }
    }
}

/// A resource version to insert; borrows from the prepared import.
pub(crate) struct NewResource<'a> {
    pub id: &'a str,
    pub resource_type: &'a str,
    pub fhir_id: &'a str,
    pub version: i64,
    pub hash: &'a str,
    pub json: &'a str,
}

/// A merged entry to insert.
pub(crate) struct NewEntry<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    pub merge_key: &'a str,
    pub text: &'a str,
    pub date: Option<&'a str>,
    pub status: Option<&'a str>,
    pub label: &'a str,
    pub codes: &'a str,
    pub value: Option<&'a str>,
    /// As text: sqlx's Any driver cannot bind NULL floats for PostgreSQL.
    pub numeric: Option<String>,
    pub unit: Option<&'a str>,
    pub disagreement: i64,
}

/// A link from an entry to the resource that states it.
pub(crate) struct NewLink<'a> {
    pub entry_id: &'a str,
    pub resource_type: &'a str,
    pub fhir_id: &'a str,
    pub resource_id: &'a str,
    pub fact: &'a str,
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn bulk_insert_resources(
    conn: &mut AnyConnection,
    backend: Backend,
    patient: &str,
    source: &str,
    import_id: &str,
    now: i64,
    rows: &[NewResource<'_>],
) -> sqlx::Result<()> {
    for chunk in batches(rows) {
        let mut sql = String::from(
            "INSERT INTO resources (patient_id, id, source_id, resource_type, fhir_id, version, current, hash, json, import_id, received_at) VALUES ",
        );
        Params::new(backend).rows(&mut sql, chunk.len(), 11);
        let mut q = sqlx::query(&sql);
        for r in chunk {
            q = q
                .bind(patient)
                .bind(r.id)
                .bind(source)
                .bind(r.resource_type)
                .bind(r.fhir_id)
                .bind(r.version)
                .bind(1_i64)
                .bind(r.hash)
                .bind(r.json)
                .bind(import_id)
                .bind(now);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

pub(crate) async fn bulk_mark_superseded(conn: &mut AnyConnection, backend: Backend, patient: &str, ids: &[&str]) -> sqlx::Result<()> {
    for chunk in batches(ids) {
        let mut p = Params::new(backend);
        let mut sql = String::from("UPDATE resources SET current = 0 WHERE patient_id = ");
        p.one(&mut sql);
        sql.push_str(" AND id IN (");
        p.list(&mut sql, chunk.len());
        sql.push(')');
        let mut q = sqlx::query(&sql).bind(patient);
        for id in chunk {
            q = q.bind(*id);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// `(merge_key, entry id)` for those of `keys` (distinct) that have an entry.
pub(crate) async fn bulk_entries_by_keys(conn: &mut AnyConnection, backend: Backend, patient: &str, keys: &[&str]) -> sqlx::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for chunk in batches(keys) {
        let mut p = Params::new(backend);
        let mut sql = String::from("SELECT merge_key, id FROM entries WHERE patient_id = ");
        p.one(&mut sql);
        sql.push_str(" AND merge_key IN (");
        p.list(&mut sql, chunk.len());
        sql.push(')');
        let mut q = sqlx::query_as::<_, (String, String)>(&sql).bind(patient);
        for k in chunk {
            q = q.bind(*k);
        }
        out.extend(q.fetch_all(&mut *conn).await?);
    }
    Ok(out)
}

/// Removes the links of these `(resource type, id)`s of one source; returns
/// `(resource type, id, entry)` for each link removed.
pub(crate) async fn bulk_unlink(
    conn: &mut AnyConnection,
    backend: Backend,
    patient: &str,
    source: &str,
    keys: &[(&str, &str)],
) -> sqlx::Result<Vec<(String, String, String)>> {
    let mut entries = Vec::new();
    for chunk in batches(keys) {
        // A row-value IN over the primary key (patient_id, source_id,
        // resource_type, fhir_id): one indexed probe per key on both backends.
        let mut p = Params::new(backend);
        let mut sql = String::from("DELETE FROM entry_sources WHERE patient_id = ");
        p.one(&mut sql);
        sql.push_str(" AND source_id = ");
        p.one(&mut sql);
        sql.push_str(" AND (resource_type, fhir_id) IN (VALUES ");
        p.rows(&mut sql, chunk.len(), 2);
        sql.push_str(") RETURNING resource_type, fhir_id, entry_id");
        let mut q = sqlx::query_as::<_, (String, String, String)>(&sql).bind(patient).bind(source);
        for (t, id) in chunk {
            q = q.bind(*t).bind(*id);
        }
        entries.extend(q.fetch_all(&mut *conn).await?);
    }
    Ok(entries)
}

/// Of these entries, those no source states any more, with their labels.
pub(crate) async fn bulk_unstated_entries(
    conn: &mut AnyConnection,
    backend: Backend,
    patient: &str,
    ids: &[&str],
) -> sqlx::Result<Vec<(String, String, String)>> {
    let mut out = Vec::new();
    for chunk in batches(ids) {
        let mut p = Params::new(backend);
        let mut sql = String::from("SELECT e.id, e.label, e.kind FROM entries e WHERE e.patient_id = ");
        p.one(&mut sql);
        sql.push_str(" AND e.id IN (");
        p.list(&mut sql, chunk.len());
        sql.push_str(") AND NOT EXISTS (SELECT 1 FROM entry_sources s WHERE s.patient_id = e.patient_id AND s.entry_id = e.id)");
        let mut q = sqlx::query_as::<_, (String, String, String)>(&sql).bind(patient);
        for id in chunk {
            q = q.bind(*id);
        }
        out.extend(q.fetch_all(&mut *conn).await?);
    }
    Ok(out)
}

/// An entry whose only source amended its fact so that it is now another
/// fact of the same kind and privacy (a corrected code or value): it takes
/// the new fact and key, and keeps its id, so its comments, shares of it and
/// care-plan links stay. (One that changes kind or label becomes a new
/// entry instead: a share of the old one must not start showing it.)
/// Its label is never loosened: a private entry stays private, and a label
/// the patient chose stays unless the new fact has a label of its own.
pub(crate) async fn rekey_entry(conn: &mut AnyConnection, patient: &str, e: &NewEntry<'_>, now: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE entries SET kind = $1, merge_key = $2, text = $3, date = $4, status = $5, \
         label = CASE WHEN label = 'private' OR $6 = 'general' THEN label ELSE $6 END, \
         codes = $7, value = $8, numeric = $9, unit = $10, updated_at = $11, search_text = $14 WHERE patient_id = $12 AND id = $13",
    )
    .bind(e.kind)
    .bind(e.merge_key)
    .bind(e.text)
    .bind(e.date)
    .bind(e.status)
    .bind(e.label)
    .bind(e.codes)
    .bind(e.value)
    .bind(e.numeric.clone())
    .bind(e.unit)
    .bind(now)
    .bind(patient)
    .bind(e.id)
    .bind(crate::search::fold(e.text))
    .execute(&mut *conn)
    .await
    .map(|_| ())
}

/// An entry that stops being stated because its fact merged into another
/// entry hands that entry its comments, and its label if it was stricter.
pub(crate) async fn carry_over_entry(conn: &mut AnyConnection, patient: &str, from: &str, from_label: &str, to: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE comments SET entry_id = $1 WHERE patient_id = $2 AND entry_id = $3").bind(to).bind(patient).bind(from).execute(&mut *conn).await?;
    sqlx::query("UPDATE entries SET label = $1 WHERE patient_id = $2 AND id = $3 AND label <> 'private' AND ($1 = 'private' OR label = 'general')")
        .bind(from_label)
        .bind(patient)
        .bind(to)
        .execute(&mut *conn)
        .await
        .map(|_| ())
}

pub(crate) async fn bulk_insert_entries(conn: &mut AnyConnection, backend: Backend, patient: &str, now: i64, rows: &[NewEntry<'_>]) -> sqlx::Result<()> {
    for chunk in batches(rows) {
        let mut sql = String::from(
            "INSERT INTO entries (patient_id, id, kind, merge_key, text, date, status, label, codes, value, numeric, unit, disagreement, created_at, updated_at, search_text) VALUES ",
        );
        Params::new(backend).rows(&mut sql, chunk.len(), 16);
        let mut q = sqlx::query(&sql);
        for r in chunk {
            q = q
                .bind(patient)
                .bind(r.id)
                .bind(r.kind)
                .bind(r.merge_key)
                .bind(r.text)
                .bind(r.date)
                .bind(r.status)
                .bind(r.label)
                .bind(r.codes)
                .bind(r.value)
                .bind(r.numeric.as_deref())
                .bind(r.unit)
                .bind(r.disagreement)
                .bind(now)
                .bind(now)
                .bind(crate::search::fold(r.text));
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

pub(crate) async fn bulk_insert_links(conn: &mut AnyConnection, backend: Backend, patient: &str, source: &str, rows: &[NewLink<'_>]) -> sqlx::Result<()> {
    for chunk in batches(rows) {
        let mut sql = String::from("INSERT INTO entry_sources (patient_id, entry_id, source_id, resource_type, fhir_id, resource_id, fact) VALUES ");
        Params::new(backend).rows(&mut sql, chunk.len(), 7);
        let mut q = sqlx::query(&sql);
        for r in chunk {
            q = q.bind(patient).bind(r.entry_id).bind(source).bind(r.resource_type).bind(r.fhir_id).bind(r.resource_id).bind(r.fact);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// `(entry id, fact JSON)` of every link of these entries.
pub(crate) async fn bulk_link_facts(conn: &mut AnyConnection, backend: Backend, patient: &str, entry_ids: &[&str]) -> sqlx::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for chunk in batches(entry_ids) {
        let mut p = Params::new(backend);
        let mut sql = String::from("SELECT entry_id, fact FROM entry_sources WHERE patient_id = ");
        p.one(&mut sql);
        sql.push_str(" AND entry_id IN (");
        p.list(&mut sql, chunk.len());
        sql.push(')');
        let mut q = sqlx::query_as::<_, (String, String)>(&sql).bind(patient);
        for id in chunk {
            q = q.bind(*id);
        }
        out.extend(q.fetch_all(&mut *conn).await?);
    }
    Ok(out)
}

pub(crate) async fn bulk_delete_entries(conn: &mut AnyConnection, backend: Backend, patient: &str, ids: &[&str]) -> sqlx::Result<()> {
    for chunk in batches(ids) {
        let mut p = Params::new(backend);
        let mut sql = String::from("DELETE FROM entries WHERE patient_id = ");
        p.one(&mut sql);
        sql.push_str(" AND id IN (");
        p.list(&mut sql, chunk.len());
        sql.push(')');
        let mut q = sqlx::query(&sql).bind(patient);
        for id in chunk {
            q = q.bind(*id);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Sets `disagreement` (and `updated_at`) on these entries: one statement per
/// flag value and chunk, not one per entry.
pub(crate) async fn bulk_set_disagreements(conn: &mut AnyConnection, backend: Backend, patient: &str, now: i64, flags: &[(&str, bool)]) -> sqlx::Result<()> {
    for flag in [false, true] {
        let ids: Vec<&str> = flags.iter().filter(|(_, f)| *f == flag).map(|(id, _)| *id).collect();
        for chunk in batches(&ids) {
            let mut p = Params::new(backend);
            let mut sql = String::from("UPDATE entries SET disagreement = ");
            p.one(&mut sql);
            sql.push_str(", updated_at = ");
            p.one(&mut sql);
            sql.push_str(" WHERE patient_id = ");
            p.one(&mut sql);
            sql.push_str(" AND id IN (");
            p.list(&mut sql, chunk.len());
            sql.push(')');
            let mut q = sqlx::query(&sql).bind(i64::from(flag)).bind(now).bind(patient);
            for id in chunk {
                q = q.bind(*id);
            }
            q.execute(&mut *conn).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_per_backend() {
        let mut s = String::new();
        let mut p = Params::new(Backend::Postgres);
        p.one(&mut s);
        s.push(' ');
        p.rows(&mut s, 2, 2);
        assert_eq!(s, "$1 ($2,$3),($4,$5)");
        let mut s = String::new();
        let mut p = Params::new(Backend::Sqlite);
        p.one(&mut s);
        s.push(' ');
        p.list(&mut s, 3);
        assert_eq!(s, "? ?,?,?");
    }

    #[test]
    fn batches_reuse_few_sizes() {
        let rows: Vec<u32> = (0..937).collect();
        let sizes: Vec<usize> = batches(&rows).map(<[u32]>::len).collect();
        assert_eq!(sizes, [400, 400, 128, 8, 1]);
        let all: Vec<u32> = batches(&rows).flatten().copied().collect();
        assert_eq!(all, rows);
        assert_eq!(batches::<u32>(&[]).count(), 0);
    }
}

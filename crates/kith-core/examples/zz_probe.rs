// Temporary probe (deleted before hand-off).
use sqlx::{Connection, Executor};
use std::time::Instant;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    sqlx::any::install_default_drivers();
    if let Some(d) = std::env::var("COMPONENTS").ok() { components(&d); return; }
    let url = std::env::args().nth(1).unwrap_or("postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut c = sqlx::AnyConnection::connect(&url).await.unwrap();
    let pg = url.starts_with("postgres");
    c.execute("DROP TABLE IF EXISTS probe_t").await.unwrap();
    c.execute("CREATE TABLE probe_t (patient_id text, id text, kind text, merge_key text, text text, date text, status text, label text, codes text, value text, numeric text, unit text, disagreement bigint, created_at bigint, updated_at bigint, PRIMARY KEY (patient_id, id), UNIQUE (patient_id, merge_key))").await.unwrap();
    let n = 4000usize;
    for rows_per in [400usize, 200, 100, 50, 25] {
        for rep in 0..3 {
            c.execute("DELETE FROM probe_t").await.unwrap();
            let t = Instant::now();
            let mut tx = c.begin().await.unwrap();
            let mut k = 0;
            while k < n {
                let m = rows_per.min(n - k);
                let mut sql = String::from("INSERT INTO probe_t VALUES ");
                let mut p = 1;
                for r in 0..m {
                    if r > 0 { sql.push(','); }
                    sql.push('(');
                    for col in 0..15 { if col > 0 { sql.push(','); } if pg { sql.push_str(&format!("${p}")); } else { sql.push('?'); } p += 1; }
                    sql.push(')');
                }
                let mut q = sqlx::query(&sql);
                for r in k..k + m {
                    q = q.bind("patient-0000-0000-0000-000000000000").bind(format!("id-{r}")).bind("condition").bind(format!("key-{r}")).bind("Some condition text").bind(Some("2020-01-01")).bind(Some("active")).bind("general").bind("[{\"system\":\"x\",\"code\":\"1\"}]").bind(None::<&str>).bind(None::<&str>).bind(None::<&str>).bind(0i64).bind(1i64).bind(1i64);
                }
                q.execute(&mut *tx).await.unwrap();
                k += m;
            }
            tx.commit().await.unwrap();
            println!("values rows/stmt={rows_per} rep={rep}: {:.1} ms for {n}", t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    if pg {
        for rep in 0..3 {
            c.execute("DELETE FROM probe_t").await.unwrap();
            let t = Instant::now();
            let mut tx = c.begin().await.unwrap();
            for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
                let arr: Vec<serde_json::Value> = chunk.iter().map(|r| serde_json::json!({"patient_id":"patient-0000-0000-0000-000000000000","id":format!("id-{r}"),"kind":"condition","merge_key":format!("key-{r}"),"text":"Some condition text","date":"2020-01-01","status":"active","label":"general","codes":"[{\"system\":\"x\",\"code\":\"1\"}]","value":null,"numeric":null,"unit":null,"disagreement":0,"created_at":1,"updated_at":1})).collect();
                let s = serde_json::to_string(&arr).unwrap();
                sqlx::query("INSERT INTO probe_t SELECT * FROM json_to_recordset($1::json) AS x(patient_id text, id text, kind text, merge_key text, text text, date text, status text, label text, codes text, value text, numeric text, unit text, disagreement bigint, created_at bigint, updated_at bigint)").bind(s).execute(&mut *tx).await.unwrap();
            }
            tx.commit().await.unwrap();
            println!("json_to_recordset rep={rep}: {:.1} ms for {n}", t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    c.execute("DROP TABLE probe_t").await.unwrap();
}

#[allow(dead_code)]
pub fn components(dir: &str) {
    use sha2::Digest;
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(e.unwrap().path()).unwrap()).unwrap();
        files.push(serde_json::to_vec(&v).unwrap());
    }
    for _ in 0..2 {
        let t = Instant::now();
        let feeds: Vec<_> = files.iter().map(|b| kith_fhir::parse_feed(b, usize::MAX)).collect::<Vec<_>>();
        let t_parse = t.elapsed();
        let feeds: Vec<kith_fhir::Feed> = feeds.into_iter().map(|f| f.map_err(|e| e.to_string()).unwrap_or_else(|e| panic!("{e}"))).collect();
        let t = Instant::now();
        let jsons: Vec<Vec<String>> = feeds.iter().map(|f| f.resources.iter().map(|r| serde_json::to_string(&r.json).unwrap()).collect()).collect();
        let t_ser = t.elapsed();
        let t = Instant::now();
        let n: usize = jsons.iter().flatten().map(|j| sha2::Sha256::digest(j.as_bytes())[0] as usize).sum();
        let t_sha = t.elapsed();
        let t = Instant::now();
        let refs: Vec<_> = feeds.iter().map(kith_fhir::RefIndex::new).collect();
        let t_refs = t.elapsed();
        let t = Instant::now();
        let un: usize = feeds.iter().map(|f| kith_fhir::unresolved(f).len()).sum();
        let t_un = t.elapsed();
        let t = Instant::now();
        let facts: usize = feeds.iter().zip(&refs).map(|(f, r)| f.resources.iter().filter(|res| kith_fhir::normalise_in(f, r, res, kith_fhir::SourceKind::Gp).is_some()).count()).sum();
        let t_norm = t.elapsed();
        let t = Instant::now();
        drop(feeds);
        let t_drop = t.elapsed();
        println!("parse_feed {t_parse:?} serialise {t_ser:?} sha {t_sha:?} refs {t_refs:?} unresolved {t_un:?} normalise {t_norm:?} ({facts} facts) drop {t_drop:?} [{n} {un}]");
    }
}

//! Import throughput benchmark (run on demand, not part of the test suite).
//!
//! ```text
//! scripts/bench-import.sh [PATIENTS]            # generates the data, then runs this
//! cargo run --release -p kith-core --example import_bench -- DIR [--runs N] [--no-postgres]
//! ```
//!
//! DIR holds Synthea patient bundles (`*.json`, also looked for in `DIR/fhir`).
//! Untimed preparation gives each Patient a valid synthetic NHS Number (from
//! the 999 test range) and re-serialises the file, then creates a Kith patient
//! for it. Then, in the same run, over the same bytes:
//!
//! * parse-only: `serde_json::from_slice::<Value>` of every file;
//! * `kith_fhir::parse_feed` of every file (for information);
//! * import of every file through `Kith` (source kind GP) into a fresh
//!   SQLite database and a fresh PostgreSQL database (`TestDb`; the server
//!   is `KITH_TEST_POSTGRES_URL`, default postgres@127.0.0.1:5432), each time
//!   on new databases (a second import into the same database would be a
//!   re-import, a different workload): one file at a time, each awaited
//!   before the next starts, and the set as `kith import` takes it.
//!
//! N rounds (`--runs`, default 3) each time every row once, in that order,
//! and each row keeps its fastest round, so the baseline and the imports are
//! measured at the same moments of a machine whose speed drifts.
//! Exits 1 if an import misses its target.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kith_core::import::{ImportOutcome, ImportRequest};
use kith_core::policy::{Principal, RecordAccess, Right};
use kith_core::testing::TestDb;
use kith_core::{Backend, Kith, NewUser};
use kith_fhir::{SourceKind, NHS_NUMBER_SYSTEM};
use kith_types::NhsNumber;
use serde_json::{json, Value};

const MAX_BYTES: usize = 512 * 1024 * 1024;
const SQLITE_TARGET: f64 = 0.30;
const POSTGRES_TARGET: f64 = 0.15;

/// One row of the table: what a round times.
#[derive(Clone, Copy)]
enum Timed {
    ParseOnly,
    ParseFeed,
    Import(Backend, Mode),
}

/// How the files go in.
#[derive(Clone, Copy)]
enum Mode {
    OneAtATime,
    Set,
}

struct Prepared {
    file: String,
    bytes: Vec<u8>,
    resources: usize,
    nhs: NhsNumber,
    name: String,
    birth_date: String,
}

struct Row {
    what: String,
    bytes: usize,
    resources: usize,
    secs: f64,
    /// This process's CPU time (all threads) over the timed part; for
    /// PostgreSQL the server's own CPU time is not included.
    cpu: f64,
    target: Option<f64>,
}

/// User + system CPU seconds of this process so far (Linux; 0 elsewhere).
fn cpu_secs() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 here.
    (ticks(11) + ticks(12)) / 100.0
}

fn usage() -> ! {
    eprintln!("usage: import_bench DIR [--runs N] [--no-postgres] [--no-sqlite]");
    std::process::exit(2);
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut dir: Option<PathBuf> = None;
    let mut runs = 3usize;
    let (mut postgres, mut sqlite) = (true, true);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--runs" => runs = args.next().and_then(|n| n.parse().ok()).unwrap_or_else(|| usage()),
            "--no-postgres" => postgres = false,
            "--no-sqlite" => sqlite = false,
            "-h" | "--help" => usage(),
            _ if dir.is_none() => dir = Some(PathBuf::from(a)),
            _ => usage(),
        }
    }
    let dir = dir.unwrap_or_else(|| usage());

    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    eprintln!("{cores} cores; load average at start: {}", load_average());
    let t = Instant::now();
    let files = prepare_files(&dir);
    let total_bytes: usize = files.iter().map(|f| f.bytes.len()).sum();
    let total_resources: usize = files.iter().map(|f| f.resources).sum();
    eprintln!(
        "prepared {} patient files, {:.1} MB, {} resources in {:.1} s (untimed)",
        files.len(),
        total_bytes as f64 / 1e6,
        total_resources,
        t.elapsed().as_secs_f64()
    );

    // What is timed, in the order of a round. Every round times each of
    // them once, and each row keeps its fastest round: the machine's speed
    // drifts by 10-40% over minutes here, and timing all runs of the
    // baseline first and all imports later turned that drift into noise in
    // the ratios. Interleaved, baseline and imports sample the same moments.
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    // Each backend twice: files one at a time, each awaited before the next
    // starts (for information), and the set as `kith import` takes it, the
    // next file parsed while the current one is stored (the target's row).
    let modes = [(Mode::OneAtATime, "one file at a time", None), (Mode::Set, "the set", Some(()))];
    let mut timed: Vec<(Timed, Row)> = vec![
        (
            Timed::ParseOnly,
            Row { what: "parse only (serde_json Value)".into(), bytes: total_bytes, resources: total_resources, secs: f64::MAX, cpu: 0.0, target: None },
        ),
        (
            Timed::ParseFeed,
            Row { what: "kith_fhir::parse_feed".into(), bytes: total_bytes, resources: total_resources, secs: f64::MAX, cpu: 0.0, target: None },
        ),
    ];
    if sqlite {
        for (mode, how, targeted) in modes {
            timed.push((
                Timed::Import(Backend::Sqlite, mode),
                Row {
                    what: format!("import, SQLite, {how}"),
                    bytes: total_bytes,
                    resources: total_resources,
                    secs: f64::MAX,
                    cpu: 0.0,
                    target: targeted.map(|_| SQLITE_TARGET),
                },
            ));
        }
    }
    if postgres {
        match rt.block_on(postgres_reachable()) {
            Ok(()) => {
                for (mode, how, targeted) in modes {
                    timed.push((
                        Timed::Import(Backend::Postgres, mode),
                        Row {
                            what: format!("import, PostgreSQL, {how}"),
                            bytes: total_bytes,
                            resources: total_resources,
                            secs: f64::MAX,
                            cpu: 0.0,
                            target: targeted.map(|_| POSTGRES_TARGET),
                        },
                    ));
                }
            }
            Err(e) => eprintln!("SKIPPED PostgreSQL: cannot reach {} ({e}); set KITH_TEST_POSTGRES_URL or start the server", redacted_admin_url()),
        }
    }
    for round in 0..runs.max(1) {
        for (what, row) in timed.iter_mut() {
            let (secs, cpu) = match *what {
                Timed::ParseOnly => time_it(|| {
                    for f in &files {
                        let v: Value = serde_json::from_slice(&f.bytes).expect("prepared files are JSON");
                        std::hint::black_box(&v);
                    }
                }),
                Timed::ParseFeed => time_it(|| {
                    for f in &files {
                        let feed = kith_fhir::parse_feed(&f.bytes, MAX_BYTES).expect("prepared files parse as FHIR");
                        std::hint::black_box(&feed);
                    }
                }),
                // A fresh database each time: a second import into the same
                // one would be a re-import, a different workload.
                Timed::Import(backend, mode) => {
                    let db = rt.block_on(async {
                        match backend {
                            Backend::Sqlite => TestDb::sqlite().await,
                            Backend::Postgres => TestDb::postgres().await,
                        }
                    });
                    let r = rt.block_on(bench_backend(&db.kith, db.owner_url(), &files, round == 0, mode));
                    drop(db);
                    r
                }
            };
            if secs < row.secs {
                (row.secs, row.cpu) = (secs, cpu);
            }
        }
    }
    let rows: Vec<Row> = timed.into_iter().map(|(_, r)| r).collect();
    let parse_secs = rows[0].secs;
    print_table(&rows, parse_secs);
    println!("{cores} cores; best of {runs} interleaved rounds (each round times every row once); load average at end: {}", load_average());
    if rows.iter().any(|r| r.target.is_some_and(|t| parse_secs / r.secs < t)) {
        std::process::exit(1);
    }
}

/// Runs `f` once: its wall and CPU seconds.
fn time_it(f: impl FnOnce()) -> (f64, f64) {
    let (t, c) = (Instant::now(), cpu_secs());
    f();
    (t.elapsed().as_secs_f64(), cpu_secs() - c)
}

/// The 1, 5 and 15 minute load averages (Linux), to judge how busy the machine was.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" ")).unwrap_or_else(|_| "unknown".into())
}

fn redacted_admin_url() -> String {
    kith_core::db::redact_url(&kith_core::testing::postgres_admin_url())
}

async fn postgres_reachable() -> Result<(), String> {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let url = kith_core::testing::postgres_admin_url();
    let fut = sqlx::AnyConnection::connect(&url);
    match tokio::time::timeout(Duration::from_secs(5), fut).await {
        Ok(Ok(c)) => {
            let _ = c.close().await;
            Ok(())
        }
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timed out after 5 s".into()),
    }
}

/// Creates every patient (untimed), then imports every file (timed): wall
/// and CPU seconds.
async fn bench_backend(k: &Kith, url: &str, files: &[Prepared], check: bool, mode: Mode) -> (f64, f64) {
    let mut accesses: Vec<RecordAccess> = Vec::with_capacity(files.len());
    for (i, f) in files.iter().enumerate() {
        k.create_user(NewUser {
            name: f.name.clone(),
            email: format!("bench-{i}@example.com"),
            password: "kettle orange stairs".into(),
            role: "patient".into(),
            nhs_number: f.nhs.as_str().into(),
            birth_date: f.birth_date.clone(),
            organisation: String::new(),
        })
        .await
        .unwrap_or_else(|e| panic!("{}: cannot create patient: {e:?}", f.file));
        accesses.push(k.open_record(&Principal::Operator, &f.nhs, Right::Contribute).await.unwrap());
    }
    // The requests own their bytes: copy them before the clock starts.
    let requests: Vec<ImportRequest> = files
        .iter()
        .map(|f| ImportRequest {
            file_name: f.file.clone(),
            bytes: f.bytes.clone(),
            source_kind: Some(SourceKind::Gp),
            source_name: None,
            max_bytes: MAX_BYTES,
        })
        .collect();

    // PostgreSQL: start from a checkpoint, so that one left pending by an
    // earlier run (each writes hundreds of MB of WAL) is not flushed in the
    // middle of this one. Needs a superuser, as the test server's postgres is.
    if url.starts_with("postgres") {
        use sqlx::Connection;
        let mut conn = sqlx::AnyConnection::connect(url).await.expect("open the benchmark database");
        if let Err(e) = sqlx::query("CHECKPOINT").execute(&mut conn).await {
            eprintln!("note: CHECKPOINT before the timed run failed: {e}");
        }
        let _ = conn.close().await;
    }
    let (t, c) = (Instant::now(), cpu_secs());
    let accepted_whole =
        |outcome: kith_core::CoreResult<ImportOutcome>, f: &Prepared| match outcome.unwrap_or_else(|e| panic!("{}: import failed: {e:?}", f.file)) {
            ImportOutcome::Accepted(s) if s.new == f.resources => {}
            other => panic!("{}: expected {} new resources, got {other:?}", f.file, f.resources),
        };
    match mode {
        Mode::OneAtATime => {
            for ((req, access), f) in requests.into_iter().zip(&accesses).zip(files) {
                accepted_whole(k.import(access, req).await, f);
            }
        }
        // As `kith import` takes several files: the next is started (parsed
        // and checked) before the current one is finished (stored).
        Mode::Set => {
            let mut current: Option<(kith_core::import::StartedImport, &Prepared)> = None;
            for ((req, access), f) in requests.into_iter().zip(&accesses).zip(files) {
                let next = k.start_import(access, req).unwrap_or_else(|e| panic!("{}: import refused: {e:?}", f.file));
                if let Some((started, f)) = current.replace((next, f)) {
                    accepted_whole(started.finish().await, f);
                }
            }
            if let Some((started, f)) = current {
                accepted_whole(started.finish().await, f);
            }
        }
    }
    // SQLite: copying what is still in the WAL into the database file is part
    // of the cost of storing it, whatever checkpoint settings the import uses.
    if url.starts_with("sqlite:") {
        use sqlx::Connection;
        let mut conn = sqlx::AnyConnection::connect(url).await.expect("open the benchmark database");
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut conn).await.expect("checkpoint");
        let _ = conn.close().await;
    }
    let (secs, cpu) = (t.elapsed().as_secs_f64(), cpu_secs() - c);

    // Untimed sanity check on the first patient: every original comes back
    // equal as JSON.
    if let (true, Some(f), Some(access)) = (check, files.first(), accesses.first()) {
        let original: Value = serde_json::from_slice(&f.bytes).unwrap();
        let exported = k.export_bundle(access).await.unwrap();
        let got: std::collections::HashMap<(&str, &str), &Value> = exported["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["resource"])
            .filter_map(|r| Some(((r["resourceType"].as_str()?, r["id"].as_str()?), r)))
            .collect();
        for e in original["entry"].as_array().unwrap() {
            let r = &e["resource"];
            let key = (r["resourceType"].as_str().unwrap_or(""), r["id"].as_str().unwrap_or(""));
            assert!(got.get(&key) == Some(&r), "{}: {key:?} not exported verbatim", f.file);
        }
    }
    (secs, cpu)
}

/// Reads every bundle, gives its Patient an NHS Number, re-serialises it.
fn prepare_files(dir: &Path) -> Vec<Prepared> {
    let mut paths: Vec<PathBuf> = Vec::new();
    for d in [dir.to_path_buf(), dir.join("fhir")] {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            // Java Synthea also writes shared hospital/practitioner bundles.
            if p.extension().is_some_and(|x| x == "json") && !name.starts_with("hospitalInformation") && !name.starts_with("practitionerInformation") {
                paths.push(p);
            }
        }
    }
    paths.sort();
    if paths.is_empty() {
        eprintln!("no *.json patient bundles in {} or {}/fhir", dir.display(), dir.display());
        std::process::exit(2);
    }
    let mut numbers = nhs_numbers();
    paths
        .iter()
        .map(|p| {
            let file = p.file_name().unwrap().to_string_lossy().into_owned();
            let mut v: Value =
                serde_json::from_slice(&std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let nhs = numbers.next().expect("enough NHS Numbers");
            let entries = v["entry"].as_array_mut().unwrap_or_else(|| panic!("{file}: not a Bundle with entries"));
            let resources = entries.len();
            let patient =
                entries.iter_mut().map(|e| &mut e["resource"]).find(|r| r["resourceType"] == "Patient").unwrap_or_else(|| panic!("{file}: no Patient"));
            let ident = json!({ "system": NHS_NUMBER_SYSTEM, "value": nhs.as_str() });
            match patient["identifier"].as_array_mut() {
                Some(ids) => ids.insert(0, ident),
                None => patient["identifier"] = json!([ident]),
            }
            let n = &patient["name"][0];
            let given = n["given"][0].as_str().unwrap_or("Bench");
            let family = n["family"].as_str().unwrap_or("Patient");
            let name = format!("{given} {family}");
            let birth_date = patient["birthDate"].as_str().unwrap_or("1970-01-01").to_string();
            Prepared { file, bytes: serde_json::to_vec(&v).unwrap(), resources, nhs, name, birth_date }
        })
        .collect()
}

/// Valid NHS Numbers from the 999 test range, in order.
fn nhs_numbers() -> impl Iterator<Item = NhsNumber> {
    (0u32..1_000_000).filter_map(|n| {
        let stem = format!("999{n:06}");
        let sum: u32 = stem.bytes().enumerate().map(|(i, b)| u32::from(b - b'0') * (10 - i as u32)).sum();
        let check = match 11 - sum % 11 {
            11 => 0,
            10 => return None,
            c => c,
        };
        Some(NhsNumber::parse(&format!("{stem}{check}")).expect("generated NHS Numbers are valid"))
    })
}

fn print_table(rows: &[Row], parse_secs: f64) {
    println!();
    println!(
        "| {:<30} | {:>12} | {:>9} | {:>8} | {:>8} | {:>11} | {:>8} | {:>6} | {:<6} | {:>7} |",
        "what", "bytes", "resources", "seconds", "MB/s", "resources/s", "ratio", "target", "result", "CPU s"
    );
    println!("|{:-<32}|{:->14}|{:->11}|{:->10}|{:->10}|{:->13}|{:->10}|{:->8}|{:-<8}|{:->9}|", ":", ":", ":", ":", ":", ":", ":", ":", ":", ":");
    for r in rows {
        let ratio = parse_secs / r.secs;
        let (target, result) = match r.target {
            Some(t) => (format!("{:.0}%", t * 100.0), if ratio >= t { "PASS" } else { "MISS" }.to_string()),
            None => ("—".into(), "".into()),
        };
        println!(
            "| {:<30} | {:>12} | {:>9} | {:>8.3} | {:>8.1} | {:>11.0} | {:>7.1}% | {:>6} | {:<6} | {:>7.2} |",
            r.what,
            r.bytes,
            r.resources,
            r.secs,
            r.bytes as f64 / 1e6 / r.secs,
            r.resources as f64 / r.secs,
            ratio * 100.0,
            target,
            result,
            r.cpu
        );
    }
    println!();
    println!("MB = 10^6 bytes. ratio = parse-only seconds / this row's seconds (same bytes, same run).");
    println!("CPU s = this process's CPU time (all threads) over the timed part; PostgreSQL's server CPU is not in it.");
}

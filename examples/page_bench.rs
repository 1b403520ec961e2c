//! Page render benchmark (run on demand, not part of the test suite).
//!
//! ```text
//! scripts/bench-pages.sh        # builds in release, runs this, then the load and transfer checks
//! cargo run --release --example page_bench -- [--iterations N] [--warmup N]
//!     [--no-sqlite] [--no-postgres] [--pg-fresh] [--hold SECONDS]
//!     [--load SECONDS] [--concurrency N]
//! ```
//!
//! For each backend (a fresh SQLite file, and a fresh PostgreSQL database on
//! `KITH_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`,
//! skipped with a message when unreachable) this creates two patients, gives
//! one 100 entries and the other 10,000 (generated FHIR R4 feeds from a GP
//! practice and a hospital, imported through `Kith::import`; every resource
//! is a distinct clinical fact, so nothing merges), signs each in through the
//! real router (`POST /api/sign_in`), then times the pages as a browser
//! without JavaScript gets them: `GET /` (the summary) and `GET /timeline`
//! (its first page), rendered by `kith::server::router` (`oneshot`,
//! `Accept: text/html`, body fully collected). Requests for the two sizes are
//! interleaved so that noise hits both alike.
//!
//! Reported per page and size: median, p95, mean and the HTML size; then the
//! ratio 10,000 / 100 of the medians against the target (at most 1.5). For
//! diagnosis it also times the service calls alone (`Kith::summary`,
//! `Kith::timeline`: the database work and building the view data, without
//! sessions or HTML). Exits 1 if a target is missed.
//!
//! PostgreSQL is measured in its steady state: right after set-up the
//! benchmark runs `ANALYZE` (with `psql`, as autovacuum would do within a
//! minute or so of a large import); `--pg-fresh` skips that, to see the plans
//! PostgreSQL picks without statistics. SQLite is measured as Kith runs it
//! (Kith never runs `ANALYZE` there, so SQLite plans without statistics).
//!
//! Then, for comparison only (no target rides on it), the access log's cost
//! under load: `--concurrency N` requests at a time (default 8) for
//! `--load SECONDS` (default 2; 0 skips it) per page, size and router,
//! logging on and off alternating over three rounds; reported as requests
//! per second (the median round of each) and the median of the rounds'
//! off / on ratios. Every request views one record, the worst case for its
//! chain head: on PostgreSQL views of one record queue for it until their
//! commit is flushed, and on SQLite logged views queue for the write lock.
//!
//! `--hold SECONDS` prints each database's URL after set-up and waits that
//! long before timing, so its queries can be examined with `sqlite3` or
//! `psql` (the databases are removed when the run ends).

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::Router;
use http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use kith::config::ServeOptions;
use kith_core::import::{ImportOutcome, ImportRequest};
use kith_core::policy::{Principal, RecordAccess, Right};
use kith_core::testing::TestDb;
use kith_core::{Kith, NewUser};
use kith_fhir::{SourceKind, NHS_NUMBER_SYSTEM};
use kith_types::record::TimelineQuery;
use kith_types::NhsNumber;
use serde_json::{json, Value};
use tower::ServiceExt;

const TARGET_RATIO: f64 = 1.5;
/// A page with the access log written may cost at most this much more than
/// the same page with logging off.
const AUDIT_TARGET_RATIO: f64 = 1.10;
const PASSWORD: &str = "kettle orange stairs";
const SMALL: usize = 100;
const LARGE: usize = 10_000;

/// Requests in a row through one router when comparing logging on and off.
const AUDIT_BLOCK: usize = 10;

fn usage() -> ! {
    eprintln!("usage: page_bench [--iterations N] [--warmup N] [--no-sqlite] [--no-postgres] [--pg-fresh] [--hold SECONDS] [--load SECONDS] [--concurrency N]");
    std::process::exit(2);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (mut iterations, mut warmup) = (200usize, 20usize);
    let (mut sqlite, mut postgres) = (true, true);
    let mut hold = 0u64;
    let mut pg_analyze = true;
    let mut load = Load { seconds: 2.0, concurrency: 8 };
    while let Some(a) = args.next() {
        match a.as_str() {
            "--iterations" => iterations = args.next().and_then(|n| n.parse().ok()).filter(|n| *n > 0).unwrap_or_else(|| usage()),
            "--warmup" => warmup = args.next().and_then(|n| n.parse().ok()).unwrap_or_else(|| usage()),
            "--no-sqlite" => sqlite = false,
            "--no-postgres" => postgres = false,
            "--pg-fresh" => pg_analyze = false,
            "--hold" => hold = args.next().and_then(|n| n.parse().ok()).unwrap_or_else(|| usage()),
            "--load" => load.seconds = args.next().and_then(|n| n.parse().ok()).filter(|s: &f64| s.is_finite() && *s >= 0.0).unwrap_or_else(|| usage()),
            "--concurrency" => load.concurrency = args.next().and_then(|n| n.parse().ok()).filter(|n| *n > 0).unwrap_or_else(|| usage()),
            _ => usage(),
        }
    }
    println!("page_bench: {iterations} timed requests per page and size after {warmup} warm-up requests; sizes {SMALL} and {LARGE} entries");

    let mut missed = false;
    if sqlite {
        let db = TestDb::sqlite().await;
        missed |= run_backend("SQLite", &db, iterations, warmup, hold, None, load).await;
    }
    if postgres {
        let admin = kith_core::testing::postgres_admin_url();
        if reachable(&admin) {
            let db = TestDb::postgres().await;
            let analyze = pg_analyze.then(|| db.owner_url().to_string());
            let name = if pg_analyze { "PostgreSQL" } else { "PostgreSQL (fresh, no ANALYZE)" };
            missed |= run_backend(name, &db, iterations, warmup, hold, analyze, load).await;
        } else {
            println!("\nPostgreSQL: skipped, nothing listening at {} (set KITH_TEST_POSTGRES_URL)", host_port(&admin).unwrap_or_default());
        }
    }
    if missed {
        println!("\nAt least one target was missed.");
        std::process::exit(1);
    }
}

/// `host:port` of a `postgres://user@host:port/db` URL.
fn host_port(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let rest = rest.rsplit_once('@').map(|(_, r)| r).unwrap_or(rest);
    let hp = rest.split(['/', '?']).next()?;
    Some(if hp.contains(':') { hp.to_string() } else { format!("{hp}:5432") })
}

fn reachable(url: &str) -> bool {
    use std::net::ToSocketAddrs;
    let Some(hp) = host_port(url) else { return false };
    let Ok(mut addrs) = hp.to_socket_addrs() else { return false };
    addrs.any(|a| std::net::TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok())
}

// --- The patients -------------------------------------------------------------

struct Patient {
    entries: usize,
    nhs: NhsNumber,
    email: String,
    name: String,
    cookie: String,
    access: RecordAccess,
}

/// The load phase's settings (see the top of this file).
#[derive(Clone, Copy)]
struct Load {
    seconds: f64,
    concurrency: usize,
}

async fn run_backend(backend: &str, db: &TestDb, iterations: usize, warmup: usize, hold: u64, analyze: Option<String>, load: Load) -> bool {
    println!("\n## {backend}\n");
    let t = Instant::now();
    let small = make_patient(&db.kith, SMALL, "9434765919", "Ada Small", "small@bench.kith.example").await;
    let large = make_patient(&db.kith, LARGE, "9000000009", "Bea Large", "large@bench.kith.example").await;
    let app = kith::server::router(db.kith.clone(), &ServeOptions::default());
    let small = sign_in(&app, small).await;
    let large = sign_in(&app, large).await;
    println!("Set-up (create, import, sign in): {:.1} s\n", t.elapsed().as_secs_f64());
    if let Some(url) = analyze {
        match std::process::Command::new("psql").args([url.as_str(), "-q", "-c", "ANALYZE"]).status() {
            Ok(s) if s.success() => println!("Statistics gathered (psql -c ANALYZE), as autovacuum would after an import.\n"),
            _ => println!("Could not run psql -c ANALYZE: PostgreSQL is measured without statistics (see --pg-fresh).\n"),
        }
    }
    if hold > 0 {
        println!("Holding {hold} s: database {}", db.url);
        tokio::time::sleep(Duration::from_secs(hold)).await;
    }

    // The pages must be the real thing before they are timed.
    let mut html_bytes = Vec::new();
    for p in [&small, &large] {
        let (status, body) = get(&app, "/", &p.cookie).await;
        assert_eq!(status, StatusCode::OK, "summary for {}", p.name);
        assert!(body.contains(&p.name) && body.contains(&p.nhs.formatted()), "summary shows {}'s record", p.name);
        assert!(body.contains("Allergies") && !body.contains("Loading your record"), "summary is fully rendered");
        let (status, tl) = get(&app, "/timeline", &p.cookie).await;
        assert_eq!(status, StatusCode::OK, "timeline for {}", p.name);
        assert!(tl.contains("/entries/"), "timeline lists entries");
        html_bytes.push((body.len(), tl.len()));
    }

    // Pages through the router, interleaved across sizes.
    let pages = ["/", "/timeline"];
    let mut times: Vec<Vec<Duration>> = (0..4).map(|_| Vec::with_capacity(iterations)).collect();
    for i in 0..warmup + iterations {
        for (pi, path) in pages.iter().enumerate() {
            for (si, p) in [&small, &large].into_iter().enumerate() {
                let t = Instant::now();
                let (status, _) = get(&app, path, &p.cookie).await;
                let d = t.elapsed();
                assert_eq!(status, StatusCode::OK);
                if i >= warmup {
                    times[pi * 2 + si].push(d);
                }
            }
        }
    }

    // What the access log costs: the same pages, interleaved, through a
    // router whose services write no log (a switch only this benchmark has).
    let app_off = kith::server::router(db.kith.clone().without_access_log_for_benchmark(), &ServeOptions::default());
    // They alternate in blocks of AUDIT_BLOCK requests, and the first request
    // of each block is not timed: on SQLite a logged view's commit empties
    // the page cache of every other connection, which a server with logging
    // off never does, so an unlogged view just after a logged one would be
    // timed with a cache its own server would have kept.
    let mut audit_times: Vec<Vec<Duration>> = (0..8).map(|_| Vec::with_capacity(iterations)).collect();
    let total = warmup + iterations;
    for round in 0..total.div_ceil(AUDIT_BLOCK) {
        for (pi, path) in pages.iter().enumerate() {
            for (si, p) in [&small, &large].into_iter().enumerate() {
                for (oi, router) in [&app, &app_off].into_iter().enumerate() {
                    assert_eq!(get(router, path, &p.cookie).await.0, StatusCode::OK);
                    for i in (round * AUDIT_BLOCK..(round + 1) * AUDIT_BLOCK).take_while(|i| *i < total) {
                        let t = Instant::now();
                        let (status, _) = get(router, path, &p.cookie).await;
                        let d = t.elapsed();
                        assert_eq!(status, StatusCode::OK);
                        if i >= warmup {
                            audit_times[(pi * 2 + si) * 2 + oi].push(d);
                        }
                    }
                }
            }
        }
    }

    // The service calls alone, for diagnosis.
    let query = TimelineQuery::default();
    let mut service: Vec<Vec<Duration>> = (0..4).map(|_| Vec::with_capacity(iterations)).collect();
    for i in 0..warmup + iterations {
        for (si, p) in [&small, &large].into_iter().enumerate() {
            let t = Instant::now();
            db.kith.summary(&p.access).await.expect("summary");
            let d = t.elapsed();
            if i >= warmup {
                service[si].push(d);
            }
            let t = Instant::now();
            db.kith.timeline(&p.access, &query).await.expect("timeline");
            let d = t.elapsed();
            if i >= warmup {
                service[2 + si].push(d);
            }
        }
    }

    let mut missed = false;
    println!("Pages through the router (GET, Accept: text/html, body collected), milliseconds:\n");
    println!("| page | entries | median | p95 | mean | HTML bytes |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (pi, path) in pages.iter().enumerate() {
        for (si, p) in [&small, &large].into_iter().enumerate() {
            let s = stats(&mut times[pi * 2 + si]);
            let bytes = if pi == 0 { html_bytes[si].0 } else { html_bytes[si].1 };
            println!("| `{path}` | {} | {:.2} | {:.2} | {:.2} | {bytes} |", p.entries, s.median, s.p95, s.mean);
        }
    }
    println!("\nRatio {LARGE} / {SMALL} entries (medians; target at most {TARGET_RATIO}):\n");
    println!("| page | median ratio | p95 ratio | result |");
    println!("|---|---:|---:|---|");
    for (pi, path) in pages.iter().enumerate() {
        let a = stats(&mut times[pi * 2]);
        let b = stats(&mut times[pi * 2 + 1]);
        let ratio = b.median / a.median;
        let pass = ratio <= TARGET_RATIO;
        missed |= !pass;
        println!("| `{path}` | {:.2} | {:.2} | {} |", ratio, b.p95 / a.p95, if pass { "PASS" } else { "MISS" });
    }
    println!("\nAccess log cost: the same page with logging on / off (medians; target at most {AUDIT_TARGET_RATIO}):\n");
    println!("| page | entries | logging on | logging off | ratio | result |");
    println!("|---|---:|---:|---:|---:|---|");
    for (pi, path) in pages.iter().enumerate() {
        for (si, p) in [&small, &large].into_iter().enumerate() {
            let on = stats(&mut audit_times[(pi * 2 + si) * 2]);
            let off = stats(&mut audit_times[(pi * 2 + si) * 2 + 1]);
            let ratio = on.median / off.median;
            let pass = ratio <= AUDIT_TARGET_RATIO;
            missed |= !pass;
            println!("| `{path}` | {} | {:.2} | {:.2} | {:.3} | {} |", p.entries, on.median, off.median, ratio, if pass { "PASS" } else { "MISS" });
        }
    }
    println!("\nService calls alone (Kith::summary / Kith::timeline, no HTTP or HTML), milliseconds:\n");
    println!("| call | entries | median | p95 | ratio (medians) |");
    println!("|---|---:|---:|---:|---:|");
    for (ci, call) in ["summary", "timeline (first page)"].iter().enumerate() {
        let a = stats(&mut service[ci * 2]);
        let b = stats(&mut service[ci * 2 + 1]);
        println!("| {call} | {SMALL} | {:.2} | {:.2} | |", a.median, a.p95);
        println!("| {call} | {LARGE} | {:.2} | {:.2} | {:.2} |", b.median, b.p95, b.median / a.median);
    }
    if load.seconds > 0.0 {
        under_load(&[&app, &app_off], &[&small, &large], load).await;
    }
    missed
}

/// The access log's cost under load: requests per second with logging on
/// and off, alternating, so both see the same moments of the machine.
async fn under_load(routers: &[&Router; 2], patients: &[&Patient; 2], load: Load) {
    const ROUNDS: usize = 3;
    println!("\nFor comparison, no target: the same pages under load, {} requests at a time for {} s a round, {ROUNDS} rounds, logging on and off alternating (requests per second, the median round; off / on, the median of the rounds' ratios):\n", load.concurrency, load.seconds);
    println!("| page | entries | logging on | logging off | off / on |");
    println!("|---|---:|---:|---:|---:|");
    for path in ["/", "/timeline"] {
        for p in patients {
            let mut rates: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
            for _ in 0..ROUNDS {
                for (oi, router) in routers.iter().enumerate() {
                    rates[oi].push(requests_per_second(router, path, &p.cookie, load).await);
                }
            }
            // The ratio is taken round by round, so each compares the two
            // routers at the same moments of the machine.
            let mut ratios: Vec<f64> = rates[1].iter().zip(&rates[0]).map(|(off, on)| off / on).collect();
            let median = |v: &mut Vec<f64>| {
                v.sort_by(f64::total_cmp);
                v[v.len() / 2]
            };
            let (on, off, ratio) = (median(&mut rates[0]), median(&mut rates[1]), median(&mut ratios));
            println!("| `{path}` | {} | {on:.0} | {off:.0} | {ratio:.3} |", p.entries);
        }
    }
}

/// Requests completed per second by `load.concurrency` clients, each sending
/// the next request as soon as the last one's body is in.
async fn requests_per_second(app: &Router, path: &'static str, cookie: &str, load: Load) -> f64 {
    let start = Instant::now();
    let until = start + Duration::from_secs_f64(load.seconds);
    let clients: Vec<_> = (0..load.concurrency)
        .map(|_| {
            let (app, cookie) = (app.clone(), cookie.to_string());
            tokio::spawn(async move {
                let mut done = 0u64;
                while Instant::now() < until {
                    let (status, _) = get(&app, path, &cookie).await;
                    assert_eq!(status, StatusCode::OK);
                    done += 1;
                }
                done
            })
        })
        .collect();
    let mut total = 0;
    for c in clients {
        total += c.await.expect("a load client failed");
    }
    total as f64 / start.elapsed().as_secs_f64()
}

struct Stats {
    median: f64,
    p95: f64,
    mean: f64,
}

fn stats(v: &mut [Duration]) -> Stats {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let n = v.len();
    let p95 = ((n as f64 * 0.95).ceil() as usize).clamp(1, n) - 1;
    Stats { median: ms(v[n / 2]), p95: ms(v[p95]), mean: v.iter().map(|d| ms(*d)).sum::<f64>() / n as f64 }
}

async fn make_patient(kith: &Kith, entries: usize, nhs: &str, name: &str, email: &str) -> Patient {
    let nhs = NhsNumber::parse(nhs).expect("a valid NHS Number");
    kith.create_user(NewUser {
        name: name.into(),
        email: email.into(),
        password: PASSWORD.into(),
        role: "patient".into(),
        nhs_number: nhs.as_str().into(),
        birth_date: "1950-05-17".into(),
        organisation: String::new(),
    })
    .await
    .expect("create patient");
    let access = kith.open_record(&Principal::Operator, &nhs, Right::Contribute).await.expect("open record");
    let (gp, hospital) = feeds(entries, &nhs, name);
    let mut new = 0;
    for (file, bytes, kind) in [("gp.json", gp, SourceKind::Gp), ("hospital.json", hospital, SourceKind::Hospital)] {
        let req = ImportRequest { file_name: file.into(), bytes, source_kind: Some(kind), source_name: None, max_bytes: usize::MAX };
        match kith.import(&access, req).await.expect("import") {
            ImportOutcome::Accepted(s) => new += s.new,
            other => panic!("feed {file} not accepted: {other:?}"),
        }
    }
    let total = kith.record_row_counts(&access).await.expect("counts").into_iter().find(|(t, _)| t == "entries").map(|(_, n)| n).unwrap_or(0);
    assert_eq!(total as usize, entries, "every generated fact is its own entry (nothing merged); {new} new resources");
    Patient { entries, nhs, email: email.into(), name: name.into(), cookie: String::new(), access }
}

// --- HTTP -------------------------------------------------------------------

async fn sign_in(app: &Router, mut p: Patient) -> Patient {
    let body = format!("email={}&password={}", p.email.replace('@', "%40"), PASSWORD.replace(' ', "+"));
    let req = Request::post("/api/sign_in")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "text/html,application/xhtml+xml")
        .header(header::REFERER, "http://127.0.0.1:3000/sign-in")
        .body(Body::from(body))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND, "sign-in redirects");
    p.cookie = res
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("kith_session="))
        .and_then(|v| v.split(';').next())
        .expect("sign-in sets the session cookie")
        .to_string();
    p
}

async fn get(app: &Router, path: &str, cookie: &str) -> (StatusCode, String) {
    let req = Request::get(path).header(header::ACCEPT, "text/html").header(header::COOKIE, cookie).body(Body::empty()).unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

// --- Generated feeds ----------------------------------------------------------

/// A small deterministic generator, so every run imports the same record.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn float(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next() % 10_000) as f64 / 10_000.0
    }
}

/// How many of each kind a record of `n` entries has: mostly results and
/// measurements, as in real records. Both sizes have the same allergies and
/// the same number of current problems and medicines (see `CURRENT`), so the
/// summary shows as much for each: what differs is the history behind it.
fn plan(n: usize) -> [(&'static str, usize); 7] {
    let allergies = ALLERGIES.len();
    let share = |pct: usize| n * pct / 100;
    let (vitals, encounters, conditions, medicines, immunisations) = (share(22), share(14), share(8), share(10), share(6));
    let results = n - allergies - vitals - encounters - conditions - medicines - immunisations;
    [
        ("result", results),
        ("vital-sign", vitals),
        ("encounter", encounters),
        ("condition", conditions),
        ("medication", medicines),
        ("immunisation", immunisations),
        ("allergy", allergies),
    ]
}

/// Spread `count` events over 1996-01-01 .. 2025-12-31, each at its own minute.
fn when(i: usize, count: usize, offset_minutes: i64) -> chrono::NaiveDateTime {
    let start = chrono::NaiveDate::from_ymd_opt(1996, 1, 1).unwrap().and_hms_opt(8, 0, 0).unwrap();
    let span_minutes: i64 = 30 * 365 * 24 * 60;
    start + chrono::Duration::minutes(i as i64 * span_minutes / count.max(1) as i64 + offset_minutes)
}

fn uuid(kind: u32, i: usize) -> String {
    format!("{kind:08x}-0000-4000-8000-{i:012x}")
}

fn coding(system: &str, code: &str, display: &str) -> Value {
    json!({ "coding": [{ "system": system, "code": code, "display": display }], "text": display })
}

/// Active problems and current medicines in either record.
const CURRENT: usize = 4;

const SCT: &str = "http://snomed.info/sct";
const LOINC: &str = "http://loinc.org";

// (LOINC, name, unit, low, high)
const LABS: [(&str, &str, &str, f64, f64); 8] = [
    ("59261-8", "HbA1c", "mmol/mol", 20.0, 42.0),
    ("14682-9", "Serum creatinine", "umol/L", 45.0, 90.0),
    ("33914-3", "eGFR", "mL/min/1.73m2", 60.0, 120.0),
    ("14647-2", "Total cholesterol", "mmol/L", 2.5, 5.0),
    ("2951-2", "Serum sodium", "mmol/L", 133.0, 146.0),
    ("2823-3", "Serum potassium", "mmol/L", 3.5, 5.3),
    ("718-7", "Haemoglobin", "g/L", 115.0, 165.0),
    ("3016-3", "TSH", "mU/L", 0.27, 4.2),
];
const CONDITIONS: [(&str, &str); 16] = [
    ("44054006", "Type 2 diabetes mellitus"),
    ("38341003", "Hypertension"),
    ("195967001", "Asthma"),
    ("13645005", "Chronic obstructive lung disease"),
    ("396275006", "Osteoarthritis"),
    ("35489007", "Depressive disorder"),
    ("197480006", "Anxiety disorder"),
    ("68566005", "Urinary tract infection"),
    ("444814009", "Viral sinusitis"),
    ("10509002", "Acute bronchitis"),
    ("36971009", "Sinusitis"),
    ("43878008", "Streptococcal sore throat"),
    ("279039007", "Low back pain"),
    ("37796009", "Migraine"),
    ("40055000", "Chronic sinusitis"),
    ("271737000", "Anaemia"),
];
const MEDICINES: [(&str, &str); 12] = [
    ("325278007", "Metformin 500mg tablets"),
    ("318858007", "Ramipril 5mg capsules"),
    ("320000009", "Simvastatin 40mg tablets"),
    ("322236009", "Paracetamol 500mg tablets"),
    ("323509004", "Amoxicillin 500mg capsules"),
    ("321965000", "Sertraline 50mg tablets"),
    ("317935006", "Amlodipine 5mg tablets"),
    ("320761005", "Salbutamol 100micrograms/dose inhaler"),
    ("329652003", "Ibuprofen 400mg tablets"),
    ("318475005", "Omeprazole 20mg capsules"),
    ("330164003", "Levothyroxine 50microgram tablets"),
    ("324357002", "Trimethoprim 200mg tablets"),
];
const VACCINES: [(&str, &str); 5] = [
    ("1181000221105", "Seasonal influenza vaccine"),
    ("1119349007", "COVID-19 mRNA vaccine"),
    ("836398006", "Pneumococcal vaccine"),
    ("871751006", "Shingles vaccine"),
    ("333621002", "Tetanus and diphtheria vaccine"),
];
const ALLERGIES: [(&str, &str); 2] = [("764146007", "Penicillin"), ("256349002", "Peanut")];
// (SNOMED, type, class)
const ENCOUNTERS: [(&str, &str, &str); 5] = [
    ("11429006", "Consultation", "AMB"),
    ("185317003", "Telephone consultation", "VR"),
    ("183460006", "Outpatient appointment", "AMB"),
    ("50849002", "Emergency department visit", "EMER"),
    ("32485007", "Hospital admission", "IMP"),
];

/// The GP practice's and the hospital's feeds for a record of `n` entries.
fn feeds(n: usize, nhs: &NhsNumber, name: &str) -> (Vec<u8>, Vec<u8>) {
    let mut rng = Rng(n as u64 ^ 0x5eed);
    let patient_id = uuid(1, 0);
    let subject = json!({ "reference": format!("urn:uuid:{patient_id}") });
    let (given, family) = name.split_once(' ').unwrap_or((name, ""));
    let patient = json!({
        "resourceType": "Patient", "id": patient_id,
        "identifier": [{ "system": NHS_NUMBER_SYSTEM, "value": nhs.as_str() }],
        "name": [{ "use": "official", "family": family, "given": [given] }],
        "gender": "female", "birthDate": "1950-05-17"
    });
    let org = |id: String, name: &str, ods: &str| {
        json!({ "resourceType": "Organization", "id": id, "name": name,
                "identifier": [{ "system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": ods }] })
    };
    let mut gp = vec![patient.clone(), org(uuid(2, 0), "Benchmark Surgery", "B99001")];
    let mut hospital = vec![patient, org(uuid(2, 1), "Benchmark General Hospital", "RBEN1")];

    for (kind_no, (kind, count)) in plan(n).into_iter().enumerate() {
        // Each kind's events sit at their own minute offset as well.
        let offset = kind_no as i64 * 7;
        // A few current problems and medicines; the rest are history.
        let current = CURRENT.min(count);
        let every = (count / current.max(1)).max(1);
        for i in 0..count {
            let at = when(i, count, offset);
            let day = at.format("%Y-%m-%d").to_string();
            let instant = at.format("%Y-%m-%dT%H:%M:00+00:00").to_string();
            let id = uuid(10 + kind_no as u32, i);
            let is_current = i % every == 0 && i / every < current;
            let (res, to_gp) = match kind {
                "result" => {
                    let (code, text, unit, lo, hi) = LABS[i % LABS.len()];
                    let abnormal = rng.below(100) < 15;
                    let value = if abnormal { hi * rng.float(1.05, 1.4) } else { rng.float(lo, hi) };
                    let value = (value * 10.0).round() / 10.0;
                    let mut r = json!({
                        "resourceType": "Observation", "id": id, "status": "final",
                        "category": [coding("http://terminology.hl7.org/CodeSystem/observation-category", "laboratory", "Laboratory")],
                        "code": { "coding": [{ "system": LOINC, "code": code, "display": text }], "text": text },
                        "subject": subject, "effectiveDateTime": instant, "issued": instant,
                        "valueQuantity": { "value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit },
                        "referenceRange": [{ "low": { "value": lo, "unit": unit }, "high": { "value": hi, "unit": unit } }]
                    });
                    if abnormal {
                        r["interpretation"] = json!([coding("http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "H", "High")]);
                    }
                    (r, false)
                }
                "vital-sign" => {
                    let category = json!([coding("http://terminology.hl7.org/CodeSystem/observation-category", "vital-signs", "Vital Signs")]);
                    let r = match i % 3 {
                        0 => json!({
                            "resourceType": "Observation", "id": id, "status": "final", "category": category,
                            "code": { "coding": [{ "system": LOINC, "code": "85354-9", "display": "Blood pressure panel" }], "text": "Blood pressure" },
                            "subject": subject, "effectiveDateTime": instant,
                            "component": [
                                { "code": { "coding": [{ "system": LOINC, "code": "8480-6", "display": "Systolic blood pressure" }] },
                                  "valueQuantity": { "value": 115 + rng.below(40), "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]" } },
                                { "code": { "coding": [{ "system": LOINC, "code": "8462-4", "display": "Diastolic blood pressure" }] },
                                  "valueQuantity": { "value": 70 + rng.below(25), "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]" } }
                            ]
                        }),
                        1 => json!({
                            "resourceType": "Observation", "id": id, "status": "final", "category": category,
                            "code": { "coding": [{ "system": LOINC, "code": "29463-7", "display": "Body weight" }], "text": "Body weight" },
                            "subject": subject, "effectiveDateTime": instant,
                            "valueQuantity": { "value": (rng.float(62.0, 80.0) * 10.0).round() / 10.0, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg" }
                        }),
                        _ => json!({
                            "resourceType": "Observation", "id": id, "status": "final", "category": category,
                            "code": { "coding": [{ "system": LOINC, "code": "8867-4", "display": "Heart rate" }], "text": "Heart rate" },
                            "subject": subject, "effectiveDateTime": instant,
                            "valueQuantity": { "value": 58 + rng.below(40), "unit": "beats/minute", "system": "http://unitsofmeasure.org", "code": "/min" }
                        }),
                    };
                    (r, true)
                }
                "encounter" => {
                    let (code, text, class) = ENCOUNTERS[i % ENCOUNTERS.len()];
                    let end = (at + chrono::Duration::minutes(20)).format("%Y-%m-%dT%H:%M:00+00:00").to_string();
                    let r = json!({
                        "resourceType": "Encounter", "id": id, "status": "finished",
                        "class": { "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": class },
                        "type": [coding(SCT, code, text)],
                        "subject": subject, "period": { "start": instant, "end": end }
                    });
                    (r, i % 2 == 0)
                }
                "condition" => {
                    let (code, text) = CONDITIONS[i % CONDITIONS.len()];
                    let status = if is_current { "active" } else { "resolved" };
                    let mut r = json!({
                        "resourceType": "Condition", "id": id,
                        "clinicalStatus": coding("http://terminology.hl7.org/CodeSystem/condition-clinical", status, status),
                        "verificationStatus": coding("http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", "Confirmed"),
                        "category": [coding("http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item", "Problem List Item")],
                        "code": coding(SCT, code, text), "subject": subject,
                        "onsetDateTime": day, "recordedDate": day
                    });
                    if !is_current {
                        r["abatementDateTime"] = json!((at + chrono::Duration::days(21)).format("%Y-%m-%d").to_string());
                    }
                    (r, true)
                }
                "medication" => {
                    let (code, text) = MEDICINES[i % MEDICINES.len()];
                    let status = if is_current {
                        "active"
                    } else if i % 5 == 0 {
                        "stopped"
                    } else {
                        "completed"
                    };
                    let r = json!({
                        "resourceType": "MedicationRequest", "id": id, "status": status, "intent": "order",
                        "medicationCodeableConcept": { "coding": [{ "system": "https://dmd.nhs.uk", "code": code, "display": text }], "text": text },
                        "subject": subject, "authoredOn": day,
                        "dosageInstruction": [{ "text": "One to be taken each day" }]
                    });
                    (r, true)
                }
                "immunisation" => {
                    let (code, text) = VACCINES[i % VACCINES.len()];
                    let r = json!({
                        "resourceType": "Immunization", "id": id, "status": "completed",
                        "vaccineCode": coding(SCT, code, text), "patient": subject,
                        "occurrenceDateTime": day, "primarySource": true
                    });
                    (r, true)
                }
                "allergy" => {
                    let (code, text) = ALLERGIES[i % ALLERGIES.len()];
                    let r = json!({
                        "resourceType": "AllergyIntolerance", "id": id,
                        "clinicalStatus": coding("http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active", "Active"),
                        "verificationStatus": coding("http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "confirmed", "Confirmed"),
                        "type": "allergy", "criticality": "high",
                        "code": coding(SCT, code, text), "patient": subject, "recordedDate": day
                    });
                    (r, true)
                }
                _ => unreachable!(),
            };
            if to_gp {
                gp.push(res)
            } else {
                hospital.push(res)
            }
        }
    }
    let bundle = |resources: Vec<Value>| {
        let entry: Vec<Value> = resources.into_iter().map(|r| json!({ "fullUrl": format!("urn:uuid:{}", r["id"].as_str().unwrap()), "resource": r })).collect();
        serde_json::to_vec(&json!({ "resourceType": "Bundle", "type": "collection", "entry": entry })).unwrap()
    };
    (bundle(gp), bundle(hospital))
}

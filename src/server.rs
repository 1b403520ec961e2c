//! The HTTP server: Leptos pages and server functions, sessions, static
//! assets, and the headers every response gets.

use axum::body::Body;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use http::header::{HeaderValue, CACHE_CONTROL};
use kith_core::audit::PendingLogCommits;
use kith_core::Kith;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::net::SocketAddr;
use tower_http::compression::CompressionLayer;
use tower_sessions::cookie::{time, SameSite};
use tower_sessions::{Expiry, Session, SessionManagerLayer};

use crate::config::ServeOptions;

pub const SESSION_COOKIE: &str = "kith_session";

pub fn leptos_options(opts: &ServeOptions) -> LeptosOptions {
    LeptosOptions::builder().output_name("kith").site_root(opts.site_root.clone()).site_pkg_dir("pkg").site_addr(opts.addr).build()
}

/// The app's pages, listed once per process. Listing them renders the app
/// with every resource held back by a process-wide switch (leptos_server's
/// `SuppressResourceLoad`), and a page rendering elsewhere at that moment
/// whose resource first polls then waits forever (leptos issue #4773). A
/// server builds one router before it serves, but tests build many side by
/// side, and one in a few runs stalled (docs/decisions.md).
fn route_list() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(app::App)).clone()
}

/// The whole application as a router, ready to serve (or to drive in tests).
pub fn router(kith: Kith, opts: &ServeOptions) -> Router {
    let options = leptos_options(opts);
    let routes = route_list();

    let sessions = SessionManagerLayer::new(kith.session_store())
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(opts.public_url.starts_with("https://"))
        .with_expiry(Expiry::OnInactivity(time::Duration::minutes(opts.session_idle_minutes)));

    // Checked (with a clear error) in `serve` before the router is built.
    let providers = providers(opts).unwrap_or_default();
    let connections = connections(kith.clone(), opts).unwrap_or_else(|_| connections_none(kith.clone(), opts));
    let context = {
        let kith = kith.clone();
        let public_url = app::api::PublicUrl(opts.public_url.clone());
        let offered = crate::oidc::offered(&providers);
        let smart = connections.offered();
        move || {
            provide_context(kith.clone());
            provide_context(public_url.clone());
            provide_context(offered.clone());
            provide_context(smart.clone());
        }
    };
    Router::new()
        .leptos_routes_with_context(&options, routes, context, {
            let options = options.clone();
            move || app::shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler(app::shell))
        .with_state(options)
        // Pages and server functions only: downloads commit their log rows
        // in place, and live updates must stream.
        .layer(middleware::from_fn(hold_until_logged))
        .merge(crate::upload::routes(kith.clone(), opts.max_upload_mb as usize * 1024 * 1024))
        .merge(crate::downloads::routes(kith.clone()))
        .merge(crate::events::routes(kith.clone()))
        .merge(crate::oidc::routes(kith.clone(), providers, &opts.public_url))
        .merge(connections.routes())
        .layer(middleware::from_fn(keep_session_alive))
        .layer(middleware::from_fn(one_refusal_in_address))
        .layer(sessions)
        .layer(middleware::from_fn(security_headers))
        .layer(CompressionLayer::new())
}

/// The configured identity providers, ready to use (none are contacted yet).
pub fn providers(opts: &ServeOptions) -> anyhow::Result<Vec<kith_oidc::Provider>> {
    opts.oidc.providers()?.into_iter().map(|c| kith_oidc::Provider::new(c).map_err(|e| anyhow::anyhow!("{e}"))).collect()
}

/// The providers' FHIR APIs patients can connect (SMART on FHIR).
pub fn connections(kith: Kith, opts: &ServeOptions) -> anyhow::Result<crate::connect::Connections> {
    crate::connect::Connections::new(kith, opts.smart.connections()?, &opts.public_url, opts.smart.smart_refresh_hours)
}

fn connections_none(kith: Kith, opts: &ServeOptions) -> crate::connect::Connections {
    crate::connect::Connections::new(kith, vec![], &opts.public_url, opts.smart.smart_refresh_hours).expect("no providers cannot fail")
}

/// Private pages must not be cached anywhere but in memory; static assets may.
async fn security_headers(req: Request<Body>, next: Next) -> Response {
    let is_asset = req.uri().path().starts_with("/pkg/") || req.uri().path() == "/favicon.ico";
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    if !is_asset && !h.contains_key(CACHE_CONTROL) {
        h.insert(CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    }
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    // same-origin keeps the Referer that form posts without JavaScript need
    // to come back to their page, and sends nothing to other sites.
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    h.insert("content-security-policy", HeaderValue::from_static("frame-ancestors 'none'"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    res
}

/// A form refused without JavaScript is sent back to the page it came from
/// (its Referer) with the refusal added to the address as `__path` and
/// `__err`; server_fn adds another pair at each refusal without taking the
/// last one away. After a few, the address passes what browsers send as a
/// Referer, and the next refusal would land on the home page with what was
/// typed lost. Only the newest refusal is kept.
async fn one_refusal_in_address(req: Request<Body>, next: Next) -> Response {
    let mut res = next.run(req).await;
    let Some(location) = res.headers().get(http::header::LOCATION).and_then(|l| l.to_str().ok()) else {
        return res;
    };
    if let Some(kept) = newest_refusal_only(location) {
        if let Ok(value) = HeaderValue::from_str(&kept) {
            res.headers_mut().insert(http::header::LOCATION, value);
        }
    }
    res
}

/// `location` with only its last `__path` and `__err` pair (None: it has at
/// most one already).
fn newest_refusal_only(location: &str) -> Option<String> {
    let (base, rest) = location.split_once('?')?;
    let (query, fragment) = match rest.split_once('#') {
        Some((q, f)) => (q, Some(f)),
        None => (rest, None),
    };
    let pairs: Vec<&str> = query.split('&').collect();
    let is = |p: &str, key: &str| p.split('=').next() == Some(key);
    if pairs.iter().filter(|p| is(p, "__err")).count() < 2 {
        return None;
    }
    let last_path = pairs.iter().rposition(|p| is(p, "__path"));
    let last_err = pairs.iter().rposition(|p| is(p, "__err"));
    let kept: Vec<&str> = pairs
        .iter()
        .enumerate()
        .filter(|(i, p)| !(is(p, "__path") || is(p, "__err")) || Some(*i) == last_path || Some(*i) == last_err)
        .map(|(_, p)| *p)
        .collect();
    let mut out = format!("{base}?{}", kept.join("&"));
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    Some(out)
}

/// Activity keeps a signed-in session alive: the idle timeout counts from
/// the last request, not from sign-in. tower-sessions writes a session (and
/// renews its cookie's lifetime) only when its data changed, so a request
/// marks it active when it was last marked a minute or more ago: at most one
/// write a minute per session. Static assets do not count (and would load
/// the session for nothing).
async fn keep_session_alive(req: Request<Body>, next: Next) -> Response {
    let path = req.uri().path();
    let session = if path.starts_with("/pkg/") || path == "/favicon.ico" { None } else { req.extensions().get::<Session>().cloned() };
    let res = next.run(req).await;
    if let Some(session) = session {
        use kith_core::session_store::{LAST_ACTIVE_KEY, USER_ID_KEY};
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or_default();
        // Without a session cookie these answer None without a query.
        let signed_in = matches!(session.get::<String>(USER_ID_KEY).await, Ok(Some(_)));
        if signed_in {
            let last = session.get::<i64>(LAST_ACTIVE_KEY).await.ok().flatten();
            if last.is_none_or(|t| now - t >= 60) {
                if let Err(e) = session.insert(LAST_ACTIVE_KEY, now).await {
                    tracing::warn!(error = %e, "could not mark the session active");
                }
            }
        }
    }
    res
}

/// Sends a page or server-function answer only once the access-log rows of
/// what it shows are committed. Page views commit in the background while
/// the page renders (`kith_core::audit::PendingLogCommits`), so the flush to
/// disk overlaps the rendering instead of adding to it; here the whole body
/// is rendered, then the commits are awaited, and if one failed the page is
/// replaced by an error, so nothing is shown that is not in the log.
async fn hold_until_logged(mut req: Request<Body>, next: Next) -> Response {
    if req.uri().path().starts_with("/pkg/") {
        return next.run(req).await;
    }
    let pending = PendingLogCommits::default();
    req.extensions_mut().insert(pending.clone());
    let (parts, body) = next.run(req).await.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await;
    match (pending.settle().await, body) {
        (Ok(()), Ok(bytes)) => Response::from_parts(parts, Body::from(bytes)),
        (logged, body) => {
            if let Err(e) = logged {
                tracing::error!(error = %e, "an access-log commit failed: the response was withheld");
            }
            if let Err(e) = body {
                tracing::error!(error = %e, "rendering the response failed");
            }
            let mut res = Response::new(Body::from("Something went wrong on our side, and nothing was shown. Please try again in a moment."));
            *res.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
            res.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
            res
        }
    }
}

/// Runs the server until it is stopped.
pub async fn serve(kith: Kith, opts: ServeOptions) -> anyhow::Result<()> {
    // Issue #6: on PostgreSQL the app's own role must not be able to change
    // the access log. Say so when it can (never the URL: it may hold a password).
    if kith.db.backend() == kith_core::Backend::Postgres {
        match kith.db.log_exposure().await {
            Ok(Some(why)) => tracing::warn!(
                "the database role Kith runs as {why}, so it could change or delete access-log rows: \
                 run Kith as a login role granted kith_app, with the owner in KITH_DATABASE_OWNER_URL (README, \"On PostgreSQL\")"
            ),
            Ok(None) => tracing::info!("the access log is append-only for Kith's database role"),
            Err(e) => tracing::warn!(error = %e, "could not check whether Kith's database role can change the access log"),
        }
    }
    let site_js = std::path::Path::new(&opts.site_root).join("pkg").join("kith.js");
    if !site_js.exists() {
        tracing::warn!(
            site_root = %opts.site_root,
            "browser assets not found: pages work without JavaScript, but build them with `cargo leptos build` for the full app"
        );
    }
    // Expired sessions are removed in the background.
    let store = kith.session_store();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
        loop {
            tick.tick().await;
            if let Err(e) = store.delete_expired().await {
                tracing::warn!(error = %e, "could not remove expired sessions");
            }
        }
    });

    // Access-log chain heads are signed now and then, so later rewriting
    // of history can be shown (see kith_core::audit).
    kith.sign_checkpoints_every(std::time::Duration::from_secs(opts.audit_checkpoint_minutes * 60));
    // Emails queued with notifications are sent in the background; a mail
    // server that is down only delays them (kith_core::mail).
    if let Some(mail) = &kith.settings.mail {
        tracing::info!(?mail, "emails to patients are on");
        let kith = kith.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(3));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // Carers' access coming up for review is looked for every 10
            // minutes (and at start-up): it is news by the day, not the second.
            for round in 0u64.. {
                tick.tick().await;
                if round % 200 == 0 {
                    if let Err(e) = kith.queue_carer_reviews().await {
                        tracing::warn!(error = %e, "could not look for carers' access due for review");
                    }
                }
                match kith.send_due_mail().await {
                    Ok(run) if run != Default::default() => {
                        tracing::info!(sent = run.sent, failed = run.failed, given_up = run.given_up, "emails to patients")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "could not send emails to patients"),
                }
            }
        });
    }
    let offered = providers(&opts)?;
    // Connections are pulled when due, in the background.
    let puller = connections(kith.clone(), &opts)?;
    tokio::spawn(puller.schedule());
    for p in &offered {
        tracing::info!(provider = %p.config.id, issuer = %p.config.issuer, "sign-in provider configured");
    }
    let app = router(kith, &opts);
    let listener = tokio::net::TcpListener::bind(opts.addr).await.map_err(|e| anyhow::anyhow!("KITH_ADDR / --addr: cannot listen on {}: {e}", opts.addr))?;
    let addr = listener.local_addr()?;
    tracing::info!("Kith is listening on http://{addr} (public address {})", opts.public_url);
    println!("Kith is running: open {}", opts.public_url);
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_the_newest_refusal_stays_in_the_address() {
        use super::newest_refusal_only as newest;
        assert_eq!(newest("/add?kind=reading"), None);
        assert_eq!(newest("http://h/add?kind=reading&__path=%2Fapi%2Fx&__err=AAA"), None);
        assert_eq!(
            newest("http://h/add?kind=reading&__path=%2Fapi%2Fx&__err=AAA&__path=%2Fapi%2Fx&__err=BBB").as_deref(),
            Some("http://h/add?kind=reading&__path=%2Fapi%2Fx&__err=BBB")
        );
        assert_eq!(newest("/a?__path=p&__err=1&q=2&__path=p&__err=3#f").as_deref(), Some("/a?q=2&__path=p&__err=3#f"));
    }
}

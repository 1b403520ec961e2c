//! HTTP tests on the real router (pages, server functions, sessions, headers),
//! on SQLite and PostgreSQL.

use axum::body::Body;
use axum::Router;
use http::{header, Request, Response, StatusCode};
use http_body_util::BodyExt;
use kith::config::ServeOptions;
use kith_core::testing::TestDb;
use kith_core::{backend_tests, NewUser};
use tower::ServiceExt;

const PASSWORD: &str = "kettle orange stairs";

fn app(db: &TestDb) -> Router {
    kith::server::router(db.kith.clone(), &ServeOptions::default())
}

async fn add_margaret(db: &TestDb) {
    db.kith
        .create_user(NewUser {
            name: "Margaret Jones".into(),
            email: "margaret@example.com".into(),
            password: PASSWORD.into(),
            role: "patient".into(),
            nhs_number: "9434765919".into(),
            birth_date: "1948-03-27".into(),
            organisation: String::new(),
        })
        .await
        .unwrap();
}

/// A plain HTML form post, as a browser without JavaScript sends it.
async fn form_post(app: &Router, path: &str, body: &str, cookie: Option<&str>) -> Response<Body> {
    let mut req = Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "text/html,application/xhtml+xml")
        .header(header::REFERER, "http://127.0.0.1:3000/sign-in");
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    app.clone().oneshot(req.body(Body::from(body.to_string())).unwrap()).await.unwrap()
}

async fn get(app: &Router, path: &str, cookie: Option<&str>) -> Response<Body> {
    let mut req = Request::get(path).header(header::ACCEPT, "text/html");
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    app.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap()
}

async fn text(res: Response<Body>) -> String {
    String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

/// The session cookie set by a response, as `name=value`, with its attributes.
fn session_cookie(res: &Response<Body>) -> Option<(String, String)> {
    res.headers().get_all(header::SET_COOKIE).iter().find_map(|v| {
        let v = v.to_str().ok()?;
        if !v.starts_with("kith_session=") {
            return None;
        }
        let pair = v.split(';').next()?.to_string();
        Some((pair, v.to_string()))
    })
}

async fn sign_in(app: &Router, cookie: Option<&str>) -> (Response<Body>, String) {
    let res = form_post(app, "/api/sign_in", &format!("email=margaret%40example.com&password={}", PASSWORD.replace(' ', "+")), cookie).await;
    let (pair, _) = session_cookie(&res).expect("sign-in sets the session cookie");
    (res, pair)
}

/// Building a router lists the app's pages by rendering the app with every
/// resource held back by a process-wide switch (leptos issue #4773); a page
/// rendering meanwhile must not stall. Tests build routers side by side.
async fn pages_render_while_routers_are_built(db: &TestDb) {
    add_margaret(db).await;
    let app = app(db);
    let (_, cookie) = sign_in(&app, None).await;
    let builder = {
        let kith = db.kith.clone();
        tokio::spawn(async move {
            for _ in 0..40 {
                drop(kith::server::router(kith.clone(), &ServeOptions::default()));
                tokio::task::yield_now().await;
            }
        })
    };
    for _ in 0..40 {
        let res = tokio::time::timeout(std::time::Duration::from_secs(10), get(&app, "/timeline", Some(&cookie)))
            .await
            .expect("a page stalled while a router was being built");
        assert_eq!(res.status(), StatusCode::OK);
    }
    builder.await.unwrap();
}

async fn sign_in_redirects_home_with_a_safe_cookie(db: &TestDb) {
    add_margaret(db).await;
    let app = app(db);
    let (res, cookie) = sign_in(&app, None).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers()[header::LOCATION], "/");
    let (_, attrs) = session_cookie(&res).unwrap();
    assert!(attrs.contains("HttpOnly"), "{attrs}");
    assert!(attrs.contains("SameSite=Lax"), "{attrs}");
    assert!(!attrs.contains("Secure"), "plain http deployment: {attrs}");
    assert!(attrs.contains("Max-Age=1800"), "idle timeout of 30 minutes: {attrs}");

    let home = get(&app, "/", Some(&cookie)).await;
    assert_eq!(home.status(), StatusCode::OK);
    assert_eq!(home.headers()[header::CACHE_CONTROL], "private, no-store");
    let body = text(home).await;
    assert!(body.contains("Hello, <!>Margaret Jones") || body.contains("Margaret Jones"), "{body}");
    assert!(body.contains("943 476 5919"));
    assert!(body.contains("27 Mar 1948"));
    assert!(body.contains("<nav"));
}

async fn cookie_is_secure_behind_https(db: &TestDb) {
    add_margaret(db).await;
    let opts = ServeOptions { public_url: "https://kith.example".into(), ..ServeOptions::default() };
    let app = kith::server::router(db.kith.clone(), &opts);
    let res = form_post(&app, "/api/sign_in", &format!("email=margaret%40example.com&password={}", PASSWORD.replace(' ', "+")), None).await;
    let (_, attrs) = session_cookie(&res).unwrap();
    assert!(attrs.contains("Secure"), "{attrs}");
}

async fn signed_out_visitors_are_sent_to_sign_in(db: &TestDb) {
    let app = app(db);
    let res = get(&app, "/", None).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers()[header::LOCATION], "/sign-in");
    let res = get(&app, "/account", Some("kith_session=forged-or-expired")).await;
    assert_eq!(res.status(), StatusCode::FOUND);
}

async fn sign_in_rotates_the_session_id(db: &TestDb) {
    add_margaret(db).await;
    let app = app(db);
    let (_, first) = sign_in(&app, None).await;
    let (_, second) = sign_in(&app, Some(&first)).await;
    assert_ne!(first, second, "signing in again issues a new session id");
    // The old id no longer works.
    assert_eq!(get(&app, "/", Some(&first)).await.status(), StatusCode::FOUND);
    assert_eq!(get(&app, "/", Some(&second)).await.status(), StatusCode::OK);
}

async fn sign_out_ends_the_session_on_the_server(db: &TestDb) {
    add_margaret(db).await;
    let app = app(db);
    let (_, cookie) = sign_in(&app, None).await;
    let res = form_post(&app, "/api/sign_out", "", Some(&cookie)).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert!(res.headers()[header::LOCATION].to_str().unwrap().starts_with("/sign-in"));
    // Even a client that keeps the old cookie is signed out.
    assert_eq!(get(&app, "/", Some(&cookie)).await.status(), StatusCode::FOUND);
}

async fn wrong_password_comes_back_to_the_form_with_a_message(db: &TestDb) {
    add_margaret(db).await;
    let app = app(db);
    let res = form_post(&app, "/api/sign_in", "email=margaret%40example.com&password=wrong+wrong+wrong", None).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let loc = res.headers()[header::LOCATION].to_str().unwrap().to_string();
    assert!(loc.contains("/sign-in") && loc.contains("__err="), "{loc}");
    assert!(session_cookie(&res).is_none(), "no session for a failed sign-in");
    // Following the redirect shows the message, with the email kept.
    let path = loc.trim_start_matches("http://127.0.0.1:3000");
    let page = text(get(&app, path, None).await).await;
    assert!(page.contains("The email address or password is not right"), "{page}");
    assert!(page.contains("value=\"margaret@example.com\""));
}

async fn repeated_failures_are_refused_and_the_page_says_so(db: &TestDb) {
    add_margaret(db).await;
    let app = app(db);
    for _ in 0..5 {
        form_post(&app, "/api/sign_in", "email=margaret%40example.com&password=wrong+wrong+wrong", None).await;
    }
    let res = form_post(&app, "/api/sign_in", &format!("email=margaret%40example.com&password={}", PASSWORD.replace(' ', "+")), None).await;
    assert!(session_cookie(&res).is_none(), "locked account does not sign in even with the right password");
    let loc = res.headers()[header::LOCATION].to_str().unwrap().to_string();
    let page = text(get(&app, loc.trim_start_matches("http://127.0.0.1:3000"), None).await).await;
    assert!(page.contains("Too many failed sign-in attempts"), "{page}");
}

async fn sign_up_creates_account_and_signs_in(db: &TestDb) {
    let app = app(db);
    let body = "name=Ann+Smith&email=ann%40example.com&password=blue+harbour+kite&role=carer&nhs_number=&birth_date=";
    let res = form_post(&app, "/api/sign_up", body, None).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers()[header::LOCATION], "/");
    let (cookie, _) = session_cookie(&res).unwrap();
    let page = text(get(&app, "/", Some(&cookie)).await).await;
    assert!(page.contains("Ann Smith"));
    assert!(page.contains("Family carer"));
}

async fn sign_up_errors_name_fields(db: &TestDb) {
    let app = app(db);
    let body = "name=&email=not-an-email&password=short&role=patient&nhs_number=9434765918&birth_date=";
    let res = form_post(&app, "/api/sign_up", body, None).await;
    let loc = res.headers()[header::LOCATION].to_str().unwrap().to_string();
    assert!(session_cookie(&res).is_none());
    // Referer here is /sign-in; point the error at the sign-up page as a browser would.
    let path = loc.trim_start_matches("http://127.0.0.1:3000").replace("/sign-in", "/sign-up");
    let page = text(get(&app, &path, None).await).await;
    for expected in [
        "Enter your full name",
        "Enter an email address in the right format",
        "Use at least 10 characters",
        "check digit",
        "aria-invalid=\"true\"",
        "value=\"not-an-email\"",
    ] {
        assert!(page.contains(expected), "missing {expected:?}");
    }
    assert!(!page.contains("value=\"short\""), "passwords are never echoed");
}

async fn every_server_function_refuses_without_a_session(db: &TestDb) {
    // Server functions anyone may call: how one gets a session in the first place.
    // Shared links are opened by people without an account; closing a shared
    // record only clears the session.
    const PUBLIC: &[&str] = &[
        "/api/current_user",
        "/api/sign_in",
        "/api/sign_up",
        // The sign-in page's provider buttons: offered to everyone.
        "/api/sign_in_options",
        "/api/sign_out",
        "/api/sharing/link_prompt",
        "/api/sharing/open_link",
        "/api/sharing/close_record",
        // An invitation's page: shows what it offers to whoever holds its
        // (unguessable) token, and keeps it for after they sign in.
        "/api/sharing/invitation",
        "/api/sharing/forget_invitation",
        // The second step of signing in: answers only a session that gave the right password.
        "/api/sign_in_code",
        // Answers an empty list to anyone who does not manage a record.
        "/api/sharing/notifications",
        // "Forgot your password?": for people who cannot sign in. Asking
        // answers the same for any address; a link's page and form need the
        // link's (unguessable) token.
        "/api/password_reset/available",
        "/api/password_reset/ask",
        "/api/password_reset/check",
        "/api/password_reset/set",
        // A link to confirm an email address: its page says what it is for to
        // whoever holds its (unguessable) token, and keeps it for after they
        // sign in; confirming itself needs the account's session.
        "/api/email/confirmation",
    ];
    // Well-formed arguments for each private server function, so the call gets
    // past argument parsing and reaches the session check. A new server
    // function must be added here (or to PUBLIC, with a reason).
    const SAMPLE_ARGS: &[(&str, &str)] = &[
        ("/api/change_password", "current_password=a&new_password=b&confirm_password=b"),
        ("/api/keep_alive", ""),
        ("/api/sign_in_methods", ""),
        ("/api/add_password", "added_password=a&added_password_again=a"),
        ("/api/sources/connections", ""),
        ("/api/sign_in_methods/remove", "method="),
        ("/api/sign_out_everywhere", ""),
        ("/api/record/summary", ""),
        ("/api/record/timeline", "query[q]=asthma"),
        ("/api/record/entry", "id=anything"),
        ("/api/record/results", ""),
        ("/api/record/sources", "upload="),
        ("/api/record/confirm_held", "id=x"),
        ("/api/record/reject_held", "id=x"),
        ("/api/record/add_entry", "entry[kind]=condition&entry[text]=Asthma"),
        ("/api/record/own_entry", "id=x"),
        ("/api/record/change_entry", "entry_id=x&entry[kind]=condition&entry[text]=Asthma"),
        ("/api/record/remove_entry", "entry_id=x"),
        ("/api/sharing/shared_with_me", ""),
        ("/api/sharing/preview", "id=x"),
        ("/api/sharing/open_record", "patient_id=x"),
        ("/api/sharing/view", ""),
        ("/api/sharing/create_grant", "email=a%40example.com&role=clinician&scope=all"),
        ("/api/sharing/revoke_grant", "id=x"),
        ("/api/sharing/new_invitation", "id=x"),
        ("/api/sharing/accept_invitation", "token=x"),
        ("/api/sharing/create_link", "name=x&scope=all"),
        ("/api/sharing/revoke_link", "id=x"),
        ("/api/sharing/relabel_entry", "entry_id=x&label=general"),
        ("/api/sharing/renew_grant", "id=x"),
        ("/api/record/seen_by", "id=x"),
        ("/api/record/access_log", "query[person]="),
        ("/api/record/notice_emails", "on=false"),
        ("/api/record/break_glass", "nhs_number=9434765919&reason=unconscious+in+A%26E"),
        ("/api/together/comments", "entry_id=x"),
        ("/api/together/add_comment", "entry_id=x&body=hello"),
        ("/api/together/edit_comment", "id=x&body=hello"),
        ("/api/together/hide_comment", "id=x&hidden=true"),
        ("/api/together/care_plan", ""),
        ("/api/together/add_plan_item", "section=needs&item[text]=x"),
        ("/api/together/update_plan_item", "id=x&version=1&item[text]=x"),
        ("/api/together/remove_plan_item", "id=x"),
        ("/api/together/review_care_plan", "next_review=2030-01-01"),
        ("/api/two_step/status", ""),
        ("/api/two_step/begin", ""),
        ("/api/two_step/confirm", "code=123456"),
        ("/api/two_step/disable", "password=x"),
        ("/api/email/send_confirmation", ""),
        ("/api/email/confirm", "token=x"),
        ("/api/email/change", "new_email=a%40example.com&email_password=x"),
    ];
    let app = app(db);
    let mut checked = 0;
    for (path, method) in server_fn::axum::server_fn_paths() {
        if PUBLIC.contains(&path) {
            continue;
        }
        let args =
            SAMPLE_ARGS.iter().find(|(p, _)| *p == path).unwrap_or_else(|| panic!("{path} is a new server function: add sample arguments to SAMPLE_ARGS")).1;
        let req = Request::builder()
            .method(method.clone())
            .uri(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(args))
            .unwrap();
        let res = app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let body = text(res).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} answered {status}: {body}");
        let err: kith_types::AppError = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{path}: {body}"));
        assert_eq!(err, kith_types::AppError::Unauthenticated, "{path}");
        checked += 1;
    }
    assert!(checked >= 2, "expected to check the private server functions, checked {checked}");
    // current_user is public but tells a stranger nothing.
    let res = app
        .clone()
        .oneshot(Request::post("/api/current_user").header(header::CONTENT_TYPE, "application/x-www-form-urlencoded").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(text(res).await, "null");
}

async fn change_password_ends_other_sessions(db: &TestDb) {
    add_margaret(db).await;
    let app = app(db);
    let (_, phone) = sign_in(&app, None).await;
    let (_, laptop) = sign_in(&app, None).await;
    let res = form_post(
        &app,
        "/api/change_password",
        "current_password=kettle+orange+stairs&new_password=river+lantern+moss&confirm_password=river+lantern+moss",
        Some(&laptop),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert!(res.headers()[header::LOCATION].to_str().unwrap().contains("password_changed"));
    assert_eq!(get(&app, "/", Some(&laptop)).await.status(), StatusCode::OK, "this session stays");
    assert_eq!(get(&app, "/", Some(&phone)).await.status(), StatusCode::FOUND, "other sessions end");
}

async fn unknown_pages_are_404(db: &TestDb) {
    let app = app(db);
    let res = get(&app, "/no-such-page", None).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(text(res).await.contains("Page not found"));
}

async fn upload_without_a_session_is_refused(db: &TestDb) {
    add_margaret(db).await;
    let app = app(db);
    let body = "--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.json\"\r\nContent-Type: application/json\r\n\r\n{}\r\n--XX--\r\n";
    let req = Request::post("/record/upload").header(header::CONTENT_TYPE, "multipart/form-data; boundary=XX").body(Body::from(body)).unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert!(res.status().is_redirection());
    assert_eq!(res.headers()[header::LOCATION], "/sign-in");
}

async fn upload_imports_a_file_and_reports_once(db: &TestDb) {
    add_margaret(db).await;
    let app = app(db);
    let (_, cookie) = sign_in(&app, None).await;
    let feed = r#"{"resourceType":"Bundle","type":"collection","entry":[
        {"resource":{"resourceType":"Patient","id":"p","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9434765919"}]}},
        {"resource":{"resourceType":"Organization","id":"o","name":"Test Surgery"}},
        {"resource":{"resourceType":"Condition","id":"c1","subject":{"reference":"Patient/p"},"code":{"coding":[{"system":"http://snomed.info/sct","code":"195967001","display":"Asthma"}]},"onsetDateTime":"2020-01-02"}}]}"#;
    let body = format!(
        "--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"gp.json\"\r\nContent-Type: application/json\r\n\r\n{feed}\r\n\
         --XX\r\nContent-Disposition: form-data; name=\"source_kind\"\r\n\r\ngp\r\n--XX--\r\n"
    );
    let req = Request::post("/record/upload")
        .header(header::CONTENT_TYPE, "multipart/form-data; boundary=XX")
        .header(header::COOKIE, &cookie)
        .body(Body::from(body))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert!(res.status().is_redirection(), "{}", res.status());
    assert!(res.headers()[header::LOCATION].to_str().unwrap().starts_with("/sources"));
    let location = res.headers()[header::LOCATION].to_str().unwrap().split('#').next().unwrap().to_string();
    let page = text(get(&app, &location, Some(&cookie)).await).await;
    assert!(page.contains("File added"), "{page}");
    assert!(page.contains("Test Surgery"));
    let plain = text(get(&app, "/sources", Some(&cookie)).await).await;
    assert!(!plain.contains("File added"), "the result shows only on its own address");
    let timeline = text(get(&app, "/timeline?q=asth", Some(&cookie)).await).await;
    assert!(timeline.contains("Asthma"), "{timeline}");
}

async fn another_patients_entry_is_not_found(db: &TestDb) {
    add_margaret(db).await;
    let app = app(db);
    let (_, cookie) = sign_in(&app, None).await;
    let res = get(&app, "/entries/0000-not-mine", Some(&cookie)).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

/// A link opened with a wrong token tells nothing; a bad token cannot be used.
async fn unknown_links_are_not_found(db: &TestDb) {
    let app = app(db);
    let page = text(get(&app, "/l/0123456789abcdef0123456789abcdef", None).await).await;
    assert!(page.contains("This link cannot be opened"), "{page}");
    let res = app
        .clone()
        .oneshot(
            Request::post("/api/sharing/open_link")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from("token=nope&passcode=&name=a&role=b&organisation=c"))
                .unwrap(),
        )
        .await
        .unwrap();
    let err: kith_types::AppError = serde_json::from_str(&text(res).await).unwrap();
    assert_eq!(err, kith_types::AppError::NotFound);
}

/// IDOR: as patient B, every entry id of patient A through every server
/// function and route that takes one is not found.
async fn another_patients_ids_are_not_found_anywhere(db: &TestDb) {
    kith_core::demo::load(&db.kith).await.unwrap();
    db.kith
        .create_user(NewUser {
            name: "Bob Other".into(),
            email: "bob@example.com".into(),
            password: PASSWORD.into(),
            role: "patient".into(),
            nhs_number: "9000000009".into(),
            birth_date: "1950-01-01".into(),
            organisation: String::new(),
        })
        .await
        .unwrap();
    let margaret = db.kith.sign_in("margaret@demo.kith.example", PASSWORD, "10.8.0.1").await.unwrap();
    let access = db.kith.own_record(&margaret, kith_core::policy::Right::Read).await.unwrap();
    let ids: Vec<String> = db.kith.record(&access).await.unwrap().into_iter().map(|e| e.id).collect();
    assert!(ids.len() > 100);
    let app = app(db);
    let res = form_post(&app, "/api/sign_in", &format!("email=bob%40example.com&password={}", PASSWORD.replace(' ', "+")), None).await;
    let (cookie, _) = session_cookie(&res).unwrap();
    let call = |path: &'static str, body: String| {
        let app = app.clone();
        let cookie = cookie.clone();
        async move {
            let req = Request::post(path)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::COOKIE, cookie)
                .body(Body::from(body))
                .unwrap();
            let res = app.oneshot(req).await.unwrap();
            text(res).await
        }
    };
    for id in ids.iter().take(40) {
        for (path, body) in [
            ("/api/record/entry", format!("id={id}")),
            ("/api/sharing/relabel_entry", format!("entry_id={id}&label=private")),
            ("/api/sharing/open_record", format!("patient_id={}", access.patient_id())),
            ("/api/sharing/revoke_grant", format!("id={id}")),
            ("/api/sharing/revoke_link", format!("id={id}")),
            ("/api/sharing/renew_grant", format!("id={id}")),
            ("/api/sharing/preview", format!("id={id}")),
            ("/api/record/confirm_held", format!("id={id}")),
            ("/api/record/reject_held", format!("id={id}")),
            ("/api/record/seen_by", format!("id={id}")),
            ("/api/record/own_entry", format!("id={id}")),
            ("/api/record/change_entry", format!("entry_id={id}&entry[kind]=condition&entry[text]=Asthma")),
            ("/api/record/remove_entry", format!("entry_id={id}")),
            ("/api/together/comments", format!("entry_id={id}")),
            ("/api/together/add_comment", format!("entry_id={id}&body=hello")),
            ("/api/together/edit_comment", format!("id={id}&body=hello")),
            ("/api/together/hide_comment", format!("id={id}&hidden=true")),
            ("/api/together/update_plan_item", format!("id={id}&version=1&item[text]=x")),
            ("/api/together/remove_plan_item", format!("id={id}")),
        ] {
            let body = match tokio::time::timeout(std::time::Duration::from_secs(15), call(path, body)).await {
                Ok(b) => b,
                Err(_) => panic!("{path} for {id} did not answer within 15 s"),
            };
            let err: kith_types::AppError = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{path}: {body}"));
            assert_eq!(err, kith_types::AppError::NotFound, "{path} for {id}");
        }
        assert_eq!(get(&app, &format!("/entries/{id}"), Some(&cookie)).await.status(), StatusCode::NOT_FOUND);
        assert_eq!(get(&app, &format!("/entries/{id}/change"), Some(&cookie)).await.status(), StatusCode::NOT_FOUND);
    }
    // Nothing was relabelled.
    assert!(db.kith.record(&access).await.unwrap().iter().all(|e| e.label != "private"));
}

/// The `rel="next"` link of a list page, as the browser would follow it.
fn next_link(page: &str) -> Option<String> {
    let at = page.find("rel=\"next\"")?;
    let start = page[..at].rfind("href=\"")? + "href=\"".len();
    let end = start + page[start..].find('"')?;
    Some(page[start..end].replace("&amp;", "&"))
}

/// "Older entries" and "Older events" keep the filters in use (and only
/// those), and lead to the next page of the same filtered list.
async fn paging_keeps_the_filters(db: &TestDb) {
    kith_core::demo::load(&db.kith).await.unwrap();
    let app = app(db);
    let res = form_post(&app, "/api/sign_in", &format!("email=margaret%40demo.kith.example&password={}", PASSWORD.replace(' ', "+")), None).await;
    let (cookie, _) = session_cookie(&res).unwrap();

    // Every entry card names its kind (data-kind), so a filter lost on the
    // way to the second page would show.
    let kinds = |page: &str| page.split("data-kind=\"").skip(1).map(|s| s[..s.find('"').unwrap()].to_string()).collect::<Vec<_>>();
    let first = text(get(&app, "/timeline?kind=vital-sign&from=2000-01-01&q=", Some(&cookie)).await).await;
    let href = next_link(&first).expect("the demo record has more than a page of vital signs");
    assert!(href.starts_with("/timeline?kind=vital-sign&from=2000-01-01&after="), "{href}");
    let res = get(&app, &href, Some(&cookie)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let second = kinds(&text(res).await);
    assert!(!second.is_empty(), "the second page lists entries");
    assert!(second.iter().all(|k| k == "vital-sign"), "the second page is still filtered: {second:?}");

    // 101 views fill more than a page (100) of the Access log.
    let margaret = db.kith.sign_in("margaret@demo.kith.example", PASSWORD, "10.8.0.1").await.unwrap();
    let access = db.kith.own_record(&margaret, kith_core::policy::Right::Read).await.unwrap();
    for _ in 0..101 {
        db.kith.summary(&access).await.unwrap();
    }
    let first = text(get(&app, "/access-log?action=view&person=", Some(&cookie)).await).await;
    let href = next_link(&first).expect("101 views fill more than one page of the access log");
    assert!(href.starts_with("/access-log?action=view&before="), "{href}");
    // Each event names what was done in bold, after the person's role.
    let actions = |page: &str| page.split(") <span class=\"font-bold\">").skip(1).map(|s| s[..s.find('<').unwrap()].to_string()).collect::<Vec<_>>();
    let second = actions(&text(get(&app, &href, Some(&cookie)).await).await);
    assert!(!second.is_empty(), "the second page lists events");
    assert!(second.iter().all(|a| a == "Viewed"), "the second page is still filtered: {second:?}");
}

/// The access-log downloads: signed-out visitors go to sign in; a patient
/// gets their own log, which names the browser that viewed the record.
async fn access_log_downloads(db: &TestDb) {
    add_margaret(db).await;
    let app = app(db);
    let res = get(&app, "/access-log/export.csv", None).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[header::LOCATION], "/sign-in");
    let (_, cookie) = sign_in(&app, None).await;
    let req = Request::get("/")
        .header(header::ACCEPT, "text/html")
        .header(header::COOKIE, &cookie)
        .header(header::USER_AGENT, "KithTest/1.0")
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.clone().oneshot(req).await.unwrap().status(), StatusCode::OK);
    let res = get(&app, "/access-log/export.csv", Some(&cookie)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/csv"));
    assert!(res.headers()[header::CONTENT_DISPOSITION].to_str().unwrap().contains("attachment"));
    let csv = text(res).await;
    assert!(csv.starts_with("seq,time,action"), "{csv}");
    assert!(csv.contains("\"sign-in\""), "{csv}");
    assert!(csv.lines().any(|l| l.contains("\"summary\"") && l.contains("KithTest/1.0")), "{csv}");
    let res = get(&app, "/access-log/export.fhir.json", Some(&cookie)).await;
    let bundle: serde_json::Value = serde_json::from_str(&text(res).await).unwrap();
    assert_eq!(bundle["entry"][0]["resource"]["resourceType"], "AuditEvent");
    let res = get(&app, "/record/export.fhir.json", Some(&cookie)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let record: serde_json::Value = serde_json::from_str(&text(res).await).unwrap();
    assert_eq!(record["resourceType"], "Bundle");
    let res = get(&app, "/access-log/checkpoints.json", Some(&cookie)).await;
    let cps: serde_json::Value = serde_json::from_str(&text(res).await).unwrap();
    assert_eq!(cps["algorithm"], "ed25519");
    let res = get(&app, "/access-log/chain.json", Some(&cookie)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let chain = text(res).await;
    let check = kith_core::audit::verify_chain_file(&chain, &[], None).unwrap();
    assert!(check.ok() && check.records > 2, "{check:?}");
    // The page shows the log, checked.
    let page = text(get(&app, "/access-log", Some(&cookie)).await).await;
    assert!(page.contains("Checked: nothing in this log has been changed or removed"), "{page}");
    assert!(page.contains("(verified up to "), "{page}");
    // Seen again soon, it checks only the records since, and says so.
    let page = text(get(&app, "/access-log", Some(&cookie)).await).await;
    assert!(page.contains("Every record was checked from the first at ") && page.contains(r#"href="/access-log?check=all""#), "{page}");
    // What came since is the first look at this page, logged after its check.
    assert!(page.contains("the one added since was checked just now."), "{page}");
    // It says so when a record was changed behind the app's back: an older
    // one, changed in place, at the full check the page offers (and then
    // on every visit).
    db.tamper("UPDATE audit_events SET actor_name = 'Nobody' WHERE seq = 2").await;
    for path in ["/access-log?check=all", "/access-log"] {
        let page = text(get(&app, path, Some(&cookie)).await).await;
        assert!(page.contains("Warning: this log has been tampered with") && page.contains("The first problem is at record 2"), "{path}: {page}");
    }
}

/// An invitation link fills in the sign-up form.
async fn invitation_links_fill_in_sign_up(db: &TestDb) {
    let app = app(db);
    let page = text(get(&app, "/sign-up?email=new.person%40example.com&role=clinician", None).await).await;
    assert!(page.contains(r#"value="new.person@example.com""#), "{page}");
    assert!(
        page.contains(r#"value="clinician" checked"#)
            || page.contains(r#"checked value="clinician""#)
            || page.contains("id=\"role-clinician\" value=\"clinician\" checked"),
        "the role is chosen"
    );
}

/// Someone who opens an invitation before signing in has it kept in their
/// session as the token's hash, never the token (a copy of the sessions
/// table accepts nothing); signing in brings them back to it, and they
/// accept it from a page that holds no token.
async fn a_pending_invitation_is_kept_as_a_hash(db: &TestDb) {
    use kith_core::policy::Right;
    add_margaret(db).await;
    let k = &db.kith;
    let margaret = k.sign_in("margaret@example.com", PASSWORD, "10.0.0.1").await.unwrap();
    let owner = k.own_record(&margaret, Right::Manage).await.unwrap();
    let new_user = |name: &str, email: &str| NewUser {
        name: name.into(),
        email: email.into(),
        password: PASSWORD.into(),
        role: "carer".into(),
        nhs_number: String::new(),
        birth_date: String::new(),
        organisation: String::new(),
    };
    let sam = k.create_user(new_user("Sam Carer", "sam@example.com")).await.unwrap();
    let input = kith_core::sharing::GrantInput {
        email: "sam@example.com".into(),
        role: "carer".into(),
        scope: kith_core::policy::Scope::whole(),
        comment: false,
        contribute: false,
        act_for: false,
        expires_in_days: None,
    };
    let invitation = k.create_grant(&owner, &margaret, input, "http://kith.test").await.unwrap();
    let token = kith_core::testing::invitation_token(&invitation).to_string();

    let app = app(db);
    let res = get(&app, &format!("/invite/{token}"), None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let (cookie, _) = session_cookie(&res).expect("the session keeps the invitation");
    assert!(text(res).await.contains("has invited you to see their health record"));
    let kept = db.query_text("SELECT data FROM sessions WHERE data LIKE $1", "%pending_invite%").await.expect("kept in the session");
    assert!(!kept.contains(&token), "the token is not in the sessions table: {kept}");
    assert!(kept.contains(&kith_core::sharing::InvitationKey::Token(&token).hashed()));

    let res = form_post(&app, "/api/sign_in", &format!("email=sam%40example.com&password={}", PASSWORD.replace(' ', "+")), Some(&cookie)).await;
    assert_eq!(res.headers()[header::LOCATION], "/invite", "signing in leads back to the invitation");
    let (cookie, _) = session_cookie(&res).unwrap();
    let page = text(get(&app, "/invite", Some(&cookie)).await).await;
    assert!(page.contains("Sam Carer (sam@example.com)"), "{page}");
    assert!(!page.contains(&token));
    let res = form_post(&app, "/api/sharing/accept_invitation", "token=", Some(&cookie)).await;
    assert_eq!(res.headers()[header::LOCATION], "/");
    assert_eq!(k.shared_with_me(&sam).await.unwrap().len(), 1, "accepted");
}

async fn sign_out_everywhere_ends_every_session(db: &TestDb) {
    add_margaret(db).await;
    let app = app(db);
    let (_, phone) = sign_in(&app, None).await;
    let (_, laptop) = sign_in(&app, None).await;
    let me = db.kith.sign_in("margaret@example.com", PASSWORD, "10.0.0.1").await.unwrap();
    assert_eq!(db.kith.session_count(&me.user_id).await.unwrap(), 2);
    // The Account page lists both.
    let page = text(get(&app, "/account", Some(&laptop)).await).await;
    assert!(page.contains("Where you are signed in"), "{page}");
    let res = form_post(&app, "/api/sign_out_everywhere", "", Some(&laptop)).await;
    assert_eq!(res.headers()[header::LOCATION], "/sign-in?signed_out=everywhere");
    assert_eq!(db.kith.session_count(&me.user_id).await.unwrap(), 0);
    let res = get(&app, "/", Some(&phone)).await;
    assert_eq!(res.headers()[header::LOCATION], "/sign-in", "the other device is signed out too");
}

async fn provider_sign_in_refuses_what_this_browser_did_not_start(db: &TestDb) {
    let app = app(db);
    // No provider is configured here: starting is not found.
    assert_eq!(get(&app, "/auth/oidc/start?provider=patient", None).await.status(), StatusCode::NOT_FOUND);
    // A callback with no flow in the session: refused, shown, kept.
    let res = get(&app, "/auth/oidc/callback?code=stolen&state=forged", None).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[header::LOCATION], "/sign-in");
    let (cookie, _) = session_cookie(&res).expect("the notice is kept in a session");
    let page = text(get(&app, "/sign-in", Some(&cookie)).await).await;
    assert!(page.contains("was not started here"), "{page}");
    let failures = db.kith.sign_in_failures(10).await.unwrap();
    assert_eq!(failures.len(), 1);
    assert!(failures[0]["reason"].as_str().unwrap().contains("state"));
    // Shown once.
    let again = text(get(&app, "/sign-in", Some(&cookie)).await).await;
    assert!(!again.contains("was not started here"));
}

async fn connection_routes_answer_only_for_the_record(db: &TestDb) {
    add_margaret(db).await;
    let app = app(db);
    for path in ["/sources/connections/refresh", "/sources/connections/disconnect"] {
        let res = form_post(&app, path, "id=whatever", None).await;
        assert_eq!(res.headers()[header::LOCATION], "/sign-in", "{path} without a session");
    }
    let (_, cookie) = sign_in(&app, None).await;
    // Ray's connection, seen from Margaret's session: not found.
    db.kith
        .create_user(NewUser {
            name: "Ray".into(),
            email: "ray@example.com".into(),
            password: PASSWORD.into(),
            role: "patient".into(),
            nhs_number: "9992649690".into(),
            birth_date: "1961-07-04".into(),
            organisation: String::new(),
        })
        .await
        .unwrap();
    let ray = db.kith.sign_in("ray@example.com", PASSWORD, "10.0.0.1").await.unwrap();
    let rays = db.kith.own_record(&ray, kith_core::policy::Right::Manage).await.unwrap();
    let id = db.kith.connect_provider(&rays, "smart", "Riverside", "{}").await.unwrap();
    for path in ["/sources/connections/refresh", "/sources/connections/disconnect"] {
        let res = form_post(&app, path, &format!("id={id}"), Some(&cookie)).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(db.kith.connections(&rays).await.unwrap()[0].status, "connected", "untouched");
    // No provider is configured here.
    assert_eq!(get(&app, "/sources/connect/start?provider=smart", Some(&cookie)).await.status(), StatusCode::NOT_FOUND);
}

/// A page whose access-log row cannot be written is not shown: the page
/// view's commit runs while the page renders, and the response waits for it.
async fn a_page_that_cannot_be_logged_is_not_shown(db: &TestDb) {
    add_margaret(db).await;
    let app = app(db);
    let (_, cookie) = sign_in(&app, None).await;
    let res = get(&app, "/timeline", Some(&cookie)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(text(res).await.contains("Margaret Jones"));
    let patient = db.query_text("SELECT id FROM patients WHERE nhs_number = $1", "9434765919").await.unwrap();
    let before = db.log(&patient).await.len();
    db.block_next_log_row(&patient).await;
    for path in ["/", "/timeline"] {
        let res = get(&app, path, Some(&cookie)).await;
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        let body = text(res).await;
        assert!(body.contains("nothing was shown"), "{path}: the server's own refusal: {body}");
        assert!(!body.contains("Margaret") && !body.contains("9434765919") && !body.contains("943 476 5919"), "{path}: {body}");
    }
    assert_eq!(db.log(&patient).await.len(), before + 1, "only the blocking row");
}

/// A session times out after the idle time without requests, not after the
/// idle time since sign-in: a request renews it (and its cookie), at most
/// once a minute.
async fn activity_keeps_a_session_alive(db: &TestDb) {
    add_margaret(db).await;
    let app = app(db);
    let (_, cookie) = sign_in(&app, None).await;
    // The row is keyed by the hash of the id the cookie carries.
    let id = kith_core::session_store::stored_key(cookie.trim_start_matches("kith_session="));
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    // As if signed in 29.5 minutes ago and active only then: 30 seconds left.
    let data = db.query_text("SELECT data FROM sessions WHERE id = $1", &id).await.expect("the session is stored");
    // Edited as text: the record's 128-bit id does not survive serde_json::Value.
    let start = data.find("\"last_active\":").expect("sign-in marks the session active");
    let end = start + data[start..].find([',', '}']).unwrap();
    let data = format!("{}\"last_active\":{}{}", &data[..start], now_ms / 1000 - 1770, &data[end..]);
    db.execute("UPDATE sessions SET data = $1 WHERE id = $2", &[&data, &id]).await;
    db.exec(&format!("UPDATE sessions SET expires_at = {} WHERE id = '{id}'", now_ms + 30_000)).await;

    let res = get(&app, "/", Some(&cookie)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let (pair, attrs) = session_cookie(&res).expect("activity renews the session cookie");
    assert_eq!(pair, cookie, "the same session goes on");
    assert!(attrs.contains("Max-Age=1800"), "{attrs}");
    let expires_at: i64 = db.query_text("SELECT CAST(expires_at AS TEXT) FROM sessions WHERE id = $1", &id).await.unwrap().parse().unwrap();
    assert!(expires_at >= now_ms + 29 * 60_000, "the idle time counts from now: {} s left", (expires_at - now_ms) / 1000);

    // Within the minute, a request writes nothing.
    let res = get(&app, "/timeline", Some(&cookie)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(session_cookie(&res).is_none(), "renewed at most once a minute");

    // A signed-out visitor's requests create no session.
    let res = get(&app, "/sign-in", None).await;
    assert!(session_cookie(&res).is_none());
}

/// Without a mail server the page says whom to ask; a link that is not
/// (or no longer) good says so and offers a new one, without JavaScript.
async fn forgotten_password_pages_without_mail_or_with_a_dead_link(db: &TestDb) {
    let app = app(db);
    let page = text(get(&app, "/forgot-password", None).await).await;
    assert!(page.contains("This Kith does not send email") && !page.contains("Email me a link"), "{page}");
    // A form sent anyway comes back to its page with the reason.
    let res = form_post(&app, "/api/password_reset/ask", "email=margaret%40example.com", None).await;
    let loc = res.headers()[header::LOCATION].to_str().unwrap().to_string();
    let path = loc.trim_start_matches("http://127.0.0.1:3000").replace("/sign-in", "/forgot-password");
    assert!(path.starts_with("/forgot-password?"), "{path}");
    let page = text(get(&app, &path, None).await).await;
    assert!(page.contains("This Kith cannot send email"), "{page}");
    let page = text(get(&app, &format!("/reset-password/{}", "0".repeat(64)), None).await).await;
    assert!(page.contains("has expired or has already been used") && page.contains("href=\"/forgot-password\""), "{page}");
    assert!(!page.contains("Set my new password"));
}

/// Someone who opens an email confirmation link before signing in has its
/// hash kept in the session (never the token). Signing in to another
/// account does not confirm anything, by the page or by posting straight
/// to the server function, and the kept link is forgotten; signing in to
/// the link's own account confirms it from a page that holds no token.
async fn a_kept_confirmation_link_confirms_only_its_own_account(db: &TestDb) {
    use kith_core::email_confirmation::confirmation_hash;
    let (on, inbox) = kith_core::testing::with_mail(db).await;
    let k = &on.kith;
    let edna = k
        .create_user(NewUser {
            name: "Edna Mailer".into(),
            email: "edna@example.com".into(),
            password: PASSWORD.into(),
            role: "patient".into(),
            nhs_number: "9990770018".into(),
            birth_date: "1941-05-06".into(),
            organisation: String::new(),
        })
        .await
        .unwrap();
    k.send_email_confirmation(&edna).await.unwrap();
    let token = kith_core::testing::link_token(&inbox.wait_for(1).await, "/confirm-email/");
    let hash = confirmation_hash(&token);
    let kept = |hash: String| {
        let on = &on;
        async move { on.query_text("SELECT MAX(data) FROM sessions WHERE data LIKE $1", &format!("%{hash}%")).await }
    };
    let app = app(&on);
    let sign_in_as = |email: &'static str, cookie: String| {
        let app = app.clone();
        async move {
            let body = format!("email={}&password={}", email.replace('@', "%40"), PASSWORD.replace(' ', "+"));
            let res = form_post(&app, "/api/sign_in", &body, Some(&cookie)).await;
            let location = res.headers()[header::LOCATION].to_str().unwrap().to_string();
            (location, session_cookie(&res).expect("signing in sets the cookie").0)
        }
    };
    let open_signed_out = || {
        let app = app.clone();
        let token = token.clone();
        async move {
            let res = get(&app, &format!("/confirm-email/{token}"), None).await;
            assert_eq!(res.status(), StatusCode::OK);
            let (cookie, _) = session_cookie(&res).expect("the session keeps the link");
            let page = text(res).await;
            assert!(page.contains("data-testid=\"confirm-sign-in\"") && !page.contains("edna@example.com"), "asked to sign in, not shown the address: {page}");
            cookie
        }
    };
    let edna_confirmed = || async { k.me(&edna).await.unwrap().email_confirmed };

    // Opened on a device nobody is signed in on: kept as the hash.
    let cookie = open_signed_out().await;
    let data = kept(hash.clone()).await.expect("the session keeps the link's hash");
    assert!(!data.contains(&token), "the token is not in the sessions table");

    // Margaret signs in there: she is led to the page, told it is not her
    // account's link, and the link is forgotten.
    let (location, margaret) = sign_in_as("margaret@demo.kith.example", cookie).await;
    assert_eq!(location, "/confirm-email");
    let page = text(get(&app, "/confirm-email", Some(&margaret)).await).await;
    assert!(page.contains("data-testid=\"confirm-other-account\"") && !page.contains("edna@example.com"), "{page}");
    assert!(kept(hash.clone()).await.is_none(), "forgotten once shown to another account");
    let (location, _) = sign_in_as("margaret@demo.kith.example", margaret).await;
    assert_eq!(location, "/", "signing in again does not lead back to it");

    // Posting straight to the server function from another account's
    // session, with the kept link or with the token itself, confirms nothing.
    let (_, margaret) = sign_in_as("margaret@demo.kith.example", open_signed_out().await).await;
    let res = form_post(&app, "/api/email/confirm", "token=", Some(&margaret)).await;
    assert!(!res.headers()[header::LOCATION].to_str().unwrap().contains("email_confirmed"), "refused");
    assert!(kept(hash.clone()).await.is_none(), "forgotten once refused");
    let res = form_post(&app, "/api/email/confirm", &format!("token={token}"), Some(&margaret)).await;
    assert!(!res.headers()[header::LOCATION].to_str().unwrap().contains("email_confirmed"), "refused");
    assert!(!edna_confirmed().await, "another account confirmed nothing");

    // Edna signs in where she opened the link and confirms it.
    let (location, edna_session) = sign_in_as("edna@example.com", open_signed_out().await).await;
    assert_eq!(location, "/confirm-email");
    let page = text(get(&app, "/confirm-email", Some(&edna_session)).await).await;
    assert!(page.contains("data-testid=\"confirm-ready\"") && page.contains("edna@example.com"), "{page}");
    assert!(!page.contains(&token), "the page holds no token");
    let res = form_post(&app, "/api/email/confirm", "token=", Some(&edna_session)).await;
    assert_eq!(res.headers()[header::LOCATION], "/account?email_confirmed=1#email");
    assert!(edna_confirmed().await);
    assert!(kept(hash).await.is_none());
}

/// A form refused again and again without JavaScript comes back each time
/// to its page with only the newest refusal in the address, so the address
/// never outgrows what browsers send as a Referer.
async fn repeated_refusals_keep_one_error_in_the_address(db: &TestDb) {
    add_margaret(db).await;
    let app = app(db);
    let mut referer = "http://127.0.0.1:3000/sign-in?next=%2Faccount".to_string();
    for attempt in 0..3 {
        let req = Request::post("/api/sign_in")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "text/html")
            .header(header::REFERER, &referer)
            .body(Body::from(format!("email=margaret%40example.com&password=wrong{attempt}")))
            .unwrap();
        let res = app.clone().oneshot(req).await.unwrap();
        let location = res.headers()[header::LOCATION].to_str().unwrap().to_string();
        assert!(location.starts_with("http://127.0.0.1:3000/sign-in?next=%2Faccount&"), "{location}");
        assert_eq!(location.matches("__err=").count(), 1, "attempt {attempt}: {location}");
        assert_eq!(location.matches("__path=").count(), 1, "attempt {attempt}: {location}");
        referer = location;
    }
    let path = referer.trim_start_matches("http://127.0.0.1:3000");
    let page = text(get(&app, path, None).await).await;
    assert!(page.contains("not right"), "the page still shows the refusal: {page}");
}

backend_tests!(
    repeated_refusals_keep_one_error_in_the_address,
    a_kept_confirmation_link_confirms_only_its_own_account,
    forgotten_password_pages_without_mail_or_with_a_dead_link,
    activity_keeps_a_session_alive,
    paging_keeps_the_filters,
    pages_render_while_routers_are_built,
    a_page_that_cannot_be_logged_is_not_shown,
    connection_routes_answer_only_for_the_record,
    sign_out_everywhere_ends_every_session,
    provider_sign_in_refuses_what_this_browser_did_not_start,
    invitation_links_fill_in_sign_up,
    a_pending_invitation_is_kept_as_a_hash,
    access_log_downloads,
    another_patients_ids_are_not_found_anywhere,
    unknown_links_are_not_found,
    upload_without_a_session_is_refused,
    upload_imports_a_file_and_reports_once,
    another_patients_entry_is_not_found,
    sign_in_redirects_home_with_a_safe_cookie,
    cookie_is_secure_behind_https,
    signed_out_visitors_are_sent_to_sign_in,
    sign_in_rotates_the_session_id,
    sign_out_ends_the_session_on_the_server,
    wrong_password_comes_back_to_the_form_with_a_message,
    repeated_failures_are_refused_and_the_page_says_so,
    sign_up_creates_account_and_signs_in,
    sign_up_errors_name_fields,
    every_server_function_refuses_without_a_session,
    change_password_ends_other_sessions,
    unknown_pages_are_404,
);

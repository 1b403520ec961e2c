use kith_types::record::{source_kind_title, SourcesView};
use kith_types::Me;
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::{get_connections, get_sources, ConfirmHeld};
use crate::components::form::{error_of, ErrorSummary};
use crate::components::layout::{Authed, DoneNotice, ErrorPanel};

/// Kinds a person can choose for an uploaded file's organisation.
const KIND_CHOICES: [(&str, &str); 7] = [
    ("gp", "GP practice"),
    ("hospital", "Hospital"),
    ("mental-health", "Mental health service"),
    ("community", "Community service"),
    ("social-care", "Social care"),
    ("device", "Device or wearable"),
    ("patient", "Me (my own notes or app)"),
];

#[component]
pub fn SourcesPage() -> impl IntoView {
    // Created here, not inside Authed's render, so the server runs it once
    // (and alongside the session check rather than after it).
    let query = leptos_router::hooks::use_query_map();
    let upload = move || query.with(|q| q.get("upload").unwrap_or_default());
    let data = Resource::new(upload, get_sources);
    let connections = Resource::new(|| (), |_| get_connections());
    view! { <Title text="Sources – Kith"/><Authed render=move |me| sources(me, data, connections)/> }
}

type ConnectionsResource = Resource<Result<kith_types::ConnectionsView, kith_types::AppError>>;

fn sources(_me: Me, data: Resource<Result<SourcesView, kith_types::AppError>>, connections: ConnectionsResource) -> impl IntoView {
    view! {
        <h1 class="text-3xl font-bold mb-4">"Sources"</h1>
        <DoneNotice param="held" messages=&[
            ("confirmed", "The file has been added to your record."),
            ("rejected", "The file was not added to your record, and Kith no longer keeps it."),
        ]/>
        <p class="mb-4">"Every organisation and device that has sent information to your record."</p>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                connections.await.ok().map(|v| view! { <Connections v/> })
            })}
        </Suspense>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(v) => view! { <SourcesBody v/> }.into_any(),
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn SourcesBody(v: SourcesView) -> impl IntoView {
    let result = v.last_upload.clone().map(|r| {
        let (class, role) = match r.outcome.as_str() {
            "accepted" => ("notice-ok", "status"),
            "held" => ("notice-warn", "status"),
            _ => ("notice-error", "alert"),
        };
        view! {
            <div class=class role=role id="upload-result">
                <h2 class="font-bold text-lg">{match r.outcome.as_str() { "accepted" => "File added", "held" => "File waiting for you to check", _ => "File not added" }}</h2>
                <p><span class="font-semibold">{r.file.clone()}</span>": "{r.message.clone()}</p>
            </div>
        }
    });
    let patient = format!("{}, born {}", v.patient_name, v.patient_birth_date);
    // A refused confirmation (the file stays waiting) comes back here.
    let confirm_error = error_of(ServerAction::<ConfirmHeld>::new().value());
    view! {
        {result}
        {(!v.held.is_empty()).then(|| view! {
            <section class="notice-warn" aria-labelledby="held-heading">
                <h2 id="held-heading" class="text-xl font-bold">"Files waiting for you to check"</h2>
                <p>"These files have no NHS Number, so Kith cannot be sure they are about you. Compare the details before anything is added to your record."</p>
                <ErrorSummary error=confirm_error/>
                <ul>
                    {v.held.into_iter().map(|h| view! {
                        <li class="card mt-2">
                            <p class="font-bold">{h.file.clone()}{h.source.clone().map(|s| format!(" from {s}"))}", received "{h.received.clone()}</p>
                            <table class="data-table">
                                <thead><tr><th scope="col"></th><th scope="col">"In the file"</th><th scope="col">"Your record"</th></tr></thead>
                                <tbody>
                                    <tr><th scope="row">"Name"</th><td>{h.found_name.clone().unwrap_or_else(|| "Not given".into())}</td><td>{v.patient_name.clone()}</td></tr>
                                    <tr><th scope="row">"Date of birth"</th><td>{h.found_birth_date.clone().unwrap_or_else(|| "Not given".into())}</td><td>{v.patient_birth_date.clone()}</td></tr>
                                </tbody>
                            </table>
                            <div class="flex flex-wrap gap-4 mt-2 items-end">
                                // Plain forms: the page reloads to show the merged record.
                                <form method="post" action="/api/record/confirm_held">
                                    <input type="hidden" name="id" value=h.id.clone()/>
                                    <div class="mb-2">
                                        <label for=format!("held-kind-{}", h.id) class="block font-bold">"Where it comes from"<span class="sr-only">{format!(" ({})", h.file)}</span></label>
                                        <p id=format!("held-kind-{}-hint", h.id) class="text-gray-700">"Choose one if this organisation is new to your record."</p>
                                        <select id=format!("held-kind-{}", h.id) name="source_kind" class="field" aria-describedby=format!("held-kind-{}-hint", h.id)>
                                            <option value="" selected=h.source_kind.is_empty()>"Already in my record"</option>
                                            {KIND_CHOICES.iter().map(|(k, t)| view! { <option value=*k selected=h.source_kind == *k>{*t}</option> }).collect::<Vec<_>>()}
                                        </select>
                                    </div>
                                    <button type="submit" class="btn-primary">"This is me: add it to my record"</button>
                                </form>
                                <form method="post" action="/api/record/reject_held">
                                    <input type="hidden" name="id" value=h.id.clone()/>
                                    <button type="submit" class="btn-secondary">"This is not me: discard it"</button>
                                </form>
                            </div>
                        </li>
                    }).collect::<Vec<_>>()}
                </ul>
            </section>
        })}
        {if v.sources.is_empty() {
            view! { <p class="card">"No information has arrived yet."</p> }.into_any()
        } else {
            view! {
                <ul>
                    {v.sources.into_iter().map(|s| {
                        let heading_id = format!("source-{}", s.id);
                        let timeline = format!("/timeline?source={}", s.id);
                        let labelled_by = heading_id.clone();
                        let counted = s.imports.iter().all(|i| i.counts.is_some());
                        view! {
                            <li class="card" aria-labelledby=labelled_by>
                                <h2 id=heading_id class="text-xl font-bold">{s.name.clone()}</h2>
                                <p>{source_kind_title(&s.kind)}{s.identifier.clone().map(|i| format!(" · {i}"))}</p>
                                <p>{s.entries}" entries from "{s.resources}" records"{s.last_import.clone().map(|t| format!(" · last received {t}"))}</p>
                                <p><a href=timeline>"See entries from "{s.name.clone()}</a></p>
                                <details class="mt-2">
                                    <summary class="cursor-pointer underline">"Import history ("{s.imports.len()}")"</summary>
                                    {counted.then(|| view! {
                                        <table class="data-table mt-2">
                                            <thead><tr><th scope="col">"When"</th><th scope="col">"File"</th><th scope="col">"New"</th><th scope="col">"Changed"</th><th scope="col">"Unchanged"</th></tr></thead>
                                            <tbody>
                                                {s.imports.iter().filter_map(|i| i.counts.map(|(n, c, u)| view! {
                                                    <tr><td>{i.when.clone()}</td><td>{i.file.clone()}</td><td>{n}</td><td>{c}</td><td>{u}</td></tr>
                                                })).collect::<Vec<_>>()}
                                            </tbody>
                                        </table>
                                    })}
                                    {(!counted).then(|| view! {
                                        // Counts per file include private entries: only the patient sees them.
                                        <table class="data-table mt-2" data-testid="imports-uncounted">
                                            <thead><tr><th scope="col">"When"</th><th scope="col">"File"</th></tr></thead>
                                            <tbody>
                                                {s.imports.iter().map(|i| view! { <tr><td>{i.when.clone()}</td><td>{i.file.clone()}</td></tr> }).collect::<Vec<_>>()}
                                            </tbody>
                                        </table>
                                    })}
                                </details>
                            </li>
                        }
                    }).collect::<Vec<_>>()}
                </ul>
            }.into_any()
        }}
        <section class="card mt-6" aria-labelledby="upload-heading">
            <h2 id="upload-heading" class="text-xl font-bold mb-2">"Add a file"</h2>
            <p class="mb-3">"Add health information you have downloaded from a GP, hospital, app or device, as a FHIR file (JSON or NDJSON). It must be about you: "{patient}"."</p>
            <form method="post" action="/record/upload" enctype="multipart/form-data" id="upload-form" on:submit=upload_with_progress>
                <div class="mb-4">
                    <label for="file" class="block font-bold">"File"</label>
                    <p id="file-hint" class="text-gray-700">"Up to 50 MB. Large files may take a minute."</p>
                    <input id="file" name="file" type="file" required=true accept=".json,.ndjson,application/json,application/fhir+json" aria-describedby="file-hint" class="field"/>
                </div>
                <div class="mb-4">
                    <label for="source_kind" class="block font-bold">"Where it comes from"</label>
                    <p id="source-kind-hint" class="text-gray-700">"Choose one for an organisation new to your record. For one already in it, what it is stays as it was."</p>
                    <select id="source_kind" name="source_kind" class="field" aria-describedby="source-kind-hint">
                        // Empty: keep a known source's kind (a re-upload must
                        // not turn a mental health service into a GP).
                        <option value="" selected=true>"Already in my record"</option>
                        {KIND_CHOICES.iter().map(|(k, t)| view! { <option value=*k>{*t}</option> }).collect::<Vec<_>>()}
                    </select>
                </div>
                <div class="mb-4">
                    <label for="source_name" class="block font-bold">"Organisation name (optional)"</label>
                    <p id="source-name-hint" class="text-gray-700">"Leave blank to use the name in the file."</p>
                    <input id="source_name" name="source_name" type="text" aria-describedby="source-name-hint" class="field"/>
                </div>
                <button type="submit" class="btn-primary">"Add file"</button>
                <p id="upload-progress" role="status" aria-live="polite" class="mt-2"></p>
                <progress id="upload-bar" max="100" value="0" class="w-full max-w-md hidden" aria-labelledby="upload-progress"></progress>
            </form>
        </section>
    }
}

/// With JavaScript, send the file with XMLHttpRequest so the page can show
/// how much has been sent; without it the browser posts the form itself.
fn upload_with_progress(ev: leptos::ev::SubmitEvent) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::closure::Closure;
        use wasm_bindgen::JsCast;
        let Some(form) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlFormElement>().ok()) else { return };
        let (Ok(data), Ok(xhr)) = (web_sys::FormData::new_with_form(&form), web_sys::XmlHttpRequest::new()) else { return };
        ev.prevent_default();
        let doc = leptos::prelude::document();
        let status = doc.get_element_by_id("upload-progress");
        let bar = doc.get_element_by_id("upload-bar");
        if let Some(b) = &bar {
            let _ = b.class_list().remove_1("hidden");
        }
        let set = move |text: &str, pct: Option<f64>| {
            if let Some(s) = &status {
                s.set_text_content(Some(text));
            }
            if let (Some(b), Some(p)) = (&bar, pct) {
                let _ = b.set_attribute("value", &format!("{p:.0}"));
            }
        };
        let on_progress = {
            let set = set.clone();
            Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(move |e: web_sys::ProgressEvent| {
                if e.length_computable() && e.total() > 0.0 {
                    let pct = e.loaded() / e.total() * 100.0;
                    if pct >= 100.0 {
                        set("Sent. Checking and adding the file…", Some(100.0));
                    } else {
                        set(&format!("Sending the file: {pct:.0}%"), Some(pct));
                    }
                }
            })
        };
        let on_done = {
            let xhr = xhr.clone();
            Closure::<dyn FnMut()>::new(move || {
                // The server answered with a redirect to the page showing the
                // outcome (XHR followed it): go there.
                let url = xhr.response_url();
                let url = if url.contains("/sources?upload=") { format!("{url}#upload-result") } else { "/sources".to_string() };
                let _ = leptos::prelude::window().location().assign(&url);
            })
        };
        if let Ok(upload) = xhr.upload() {
            upload.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
        }
        xhr.set_onloadend(Some(on_done.as_ref().unchecked_ref()));
        on_progress.forget();
        on_done.forget();
        set("Sending the file…", Some(0.0));
        if xhr.open("POST", "/record/upload").is_err() || xhr.send_with_opt_form_data(Some(&data)).is_err() {
            set("The file could not be sent. Try again.", None);
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = ev;
}

/// Connected services: providers' FHIR APIs that keep the record up to date.
/// Plain forms (the refresh and disconnect routes), so they work without
/// JavaScript.
#[component]
fn Connections(v: kith_types::ConnectionsView) -> impl IntoView {
    if v.connections.is_empty() && v.offered.is_empty() && v.notice.is_none() {
        return ().into_any();
    }
    let connected: Vec<String> = v.connections.iter().filter(|c| c.status != "disconnected").map(|c| c.provider.clone()).collect();
    view! {
        <section class="card" id="connections" aria-labelledby="connections-heading">
            <h2 id="connections-heading" class="text-2xl font-bold mb-2">"Connected services"</h2>
            {v.notice.map(|n| view! { <p class="notice-ok" role="status" data-testid="connections-notice">{n}</p> })}
            <ul class="entry-list" data-testid="connections">
                {v.connections.into_iter().map(|c| {
                    let status = match c.status.as_str() {
                        "connected" => "Connected: updates itself".to_string(),
                        "needs-reconnect" => "Needs you to connect again".to_string(),
                        "disconnected" => "Disconnected: Kith holds no access to it".to_string(),
                        other => other.to_string(),
                    };
                    let live = c.status != "disconnected";
                    let reconnect = (c.status == "needs-reconnect").then(|| c.provider.clone());
                    view! {
                        <li class="entry-item" data-testid="connection">
                            <p class="font-bold text-lg">{c.name.clone()}</p>
                            <p data-testid="connection-status">{status}</p>
                            <p class="text-sm">{format!("Connected {}", c.connected)}
                                {c.last_pull.map(|l| format!(" · last updated {l}"))}
                                {c.next_pull.filter(|_| live).map(|n| format!(" · next update {n}"))}</p>
                            {c.summary.map(|s| view! { <p data-testid="connection-summary">{format!("Last update: {s}")}</p> })}
                            {c.error.map(|e| view! { <p class="notice-error" role="alert" data-testid="connection-error">{e}</p> })}
                            <div class="flex flex-wrap gap-2 mt-2">
                                {(c.status == "connected").then(|| view! {
                                    <form method="post" action="/sources/connections/refresh">
                                        <input type="hidden" name="id" value=c.id.clone()/>
                                        <button type="submit" class="btn-secondary">{format!("Update from {} now", c.name)}</button>
                                    </form>
                                })}
                                {reconnect.map(|p| view! {
                                    <a class="btn-secondary" rel="external" href=format!("/sources/connect/start?provider={p}")>{format!("Connect {} again", c.name)}</a>
                                })}
                                {live.then(|| view! {
                                    <form method="post" action="/sources/connections/disconnect">
                                        <input type="hidden" name="id" value=c.id.clone()/>
                                        <button type="submit" class="btn-secondary">{format!("Disconnect {}", c.name)}</button>
                                    </form>
                                })}
                            </div>
                        </li>
                    }
                }).collect::<Vec<_>>()}
            </ul>
            {v.offered.into_iter().filter(|(k, _)| !connected.contains(k)).map(|(k, name)| view! {
                <p class="mt-2">
                    <a class="btn-primary inline-block" rel="external" href=format!("/sources/connect/start?provider={k}")>{format!("Connect {name}")}</a>
                </p>
                <p class="text-sm mt-1">{format!("You sign in at {name} and choose to share your record with Kith. Kith then keeps it up to date, and you can disconnect at any time.")}</p>
            }).collect::<Vec<_>>()}
        </section>
    }.into_any()
}

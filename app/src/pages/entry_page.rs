use kith_types::record::{kind_title, label_title, source_kind_title, EntryDetail};
use kith_types::Me;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::api::get_entry;
use crate::components::layout::{Authed, ErrorPanel};

#[component]
pub fn EntryPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let detail = Resource::new(id, get_entry);
    let seen = Resource::new(id, crate::api::get_seen_by);
    view! { <Title text="Entry – Kith"/><Authed render=move |me| entry(me, detail, seen)/> }
}

type SeenResource = Resource<Result<Vec<kith_types::audit::SeenBy>, kith_types::AppError>>;

fn entry(me: Me, detail: Resource<Result<EntryDetail, kith_types::AppError>>, seen: SeenResource) -> impl IntoView {
    let can_manage = (me.patient.is_some() && me.viewing.is_none()) || me.viewing.as_ref().is_some_and(|v| v.can_manage);
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(d) => view! { <EntryView d can_manage/>{can_manage.then(|| view! { <SeenBy seen/> })} }.into_any(),
                    Err(e) => {
                        #[cfg(feature = "ssr")]
                        if e == kith_types::AppError::NotFound {
                            if let Some(r) = use_context::<leptos_axum::ResponseOptions>() {
                                r.set_status(http::StatusCode::NOT_FOUND);
                            }
                        }
                        view! { <ErrorPanel error=e/> }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}

#[component]
fn EntryView(d: EntryDetail, can_manage: bool) -> impl IntoView {
    let c = d.card;
    let relabel = can_manage.then(|| {
        let action = ServerAction::<crate::api::RelabelEntry>::new();
        let current = c.label.clone();
        view! {
            <ActionForm action=action attr:class="card">
                <input type="hidden" name="entry_id" value=c.id.clone()/>
                <label for="label" class="block font-bold">"Privacy label"</label>
                <p id="label-hint" class="text-gray-700">"Sharing can include or leave out entries by label. Private entries are never shared."</p>
                <div class="flex flex-wrap gap-3 items-center">
                    <select id="label" name="label" class="field" aria-describedby="label-hint">
                        {kith_types::record::LABELS.iter().map(|(k, t)| view! { <option value=*k selected=current == *k>{*t}</option> }).collect::<Vec<_>>()}
                    </select>
                    <button type="submit" class="btn-secondary">"Change label"</button>
                </div>
            </ActionForm>
        }
    });
    view! {
        <Title text=format!("{} – Kith", c.text)/>
        <p class="text-gray-700">{kind_title(&c.kind)}</p>
        <h1 class="text-3xl font-bold mb-2">{c.text.clone()}</h1>
        <dl class="card grid grid-cols-[max-content_1fr] gap-x-6 gap-y-1">
            {c.value.clone().map(|v| view! { <dt class="font-bold">"Value"</dt><dd>{v}</dd> })}
            <dt class="font-bold">"Date"</dt><dd>{c.date.clone().unwrap_or_else(|| "Not given".into())}</dd>
            {c.status.clone().map(|s| view! { <dt class="font-bold">"Status"</dt><dd>{s}</dd> })}
            <dt class="font-bold">"Privacy label"</dt><dd>{label_title(&c.label)}</dd>
            <dt class="font-bold">"Sources"</dt><dd>{c.sources.join(", ")}</dd>
        </dl>
        {relabel}
        {(!d.disagreements.is_empty()).then(|| view! {
            <section class="notice-warn" aria-labelledby="disagree-heading" data-testid="disagreement">
                <h2 id="disagree-heading" class="text-xl font-bold">"The sources disagree"</h2>
                <p>"Kith shows every source's version rather than choosing one. Ask the people caring for you which is right."</p>
                <ul class="list-disc ml-6">
                    {d.disagreements.into_iter().map(|(field, values)| view! {
                        <li><span class="font-bold">{field}": "</span>
                            {values.into_iter().map(|(org, v)| format!("{org} says {v}")).collect::<Vec<_>>().join("; ")}
                        </li>
                    }).collect::<Vec<_>>()}
                </ul>
            </section>
        })}
        {(!d.codes.is_empty()).then(|| view! {
            <section class="card" aria-labelledby="codes-heading">
                <h2 id="codes-heading" class="text-xl font-bold mb-2">"Codes"</h2>
                <ul>
                    {d.codes.into_iter().map(|code| view! {
                        <li><span class="font-bold">{code.system_name}</span>" "{code.code}{code.display.map(|x| format!(" — {x}"))}</li>
                    }).collect::<Vec<_>>()}
                </ul>
            </section>
        })}
        <h2 class="text-2xl font-bold mt-6 mb-2">"What each source says"</h2>
        <div class="grid gap-4 md:grid-cols-2">
            {d.sources.into_iter().map(|s| {
                let heading = format!("{} ({})", s.organisation, source_kind_title(&s.kind));
                view! {
                    <section class="card" aria-label=heading.clone()>
                        <h3 class="text-lg font-bold">{heading.clone()}</h3>
                        <dl class="grid grid-cols-[max-content_1fr] gap-x-4">
                            <dt class="font-bold">"Says"</dt><dd>{s.text.clone()}</dd>
                            {s.value.clone().map(|v| view! { <dt class="font-bold">"Value"</dt><dd>{v}</dd> })}
                            <dt class="font-bold">"Date"</dt><dd>{s.date.clone().unwrap_or_else(|| "Not given".into())}</dd>
                            <dt class="font-bold">"Status"</dt><dd>{s.status.clone().unwrap_or_else(|| "Not given".into())}</dd>
                            <dt class="font-bold">"Recorded by"</dt><dd>{s.recorded_by.clone().unwrap_or_else(|| "Not given".into())}</dd>
                        </dl>
                        <details class="mt-2">
                            <summary class="cursor-pointer underline">"Version history ("{s.versions.len()}")"</summary>
                            <ol class="list-decimal ml-6">
                                {s.versions.iter().map(|(v, at)| view! { <li>"Version "{*v}", received "{at.clone()}</li> }).collect::<Vec<_>>()}
                            </ol>
                        </details>
                        <details class="mt-2">
                            <summary class="cursor-pointer underline">"Original record ("{s.resource_type.clone()}" "{s.resource_id.clone()}")"</summary>
                            <pre class="fhir-json" tabindex="0" aria-label=format!("FHIR JSON from {}", s.organisation)>{s.json.clone()}</pre>
                        </details>
                    </section>
                }
            }).collect::<Vec<_>>()}
        </div>
        <p class="mt-6"><a href="/timeline">"Back to the timeline"</a></p>
    }
}

/// "Who has seen this": everyone but the patient who opened this entry.
#[component]
fn SeenBy(seen: SeenResource) -> impl IntoView {
    view! {
        <section class="card mt-6" aria-labelledby="seen-heading" data-testid="seen-by">
            <h2 id="seen-heading" class="text-xl font-bold mb-2">"Who has seen this"</h2>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match seen.await {
                        Ok(list) if list.is_empty() => view! { <p>"Nobody but you has seen this entry."</p> }.into_any(),
                        Ok(list) => view! {
                            <ul class="list-disc ml-6">
                                {list.into_iter().map(|s| view! {
                                    <li>
                                        <span class="font-bold">{s.who}</span>
                                        {format!(" ({}{}), {}: ", s.role, if s.organisation.is_empty() { String::new() } else { format!(", {}", s.organisation) }, s.how)}
                                        {format!("last on {}{}", s.last_seen, if s.times > 1 { format!(", {} times", s.times) } else { String::new() })}
                                    </li>
                                }).collect::<Vec<_>>()}
                            </ul>
                            <p class="mt-2"><a href="/access-log">"See the whole access log"</a></p>
                        }.into_any(),
                        Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

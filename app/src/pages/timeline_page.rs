use kith_types::record::{TimelinePage, TimelineQuery, KINDS, LABELS};
use kith_types::Me;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

use crate::api::get_timeline;
use crate::components::layout::{Authed, ErrorPanel};
use crate::components::record::EntryItem;
use crate::components::urlencode;

#[component]
pub fn TimelinePage() -> impl IntoView {
    let query = use_query_map();
    let q = Memo::new(move |_| {
        query.with(|m| {
            let get = |k: &str| m.get(k).unwrap_or_default();
            TimelineQuery { kind: get("kind"), source: get("source"), label: get("label"), from: get("from"), to: get("to"), q: get("q"), after: get("after") }
        })
    });
    let page = Resource::new(move || q.get(), get_timeline);
    view! { <Title text="Timeline – Kith"/><Authed render=move |me| timeline(me, q, page)/> }
}

fn timeline(_me: Me, q: Memo<TimelineQuery>, page: Resource<Result<TimelinePage, kith_types::AppError>>) -> impl IntoView {
    view! {
        <h1 class="text-3xl font-bold mb-4">"Timeline"</h1>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(p) => view! { <Filters q=q.get_untracked() sources=p.sources.clone()/><Entries p q=q.get_untracked()/> }.into_any(),
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Filters(q: TimelineQuery, sources: Vec<(String, String)>) -> impl IntoView {
    let sel = |a: &str, b: &str| a == b;
    view! {
        <Form method="get" action="/timeline" attr:class="card filters" attr:role="search" attr:aria-label="Filter the timeline">
            <div class="grid gap-3 sm:grid-cols-2">
                <div>
                    <label for="q" class="block font-bold">"Search"</label>
                    <input id="q" name="q" type="search" value=q.q.clone() class="field"/>
                </div>
                <div>
                    <label for="kind" class="block font-bold">"Kind of entry"</label>
                    <select id="kind" name="kind" class="field">
                        <option value="" selected=q.kind.is_empty()>"All kinds"</option>
                        {KINDS.iter().map(|(k, t)| view! { <option value=*k selected=sel(&q.kind, k)>{*t}</option> }).collect::<Vec<_>>()}
                    </select>
                </div>
                <div>
                    <label for="source" class="block font-bold">"Source"</label>
                    <select id="source" name="source" class="field">
                        <option value="" selected=q.source.is_empty()>"All sources"</option>
                        {sources.into_iter().map(|(id, name)| { let s = q.source == id; view! { <option value=id selected=s>{name}</option> } }).collect::<Vec<_>>()}
                    </select>
                </div>
                <div>
                    <label for="label" class="block font-bold">"Privacy label"</label>
                    <select id="label" name="label" class="field">
                        <option value="" selected=q.label.is_empty()>"All labels"</option>
                        {LABELS.iter().map(|(k, t)| view! { <option value=*k selected=sel(&q.label, k)>{*t}</option> }).collect::<Vec<_>>()}
                    </select>
                </div>
                <div>
                    <label for="from" class="block font-bold">"From"</label>
                    <input id="from" name="from" type="date" value=q.from.clone() class="field"/>
                </div>
                <div>
                    <label for="to" class="block font-bold">"To"</label>
                    <input id="to" name="to" type="date" value=q.to.clone() class="field"/>
                </div>
            </div>
            <div class="mt-3 flex gap-4 items-center">
                <button type="submit" class="btn-primary">"Show entries"</button>
                <a href="/timeline">"Clear filters"</a>
            </div>
        </Form>
    }
}

#[component]
fn Entries(p: TimelinePage, q: TimelineQuery) -> impl IntoView {
    let next = p.next.clone().map(|after| {
        let pairs = [("q", &q.q), ("kind", &q.kind), ("source", &q.source), ("label", &q.label), ("from", &q.from), ("to", &q.to)];
        let mut qs: Vec<String> = pairs.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| format!("{k}={}", urlencode(v))).collect();
        qs.push(format!("after={}", urlencode(&after)));
        format!("/timeline?{}", qs.join("&"))
    });
    if p.days.is_empty() {
        return view! { <p class="card" role="status">"No entries match these filters."</p> }.into_any();
    }
    view! {
        <div id="timeline-results" role="status" aria-live="polite" class="sr-only">{p.days.iter().map(|(_, v)| v.len()).sum::<usize>()}" entries shown"</div>
        {p.days.into_iter().map(|(day, cards)| view! {
            <section class="mb-4" aria-label=day.clone()>
                <h2 class="text-lg font-bold border-b-2 border-gray-300 mb-2">{day.clone()}</h2>
                <ul class="entry-list">
                    {cards.into_iter().map(|c| view! { <EntryItem card=c show_kind=true/> }).collect::<Vec<_>>()}
                </ul>
            </section>
        }).collect::<Vec<_>>()}
        {next.map(|href| view! { <p class="mt-4"><a href=href class="btn-secondary" rel="next">"Older entries"</a></p> })}
    }
    .into_any()
}

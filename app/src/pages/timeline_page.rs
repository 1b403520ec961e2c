use kith_types::record::{TimelinePage, TimelineQuery, KINDS, LABELS};
use kith_types::Me;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::get_timeline;
use crate::components::filters::{choices, next_page_href, DateRangeFilter, FilterForm, FilterSelect};
use crate::components::layout::{Authed, ErrorPanel};
use crate::components::record::EntryItem;

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

fn timeline(me: Me, q: Memo<TimelineQuery>, page: Resource<Result<TimelinePage, kith_types::AppError>>) -> impl IntoView {
    let can_add = me.manages_record();
    view! {
        <h1 class="text-3xl font-bold mb-4">"Timeline"</h1>
        {can_add.then(|| view! { <p class="mb-4"><a href="/add" class="btn-secondary">"Add a reading, allergy, medicine or condition"</a></p> })}
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
    view! {
        <FilterForm action="/timeline" aria_label="Filter the timeline" submit="Show entries">
            <div>
                <label for="q" class="block font-bold">"Search"</label>
                <input id="q" name="q" type="search" value=q.q.clone() class="field"/>
            </div>
            <FilterSelect name="kind" label="Kind of entry" any="All kinds" options=choices(&KINDS) selected=q.kind.clone()/>
            <FilterSelect name="source" label="Source" any="All sources" options=sources selected=q.source.clone()/>
            <FilterSelect name="label" label="Privacy label" any="All labels" options=choices(&LABELS) selected=q.label.clone()/>
            <DateRangeFilter from=q.from.clone() to=q.to.clone()/>
        </FilterForm>
    }
}

#[component]
fn Entries(p: TimelinePage, q: TimelineQuery) -> impl IntoView {
    let next = p.next.clone().map(|after| {
        let filters = [
            ("q", q.q.as_str()),
            ("kind", q.kind.as_str()),
            ("source", q.source.as_str()),
            ("label", q.label.as_str()),
            ("from", q.from.as_str()),
            ("to", q.to.as_str()),
        ];
        next_page_href("/timeline", &filters, ("after", after.as_str()))
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

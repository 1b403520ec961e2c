use kith_types::Me;
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::get_results;
use crate::components::chart::TrendChart;
use crate::components::layout::{Authed, ErrorPanel};
use crate::components::record::EntryList;

#[component]
pub fn ResultsPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| get_results());
    view! { <Title text="Results – Kith"/><Authed render=move |me| results(me, data)/> }
}

fn results(_me: Me, data: Resource<Result<kith_types::record::ResultsView, kith_types::AppError>>) -> impl IntoView {
    view! {
        <h1 class="text-3xl font-bold mb-4">"Results"</h1>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(r) => {
                        let nav = r.charts.iter().map(|c| view! { <li><a href=format!("#chart-{}-title", c.id)>{c.name.clone()}</a></li> }).collect::<Vec<_>>();
                        view! {
                            <p class="mb-4">"Tests and measurements taken more than once are shown as trends. The green band is the normal range; readings outside it are marked with a red diamond."</p>
                            {(!r.charts.is_empty()).then(|| view! {
                                <nav aria-label="Trends on this page" class="card"><ul class="columns-1 sm:columns-2">{nav}</ul></nav>
                            })}
                            {r.charts.into_iter().map(|s| view! { <TrendChart series=s/> }).collect::<Vec<_>>()}
                            <h2 class="text-2xl font-bold mt-6 mb-2">"Other results"</h2>
                            <EntryList cards=r.single empty="No other results."/>
                        }.into_any()
                    }
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

//! Pieces shared by the record pages: entry cards, source names, notes.

use kith_types::record::{kind_title, label_title, status_text, EntryCard};
use leptos::prelude::*;

/// "Stated by Riverside Surgery and St James's" — every source, always.
#[component]
pub fn SourceNames(sources: Vec<String>) -> impl IntoView {
    let text = match sources.len() {
        0 => "No source".to_string(),
        1 => sources[0].clone(),
        _ => {
            let (last, rest) = sources.split_last().unwrap();
            format!("{} and {}", rest.join(", "), last)
        }
    };
    let many = sources.len() > 1;
    view! {
        <p class="text-sm text-gray-700">
            "From "<span class="font-semibold">{text}</span>
            {many.then(|| view! { <span class="ml-1 inline-block rounded bg-teal-100 text-teal-900 px-1 text-xs font-bold">{sources.len()}" sources"</span> })}
        </p>
    }
}

/// One entry in a list, linking to its page.
#[component]
pub fn EntryItem(card: EntryCard, #[prop(optional)] show_kind: bool) -> impl IntoView {
    let href = format!("/entries/{}", card.id);
    let kind = kind_title(&card.kind);
    let label = (card.label != "general").then(|| label_title(&card.label));
    view! {
        <li class="entry-item" data-kind=card.kind.clone()>
            <div class="flex flex-wrap items-baseline gap-x-3">
                <a href=href class="font-bold text-lg">{card.text.clone()}</a>
                {card.value.clone().map(|v| view! { <span class=if card.abnormal { "font-bold text-red-800" } else { "" }>{v}</span> })}
                {card.abnormal.then(|| view! { <span class="badge-warn">"Outside normal range"</span> })}
                {card.disagreement.then(|| view! { <span class="badge-warn" data-testid="disagreement">"Sources disagree"</span> })}
                {card.is_new.then(|| view! { <span class="badge-new">"New"</span> })}
            </div>
            <p class="text-sm text-gray-800">
                {show_kind.then(|| view! { <span>{kind}" · "</span> })}
                {card.date.clone().map(|d| view! { <span>{d}</span> })}
                {card.status.as_deref().map(|s| view! { <span>" · "{status_text(s)}</span> })}
                {label.map(|l| view! { <span>" · "{l}</span> })}
            </p>
            <SourceNames sources=card.sources.clone()/>
        </li>
    }
}

#[component]
pub fn EntryList(cards: Vec<EntryCard>, #[prop(optional)] show_kind: bool, empty: &'static str) -> impl IntoView {
    if cards.is_empty() {
        return view! { <p class="text-gray-700">{empty}</p> }.into_any();
    }
    view! {
        <ul class="entry-list">
            {cards.into_iter().map(|c| view! { <EntryItem card=c show_kind=show_kind/> }).collect::<Vec<_>>()}
        </ul>
    }
    .into_any()
}

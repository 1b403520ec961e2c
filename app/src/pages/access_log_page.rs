//! The Access log: who has seen and changed the record, newest first, with
//! the hash chain's check and downloads for anyone who wants to check it.

use kith_types::audit::{AccessLogQuery, AccessLogView, ACTIONS};
use kith_types::record::LABELS;
use kith_types::Me;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::{get_access_log, SetNoticeEmails};
use crate::components::filters::{choices, next_page_href, DateRangeFilter, FilterForm, FilterSelect};
use crate::components::layout::{Authed, ErrorPanel};

#[component]
pub fn AccessLogPage() -> impl IntoView {
    let query = use_query_map();
    let q = Memo::new(move |_| {
        query.with(|m| {
            let get = |k: &str| m.get(k).unwrap_or_default();
            AccessLogQuery {
                person: get("person"),
                organisation: get("organisation"),
                action: get("action"),
                label: get("label"),
                from: get("from"),
                to: get("to"),
                before: get("before"),
                check: get("check"),
            }
        })
    });
    let emails = ServerAction::<SetNoticeEmails>::new();
    let log = Resource::new(move || (q.get(), emails.version().get()), |(q, _)| get_access_log(q));
    view! { <Title text="Access log – Kith"/><Authed render=move |me| access_log(me, q, log, emails)/> }
}

fn access_log(
    _me: Me,
    q: Memo<AccessLogQuery>,
    log: Resource<Result<AccessLogView, kith_types::AppError>>,
    emails: ServerAction<SetNoticeEmails>,
) -> impl IntoView {
    view! {
        <h1 class="text-3xl font-bold mb-2">"Access log"</h1>
        <p class="mb-4">"Every time anyone opens, downloads, adds to or shares this record, it is written here, and nobody can change or remove what is written."</p>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match log.await {
                    Ok(v) => view! { <LogView v q=q.get_untracked() emails/> }.into_any(),
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// What the page's short check covered: `checked_now` counts the record
/// the last full check ended at, which is checked again, plus each one after.
fn added_since(checked_now: i64) -> String {
    match checked_now - 1 {
        n if n <= 0 => "none has been added since.".to_string(),
        1 => "the one added since was checked just now.".to_string(),
        n => format!("the {n} added since were checked just now."),
    }
}

#[component]
fn LogView(v: AccessLogView, q: AccessLogQuery, emails: ServerAction<SetNoticeEmails>) -> impl IntoView {
    let check = v.check.clone();
    let status = if check.ok() {
        view! {
            <p class="notice-ok" data-testid="chain-status">
                <span class="font-bold">"Checked: nothing in this log has been changed or removed"</span>
                {check.verified_up_to.clone().map(|t| format!(" (verified up to {t}; {} records", check.records))}
                {check.verified_up_to.is_some().then(|| format!(", {} signed checkpoints).", check.checkpoints))}
                {check.whole_checked_at.clone().map(|at| view! {
                    {format!(" Every record was checked from the first at {at}; {} ", added_since(check.checked_now))}
                    <a href="/access-log?check=all" data-testid="check-all">"Check every record now"</a>
                })}
            </p>
        }
        .into_any()
    } else {
        let (seq, why) = check.broken_at.clone().unwrap_or_default();
        view! {
            <p class="notice-warn" role="alert" data-testid="chain-status">
                <span class="font-bold">"Warning: this log has been tampered with. "</span>
                {format!("The first problem is at record {seq}: {why}. Records before it check out")}
                {check.verified_up_to.clone().map(|t| format!(" (up to {t})"))}"."
            </p>
        }
        .into_any()
    };
    let whole = v.whole;
    let next = v.next.clone().map(|before| {
        let filters = [
            ("person", q.person.as_str()),
            ("organisation", q.organisation.as_str()),
            ("action", q.action.as_str()),
            ("label", q.label.as_str()),
            ("from", q.from.as_str()),
            ("to", q.to.as_str()),
        ];
        next_page_href("/access-log", &filters, ("before", before.as_str()))
    });
    view! {
        {status}
        {(v.new_count > 0).then(|| view! { <p class="card" role="status">{format!("{} new since you last looked, marked New.", v.new_count)}</p> })}
        {v.notice_email.clone().map(|n| {
            let text = match (n.on, n.for_carer) {
                (true, false) => view! {
                    "We also email you at " <strong>{n.address.clone()}</strong>
                    " when someone views your record for the first time, when emergency access is used, when a shared link is locked, and when a family carer's access is due for review. "
                    "The emails say what happened, never who it was or what they saw: that is here."
                }.into_any(),
                (false, false) => view! {
                    "You have turned off the emails about your record. New viewers, emergency access and locked links are still shown here and in your messages."
                }.into_any(),
                (true, true) => view! {
                    "As you act for this person, we also email you at " <strong>{n.address.clone()}</strong>
                    " when someone views their record for the first time, when emergency access is used, when a shared link is locked, and when your own access is due for review. "
                    "The emails do not say whose record it is, who it was or what they saw: that is here. "
                    "This covers every record you act for."
                }.into_any(),
                (false, true) => view! {
                    "You have turned off the emails about the records you act for, and about your own access ending. New viewers, emergency access and locked links are still shown here and in the messages on the record's home page."
                }.into_any(),
            };
            let (value, label) = match (n.on, n.for_carer) {
                (true, _) => ("false", "Stop these emails"),
                (false, false) => ("true", "Email me about my record again"),
                (false, true) => ("true", "Email me about the records I act for again"),
            };
            let unconfirmed = (n.on && !n.confirmed).then(|| view! {
                <p class="font-bold mt-2" data-testid="emailed-to-unconfirmed">
                    "None of these emails is sent until you confirm that " {n.address.clone()} " is your address. "
                    <a href="/account#email">"Confirm it from your Account page"</a>
                </p>
            });
            view! {
                <div class="card mb-4" id="notice-email" data-testid="emailed-to">
                    <p>{text}</p>
                    {unconfirmed}
                    <ActionForm action=emails attr:class="mt-2">
                        <input type="hidden" name="on" value=value/>
                        <button type="submit" class="btn-secondary">{label}</button>
                    </ActionForm>
                </div>
            }
        })}
        <FilterForm action="/access-log" aria_label="Filter the access log" submit="Show">
            <FilterSelect name="person" label="Person" any="Everyone" options=v.people.clone() selected=q.person.clone()/>
            <FilterSelect
                name="organisation"
                label="Organisation"
                any="All organisations"
                options=v.organisations.iter().map(|o| (o.clone(), o.clone())).collect()
                selected=q.organisation.clone()
            />
            <FilterSelect name="action" label="What they did" any="Anything" options=choices(ACTIONS) selected=q.action.clone()/>
            <FilterSelect name="label" label="Privacy label" any="Any label" options=choices(&LABELS) selected=q.label.clone()/>
            <DateRangeFilter from=q.from.clone() to=q.to.clone()/>
        </FilterForm>
        {if v.events.is_empty() {
            view! { <p class="card" role="status">"Nothing in the log matches these filters."</p> }.into_any()
        } else {
            view! {
                <ol class="entry-list" aria-label="Access log, newest first" data-testid="access-log">
                    {v.events.into_iter().map(|e| {
                        let class = if e.stands_out { "entry-item border-l-8 border-red-700 pl-3" } else { "entry-item" };
                        view! {
                            <li class=class data-testid="access-event">
                                <p class="text-gray-700">
                                    {e.is_new.then(|| view! { <span class="badge-new">"New"</span>" " })}
                                    {e.when.clone()}
                                </p>
                                <p class="text-lg">
                                    <span class="font-bold">{if e.is_me { format!("{} (you)", e.who) } else { e.who.clone() }}</span>
                                    {(!e.organisation.is_empty()).then(|| format!(", {}", e.organisation))}
                                    {format!(" ({}) ", e.role)}
                                    <span class="font-bold">{e.action.clone()}</span>": "{e.what.clone()}
                                </p>
                                <p>{e.how.clone()}
                                    {e.reason.clone().map(|r| format!(". Reason given: \"{r}\""))}
                                    {(e.entry_count > 0).then(|| format!(" · {} entries", e.entry_count))}
                                    {(!e.labels.is_empty()).then(|| format!(" · {}", e.labels.join(", ")))}
                                </p>
                                <details>
                                    <summary class="cursor-pointer underline">"From where"</summary>
                                    <p>{format!("Address {}", e.address)}{(!e.user_agent.is_empty()).then(|| format!("; browser {}", e.user_agent))}{format!("; record {}", e.seq)}</p>
                                </details>
                            </li>
                        }
                    }).collect::<Vec<_>>()}
                </ol>
            }.into_any()
        }}
        {next.map(|href| view! { <p class="mt-4"><a href=href class="btn-secondary" rel="next">"Older events"</a></p> })}
        <section class="card mt-6" aria-labelledby="download-heading">
            <h2 id="download-heading" class="text-xl font-bold mb-2">"Download the log"</h2>
            <ul class="list-disc ml-6">
                <li><a href="/access-log/export.csv" rel="external" download="">"As a spreadsheet (CSV)"</a></li>
                <li><a href="/access-log/export.fhir.json" rel="external" download="">"As FHIR AuditEvent records"</a></li>
                {whole.then(|| view! {
                    <li><a href="/access-log/chain.json" rel="external" download="">"The whole chain, for checking"</a>": every record with its hash and the signed checkpoints, so anyone can check it without Kith (" <code>"kith audit verify-file"</code> ")"</li>
                })}
                <li><a href="/access-log/checkpoints.json" rel="external" download="">"Signed checkpoints"</a>": keep a copy, so anyone can check later that no history was rewritten"</li>
            </ul>
        </section>
    }
}

//! The care plan, written together: the patient, their carers and
//! professionals add to it under the PRSB headings; changes appear on every
//! open copy of the page; it prints for a carer to keep on paper.

use kith_types::together::{CarePlanView, PlanItem, PlanSection, GOAL_STATUSES};
use kith_types::Me;
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::{get_care_plan, AddPlanItem, RemovePlanItem, ReviewCarePlan, UpdatePlanItem};
use crate::components::form::{error_from_form, error_of, ErrorSummary};
use crate::components::layout::{Authed, ErrorPanel};
use crate::components::live::{live_version, Live};

/// Under every date field: browsers without a date picker show a plain box.
const DATE_HINT: &str = "If your browser shows no calendar, write it as year-month-day: for example 2027-03-01.";

#[derive(Clone, Copy)]
struct Actions {
    add: ServerAction<AddPlanItem>,
    update: ServerAction<UpdatePlanItem>,
    remove: ServerAction<RemovePlanItem>,
    review: ServerAction<ReviewCarePlan>,
}

#[component]
pub fn CarePlanPage() -> impl IntoView {
    let live = live_version();
    let actions = Actions { add: ServerAction::new(), update: ServerAction::new(), remove: ServerAction::new(), review: ServerAction::new() };
    let plan = Resource::new(
        move || (live.get(), actions.add.version().get(), actions.update.version().get(), actions.remove.version().get(), actions.review.version().get()),
        |_| get_care_plan(),
    );
    view! { <Title text="Care plan – Kith"/><Authed render=move |me| care_plan(me, plan, actions)/> }
}

fn care_plan(_me: Me, plan: Resource<Result<CarePlanView, kith_types::AppError>>, actions: Actions) -> impl IntoView {
    let errors = [error_of(actions.add.value()), error_of(actions.update.value()), error_of(actions.remove.value()), error_of(actions.review.value())];
    view! {
        <Live/>
        <h1 class="text-3xl font-bold mb-2">"Care plan"</h1>
        {errors.map(|error| view! { <ErrorSummary error/> })}
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match plan.await {
                    Ok(p) => view! { <PlanView p actions/> }.into_any(),
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn PlanView(p: CarePlanView, actions: Actions) -> impl IntoView {
    let can = p.can_contribute;
    let conditions = p.conditions.clone();
    view! {
        <p class="mb-4">{format!("{}'s plan for their care and support, written together. Everyone it is shared with sees changes as they are made.", p.patient_name)}</p>
        <p class="no-print mb-4">
            <a href="#contingency" class="btn-secondary">"Crisis plan"</a>" "
            <a href="/care-plan/export.fhir.json" rel="external" download="">"Download as FHIR"</a>
            " · Print this page to keep a copy on paper."
        </p>
        <ReviewBox p=p.clone() can actions/>
        {p.sections.into_iter().map(|s| view! { <SectionView s can conditions=conditions.clone() actions/> }).collect::<Vec<_>>()}
    }
}

#[component]
fn ReviewBox(p: CarePlanView, can: bool, actions: Actions) -> impl IntoView {
    let changes = p.changes_since_review.clone();
    view! {
        <section class=if p.review_due { "notice-warn" } else { "card" } aria-labelledby="review-heading" data-testid="review">
            <h2 id="review-heading" class="text-xl font-bold mb-1">"Review"</h2>
            <p>{match &p.last_review { Some(r) => format!("Last reviewed {r}."), None => "Not reviewed yet.".into() }}
                {p.next_review.clone().map(|(_, uk)| format!(" Next review planned for {uk}."))}
                {p.review_due.then_some(" The review is due now.")}</p>
            {(!changes.is_empty()).then(|| view! {
                <details class="mt-2" open=true data-testid="changes">
                    <summary class="cursor-pointer underline">{format!("What changed since the last review ({})", changes.len())}</summary>
                    <ul class="list-disc ml-6">
                        {changes.into_iter().map(|c| view! {
                            <li>
                                <span class="font-bold">{format!("{} — {}", c.section, c.change)}</span>
                                {c.before.map(|b| view! { <span>" Was: "<del>{b}</del></span> })}
                                {c.after.map(|a| view! { <span>" Now: "<ins>{a}</ins></span> })}
                                {format!(" ({}, {})", c.by, c.when)}
                            </li>
                        }).collect::<Vec<_>>()}
                    </ul>
                </details>
            })}
            {can.then(|| view! {
                <ActionForm action=actions.review attr:class="no-print mt-3 flex flex-wrap gap-3 items-end">
                    <div>
                        <label for="next_review" class="block font-bold">"Next review"</label>
                        <p id="next_review-hint" class="text-sm text-gray-700">{DATE_HINT}</p>
                        <input id="next_review" name="next_review" type="date" class="field" aria-describedby="next_review-hint"/>
                    </div>
                    <button type="submit" class="btn-secondary">"Mark as reviewed today"</button>
                </ActionForm>
            })}
        </section>
    }
}

#[component]
fn SectionView(s: PlanSection, can: bool, conditions: Vec<(String, String)>, actions: Actions) -> impl IntoView {
    let heading = format!("{}-heading", s.key);
    let key = s.key.clone();
    let empty = s.items.is_empty();
    let class = if s.key == "contingency" { "card border-l-8 border-red-700" } else { "card" };
    let labelled_by = heading.clone();
    let testid = format!("section-{}", s.key);
    view! {
        <section id=s.key.clone() class=class aria-labelledby=labelled_by data-testid=testid>
            <h2 id=heading class="text-xl font-bold">{s.title.clone()}</h2>
            <p class="text-gray-700 mb-2">{s.hint.clone()}</p>
            {empty.then(|| view! { <p>"Nothing here yet."</p> })}
            <ul class="entry-list">
                {s.items.into_iter().map(|item| view! { <ItemView item can conditions=conditions.clone() actions/> }).collect::<Vec<_>>()}
            </ul>
            {can.then(|| {
                let prefix = format!("add-{key}");
                let error = error_from_form(error_of(actions.add.value()), &prefix);
                let open = error.is_some();
                view! {
                <details class="no-print mt-2" open=open>
                    <summary class="cursor-pointer underline">{format!("Add to {}", s.title)}</summary>
                    <ActionForm action=actions.add attr:class="mt-2">
                        <input type="hidden" name="section" value=key.clone()/>
                        <Fields prefix section=key.clone() item=None conditions=conditions.clone() error/>
                        <button type="submit" class="btn-primary">"Add"</button>
                    </ActionForm>
                </details>
                }
            })}
        </section>
    }
}

#[component]
fn ItemView(item: PlanItem, can: bool, conditions: Vec<(String, String)>, actions: Actions) -> impl IntoView {
    let f = item.fields.clone();
    let status = GOAL_STATUSES.iter().find(|(k, _)| *k == f.status).map(|(_, t)| *t);
    let prefix = format!("item-{}", item.id);
    let done_form = (can && item.section == "actions").then(|| {
        let mut toggled = f.clone();
        toggled.done = !f.done;
        let (id, version) = (item.id.clone(), item.version.to_string());
        view! {
            <ActionForm action=actions.update attr:class="no-print inline">
                <input type="hidden" name="id" value=id/>
                <input type="hidden" name="version" value=version/>
                <HiddenFields f=toggled/>
                <button type="submit" class="btn-secondary">{if f.done { "Mark not done" } else { "Mark done" }}</button>
            </ActionForm>
        }
    });
    let edit = can.then(|| {
        let (id, id2, version, section) = (item.id.clone(), item.id.clone(), item.version.to_string(), item.section.clone());
        let fields = f.clone();
        let error = error_from_form(error_of(actions.update.value()), &prefix);
        let open = error.is_some();
        view! {
            <details class="no-print mt-1" open=open>
                <summary class="cursor-pointer underline">"Change or remove"</summary>
                <ActionForm action=actions.update attr:class="mt-2">
                    <input type="hidden" name="id" value=id/>
                    <input type="hidden" name="version" value=version/>
                    <Fields prefix=prefix section item=Some(fields) conditions error/>
                    <button type="submit" class="btn-primary">"Save the change"</button>
                </ActionForm>
                <ActionForm action=actions.remove attr:class="mt-2">
                    <input type="hidden" name="id" value=id2/>
                    <button type="submit" class="btn-secondary">"Remove from the plan"</button>
                </ActionForm>
            </details>
        }
    });
    view! {
        <li class="entry-item" data-testid="plan-item">
            <p class="text-lg">{f.done.then(|| view! { <span class="badge-new">"Done"</span>" " })}{f.text.clone()}</p>
            {item.entry_text.clone().map(|t| view! { <p>"About: "<a href=format!("/entries/{}", f.entry_id)>{t}</a></p> })}
            {(!f.who.is_empty() || !f.by_when.is_empty()).then(|| view! { <p>{format!("Who: {}", if f.who.is_empty() { "not said" } else { &f.who })}{(!f.by_when.is_empty()).then(|| format!(" · By {}", f.by_when))}</p> })}
            {(!f.target_date.is_empty() || status.is_some()).then(|| view! { <p>{status.map(|s| format!("Status: {s}"))}{(!f.target_date.is_empty()).then(|| format!(" · Target {}", f.target_date))}</p> })}
            {(!f.role.is_empty() || !f.contact.is_empty()).then(|| view! { <p>{f.role.clone()}{(!f.contact.is_empty()).then(|| format!(" · {}", f.contact))}</p> })}
            <p class="text-gray-700 text-sm">{format!("Written by {} · {}{}", item.author, item.when, if item.version > 1 { format!(" · version {}", item.version) } else { String::new() })}</p>
            {done_form}
            {edit}
        </li>
    }
}

/// The fields of one item, for a section (ids prefixed: many forms share a
/// page). A refused form comes back with what was typed, each error beside
/// its field; its erring fields take the bare ids the error summary links to.
#[component]
fn Fields(
    prefix: String,
    section: String,
    item: Option<kith_types::together::PlanFields>,
    conditions: Vec<(String, String)>,
    error: Option<kith_types::AppError>,
) -> impl IntoView {
    let mut f = item.unwrap_or_default();
    if let Some(e) = &error {
        for (name, slot) in [
            ("text", &mut f.text),
            ("target_date", &mut f.target_date),
            ("status", &mut f.status),
            ("who", &mut f.who),
            ("by_when", &mut f.by_when),
            ("role", &mut f.role),
            ("contact", &mut f.contact),
            ("entry_id", &mut f.entry_id),
        ] {
            if let Some(v) = e.value(name) {
                *slot = v;
            }
        }
    }
    let message = |name: &str| error.as_ref().and_then(|e| e.field_error(name));
    let id = |name: &str| if message(name).is_some() { name.to_string() } else { format!("{prefix}-{name}") };
    let problem = |name: &str| message(name).map(|m| view! { <p id=format!("{}-error", id(name)) class="text-red-800 font-bold">{m}</p> });
    let described = |name: &str| message(name).map(|_| format!("{}-error", id(name)));
    // A date field is described by its hint, and by its error when it has one.
    let date_described = |name: &str| match described(name) {
        Some(e) => format!("{}-hint {e}", id(name)),
        None => format!("{}-hint", id(name)),
    };
    let date_hint = |name: &str| view! { <p id=format!("{}-hint", id(name)) class="text-sm text-gray-700">{DATE_HINT}</p> };
    let invalid = |name: &str| message(name).map(|_| "true");
    let text_label = match section.as_str() {
        "goals" => "The goal",
        "actions" => "What will be done",
        "people" => "Name",
        "contingency" => "What to do, and whom to call",
        _ => "Text",
    };
    let extra = match section.as_str() {
        "goals" => view! {
            <div class="mb-3"><label for=id("target_date") class="block font-bold">"Target date"</label>{date_hint("target_date")}{problem("target_date")}
                <input id=id("target_date") name="item[target_date]" type="date" value=f.target_date.clone() class="field" aria-describedby=date_described("target_date") aria-invalid=invalid("target_date")/></div>
            <div class="mb-3"><label for=id("status") class="block font-bold">"Status"</label>
                <select id=id("status") name="item[status]" class="field">
                    {GOAL_STATUSES.iter().map(|(k, t)| view! { <option value=*k selected=f.status == *k>{*t}</option> }).collect::<Vec<_>>()}
                </select></div>
        }.into_any(),
        "actions" => view! {
            <div class="mb-3"><label for=id("who") class="block font-bold">"Who does it"</label>{problem("who")}
                <input id=id("who") name="item[who]" type="text" maxlength="200" value=f.who.clone() class="field" aria-describedby=described("who") aria-invalid=invalid("who")/></div>
            <div class="mb-3"><label for=id("by_when") class="block font-bold">"By when"</label>{date_hint("by_when")}{problem("by_when")}
                <input id=id("by_when") name="item[by_when]" type="date" value=f.by_when.clone() class="field" aria-describedby=date_described("by_when") aria-invalid=invalid("by_when")/></div>
            {f.done.then(|| view! { <input type="hidden" name="item[done]" value="on"/> })}
        }.into_any(),
        "people" => view! {
            <div class="mb-3"><label for=id("role") class="block font-bold">"Role"</label>{problem("role")}
                <input id=id("role") name="item[role]" type="text" maxlength="200" value=f.role.clone() class="field" aria-describedby=described("role") aria-invalid=invalid("role")/></div>
            <div class="mb-3"><label for=id("contact") class="block font-bold">"How to reach them"</label>{problem("contact")}
                <input id=id("contact") name="item[contact]" type="text" maxlength="500" value=f.contact.clone() class="field" aria-describedby=described("contact") aria-invalid=invalid("contact")/></div>
        }.into_any(),
        "problems" => view! {
            <div class="mb-3"><label for=id("entry_id") class="block font-bold">"Condition in the record (optional)"</label>
                <select id=id("entry_id") name="item[entry_id]" class="field">
                    <option value="">"None"</option>
                    {conditions.into_iter().map(|(eid, t)| { let s = f.entry_id == eid; view! { <option value=eid selected=s>{t}</option> } }).collect::<Vec<_>>()}
                </select></div>
        }.into_any(),
        _ => ().into_any(),
    };
    view! {
        <div class="mb-3">
            <label for=id("text") class="block font-bold">{text_label}</label>{problem("text")}
            <textarea id=id("text") name="item[text]" rows="3" class="field w-full" required=true aria-describedby=described("text") aria-invalid=invalid("text")>{f.text.clone()}</textarea>
        </div>
        {extra}
    }
}

/// An item's fields as hidden inputs (for one-button changes like "Mark done").
#[component]
fn HiddenFields(f: kith_types::together::PlanFields) -> impl IntoView {
    let pairs = [
        ("text", f.text),
        ("target_date", f.target_date),
        ("status", f.status),
        ("who", f.who),
        ("by_when", f.by_when),
        ("role", f.role),
        ("contact", f.contact),
        ("entry_id", f.entry_id),
        ("done", if f.done { "on".into() } else { String::new() }),
    ];
    pairs.into_iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| view! { <input type="hidden" name=format!("item[{k}]") value=v/> }).collect::<Vec<_>>()
}

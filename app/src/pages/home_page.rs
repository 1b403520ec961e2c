//! The home page: for a patient, the summary of their record; for anyone
//! else, what they can do here.

use kith_types::record::{EntryCard, Summary};
use kith_types::{Me, Role};
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::get_summary;
use crate::components::layout::{Authed, ErrorPanel};
use crate::components::record::EntryList;

#[component]
pub fn HomePage() -> impl IntoView {
    let summary = Resource::new(|| (), |_| get_summary());
    let messages = Resource::new(|| (), |_| crate::api::get_notifications());
    view! { <Title text="Summary – Kith"/><Authed render=move |me| home(me, summary, messages)/> }
}

type Messages = Resource<Result<Vec<(String, String)>, kith_types::AppError>>;

/// Asks the person to confirm their email address, where this Kith sends
/// email and they have not: until then it sends them nothing.
fn confirm_reminder(me: &Me) -> Option<impl IntoView> {
    (me.can_email && !me.email_confirmed && !me.email.is_empty()).then(|| {
        let send = ServerAction::<crate::api::SendEmailConfirmation>::new();
        view! {
            <div class="notice-warn" data-testid="confirm-email-reminder">
                <p>"Please confirm your email address, "{me.email.clone()}". Until you do, Kith emails you nothing: not when someone new looks at your record, and not a link if you forget your password."</p>
                <ActionForm action=send attr:class="mt-2">
                    <button type="submit" class="btn-secondary">"Email me a link to confirm it"</button>
                </ActionForm>
            </div>
        }
    })
}

fn home(me: Me, summary: Resource<Result<Summary, kith_types::AppError>>, messages: Messages) -> impl IntoView {
    let reminder = confirm_reminder(&me);
    if me.patient.is_none() && me.viewing.is_none() {
        let text = match me.role {
            Role::Patient => "Your record has not been set up yet. Once your NHS Number is linked, your health information from your GP, hospitals and other services will appear here.",
            Role::Carer => "When someone you care for shares their record with you, it will appear here.",
            Role::Clinician => "Records that patients share with you will appear here.",
        };
        let shared = Resource::new(|| (), |_| crate::api::get_shared_records());
        let emergency = if me.break_glass {
            Some(view! { <EmergencyAccess/> }.into_any())
        } else if me.break_glass_unverified {
            Some(
                view! {
                    <section class="card border-l-8 border-gray-500" aria-labelledby="emergency-heading" data-testid="emergency-unverified">
                        <h2 id="emergency-heading" class="text-xl font-bold mb-2">"Emergency access"</h2>
                        <p>{kith_types::UNVERIFIED_CLINICIAN}</p>
                    </section>
                }
                .into_any(),
            )
        } else {
            None
        };
        return view! {
            <h1 class="text-3xl font-bold mb-4">"Hello, "{me.name.clone()}</h1>
            {reminder}
            {emergency}
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let records = shared.await.unwrap_or_default();
                    if records.is_empty() {
                        return view! { <p class="card">{text}</p> }.into_any();
                    }
                    view! {
                        <section class="card" aria-labelledby="shared-heading">
                            <h2 id="shared-heading" class="text-xl font-bold mb-2">"Records shared with you"</h2>
                            <ul class="entry-list">
                                {records.into_iter().map(|r| {
                                    view! {
                                        <li class="entry-item">
                                            <p class="font-bold text-lg">{r.name.clone()}</p>
                                            <p>{r.scope.clone()}" · "{r.rights.clone()}{r.expires.clone().map(|e| format!(" · until {e}"))}</p>
                                            // A plain form: switching records reloads the whole page.
                                            <form method="post" action="/api/sharing/open_record">
                                                <input type="hidden" name="patient_id" value=r.patient_id.clone()/>
                                                <button type="submit" class="btn-primary mt-1">"Open "{r.name.clone()}"'s record"</button>
                                            </form>
                                        </li>
                                    }
                                }).collect::<Vec<_>>()}
                            </ul>
                        </section>
                    }.into_any()
                })}
            </Suspense>
        }
        .into_any();
    }
    let heading = match &me.viewing {
        Some(v) => format!("{}'s record", v.patient_name),
        None => format!("Hello, {}", me.name),
    };
    let can_add = me.manages_record();
    view! {
        <h1 class="text-3xl font-bold mb-4">{heading}</h1>
        {reminder}
        {can_add.then(|| view! { <p class="mb-4 no-print"><a href="/add">"Add a reading, allergy, medicine or condition"</a></p> })}
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let list = messages.await.unwrap_or_default();
                (!list.is_empty()).then(|| view! {
                    <section class="notice-warn" aria-labelledby="messages-heading" data-testid="messages">
                        <h2 id="messages-heading" class="text-xl font-bold mb-1">"Messages"</h2>
                        <ul class="list-disc ml-6">
                            {list.into_iter().map(|(m, at)| view! { <li>{m}" "<span class="text-gray-700">{format!("({at})")}</span></li> }).collect::<Vec<_>>()}
                        </ul>
                        <p class="mt-1"><a href="/access-log">"See who has seen your record"</a></p>
                    </section>
                })
            })}
        </Suspense>
        <Suspense fallback=|| view! { <p>"Loading the record…"</p> }>
            {move || Suspend::new(async move {
                match summary.await {
                    Ok(s) => view! { <SummaryView s/> }.into_any(),
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
    .into_any()
}

#[component]
fn Section(title: &'static str, id: &'static str, children: Children) -> impl IntoView {
    let heading = format!("{id}-heading");
    let labelled_by = heading.clone();
    view! {
        <section aria-labelledby=labelled_by class="card" id=id>
            <h2 id=heading class="text-xl font-bold mb-3">{title}</h2>
            {children()}
        </section>
    }
}

#[component]
fn SummaryView(s: Summary) -> impl IntoView {
    let allergies: Vec<EntryCard> = s.allergies;
    let allergy_box = if allergies.is_empty() {
        view! { <section aria-labelledby="allergies-heading" class="card" id="allergies">
            <h2 id="allergies-heading" class="text-xl font-bold">"Allergies"</h2>
            <p>"No allergies recorded by any source."</p>
        </section> }
        .into_any()
    } else {
        view! {
            <section aria-labelledby="allergies-heading" class="allergy-box" id="allergies">
                <h2 id="allergies-heading" class="text-xl font-bold mb-2">"Allergies"</h2>
                <EntryList cards=allergies empty=""/>
            </section>
        }
        .into_any()
    };
    let disputed = s.medications.iter().filter(|m| m.disagreement).count();
    view! {
        <section class="card" aria-labelledby="record-heading">
            <h2 id="record-heading" class="sr-only">"Whose record"</h2>
            <dl class="grid grid-cols-[max-content_1fr] gap-x-6 gap-y-1">
                <dt class="font-bold">"Name"</dt><dd>{s.patient_name}</dd>
                <dt class="font-bold">"NHS Number"</dt><dd data-testid="nhs-number">{s.nhs_number}</dd>
                <dt class="font-bold">"Date of birth"</dt><dd data-testid="birth-date">{s.birth_date}</dd>
            </dl>
        </section>
        {(!s.crisis_plan.is_empty()).then(|| view! {
            <section class="card border-l-8 border-red-700" aria-labelledby="crisis-heading" data-testid="crisis-plan">
                <h2 id="crisis-heading" class="text-xl font-bold mb-1">"Crisis plan"</h2>
                <ul class="list-disc ml-6">{s.crisis_plan.iter().map(|c| view! { <li class="whitespace-pre-wrap">{c.clone()}</li> }).collect::<Vec<_>>()}</ul>
                <p class="mt-1"><a href="/care-plan#contingency">"The whole care plan"</a></p>
            </section>
        })}
        {s.plan_review.clone().map(|(date, due)| view! {
            <p class=if due { "notice-warn" } else { "card" } data-testid="plan-review">
                {if due { format!("The care plan review is due (planned for {date}). ") } else { format!("Next care plan review: {date}. ") }}
                <a href="/care-plan#review-heading">"Open the care plan"</a>
            </p>
        })}
        {allergy_box}
        {(!s.new_since_last_visit.is_empty()).then(|| {
            let n = s.new_since_last_visit.len();
            view! {
                <Section title="New since your last visit" id="new">
                    <p class="mb-2">{n}{if n == 1 { " entry has" } else { " entries have" }}" arrived since "{s.last_visit.clone().unwrap_or_default()}"."</p>
                    <EntryList cards=s.new_since_last_visit show_kind=true empty=""/>
                </Section>
            }
        })}
        <Section title="Current problems" id="problems">
            <EntryList cards=s.problems empty="No current problems recorded."/>
        </Section>
        <Section title="Current medicines" id="medicines">
            {(disputed > 0).then(|| view! {
                <p class="notice-warn" role="note">
                    {disputed}{if disputed == 1 { " medicine is" } else { " medicines are" }}" recorded differently by different services. Check with your GP or pharmacist which is right."
                </p>
            })}
            <EntryList cards=s.medications empty="No current medicines recorded."/>
        </Section>
        <Section title="Latest results" id="results">
            <EntryList cards=s.latest_results empty="No test results yet."/>
            <p class="mt-2"><a href="/results">"See all results and trends"</a></p>
        </Section>
        <Section title="Recent appointments and stays" id="encounters">
            <EntryList cards=s.encounters empty="No appointments recorded."/>
        </Section>
        <p class="mt-4">{if s.total_entries > 1000 { "More than 1,000".to_string() } else { s.total_entries.to_string() }}" entries in your record. "<a href="/timeline">"See them all on the timeline"</a>", or "<a href="/record/export.fhir.json" rel="external" download="">"download them as FHIR"</a>"."</p>
    }
}

/// Emergency access ("break glass"): only where the deployment allows it.
#[component]
fn EmergencyAccess() -> impl IntoView {
    use crate::components::form::{error_of, ErrorSummary, SubmitButton, TextField};
    let action = ServerAction::<crate::api::BreakGlass>::new();
    let error = error_of(action.value());
    view! {
        <section class="card border-l-8 border-red-700" aria-labelledby="emergency-heading">
            <h2 id="emergency-heading" class="text-xl font-bold mb-2">"Emergency access"</h2>
            <p class="mb-3">"If a patient needs care now and has not shared their record with you, you can open it here. The patient is told at once, and your name, organisation and reason stand out in their access log. Private entries stay hidden."</p>
            <ErrorSummary error/>
            // A plain form: opening another record reloads the whole page.
            <form method="post" action="/api/record/break_glass">
                <TextField name="nhs_number" label="The patient's NHS Number" inputmode="numeric" autocomplete="off" required=true error/>
                <TextField name="reason" label="Why you need the record now" hint="For example: unconscious in A&E, needs medicines and allergies" required=true error/>
                <SubmitButton label="Open the record in an emergency"/>
            </form>
        </section>
    }
}

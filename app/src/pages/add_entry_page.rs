//! "Add to your record": a reading taken at home, an allergy, a medicine or
//! a health condition, typed in by the patient or a carer acting for them.
//! One plain form per kind (chosen by a link, so it works without
//! JavaScript); a refused form comes back filled in, each error by its field.

use kith_types::record::{OwnEntryForm, LABELS, OWN_ENTRY_KINDS, READINGS};
use kith_types::Me;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::AddOwnEntry;
use crate::components::form::{error_of, ErrorSummary, FormResult, TextField};
use crate::components::layout::Authed;

const DATE_HINT: &str = "If your browser shows no calendar, write it as year-month-day: for example 2026-03-01.";

#[component]
pub fn AddEntryPage() -> impl IntoView {
    let query = use_query_map();
    let action = ServerAction::<AddOwnEntry>::new();
    let error = error_of(action.value());
    // The link chosen says which form (without JavaScript a refused form
    // comes back to the same address).
    let kind = Memo::new(move |_| query.with(|q| q.get("kind").unwrap_or_default()));
    view! {
        <Title text="Add to your record – Kith"/>
        <Authed render=move |me| add_entry(me, kind, action, error)/>
    }
}

/// The last refusal of a form: its fields' errors and what was typed.
/// Other errors (a lost connection) leave it, and the form drawn from it,
/// as they are.
pub(crate) fn last_refusal(error: FormResult) -> RwSignal<Option<kith_types::AppError>> {
    let is_refusal = |e: &kith_types::AppError| matches!(e, kith_types::AppError::Validation { .. });
    let refusal = RwSignal::new(error.get_untracked().filter(is_refusal));
    Effect::new(move |_| {
        if let Some(e) = error.get().filter(is_refusal) {
            refusal.set(Some(e));
        }
    });
    refusal
}

fn add_entry(me: Me, kind: Memo<String>, action: ServerAction<AddOwnEntry>, error: FormResult) -> impl IntoView {
    // Choosing another kind of entry clears the last refusal.
    let refusal = last_refusal(error);
    Effect::new(move |before: Option<String>| {
        let now = kind.get();
        if before.is_some_and(|b| b != now) {
            refusal.set(None);
            action.value().set(None);
        }
        now
    });
    let refusal: FormResult = refusal.into();
    let whose = match &me.viewing {
        Some(v) => format!("{}'s record", v.patient_name),
        None => "your record".to_string(),
    };
    if !me.manages_record() {
        return view! {
            <h1 class="text-3xl font-bold mb-4">"Add to "{whose}</h1>
            <p class="card">"Only the patient, or a family carer acting for them, can add entries to their record."</p>
        }
        .into_any();
    }
    // Private is the patient's own: a carer would lose sight of it at once.
    let owner = me.viewing.is_none();
    view! {
        <h1 class="text-3xl font-bold mb-4">"Add to "{whose.clone()}</h1>
        <p class="mb-4">"Add something the record does not have yet. It shows as entered by you, beside what GPs, hospitals and other services send, and it is shared, like everything else, by its privacy label. Allergies and conditions you add are marked as not checked by a clinician."</p>
        <nav aria-label="What to add" class="mb-6" id="kind" tabindex="-1">
            <ul class="flex flex-wrap gap-3">
                {OWN_ENTRY_KINDS.iter().map(|(key, title)| {
                    let href = format!("/add?kind={key}");
                    let here = move || kind.get() == *key;
                    view! {
                        <li><a href=href aria-current=move || here().then_some("page") class=move || if here() { "btn-primary" } else { "btn-secondary" }>{*title}</a></li>
                    }
                }).collect::<Vec<_>>()}
            </ul>
        </nav>
        <ErrorSummary error/>
        {move || {
            // Drawn again with each refusal, so its fields show their errors
            // and what was typed; other errors (a lost connection) leave the
            // form as it is.
            refusal.track();
            let k = kind.get();
            OWN_ENTRY_KINDS.iter().any(|(key, _)| *key == k).then(|| view! { <EntryForm kind=k owner action error=refusal/> })
        }}
    }
    .into_any()
}

/// The fields of one kind of entry's form (all but its label), sent as
/// `entry[...]`. `initial`: what they hold before anything is typed (an
/// entry being changed); a refusal's typed values come first.
pub(crate) fn entry_fields(kind: &str, initial: &OwnEntryForm, error: FormResult) -> AnyView {
    let typed = move |field: &str, initial: &str| error.get_untracked().and_then(|e| e.value(field)).unwrap_or_else(|| initial.to_string());
    let init = |value: &str| Signal::stored(Some(value.to_string()).filter(|v| !v.is_empty()));
    match kind {
        "reading" => view! {
            // A reading being changed stays a reading of the same thing.
            <Choices field="reading" legend="What did you measure?" options=READINGS.iter().filter(|r| initial.reading.is_empty() || r.key == initial.reading).map(|r| (r.key, format!("{} ({})", r.title, r.unit))).collect() chosen=typed("reading", &initial.reading) error/>
            <TextField name="value" label="The reading" hint="A number. For blood pressure, the upper number (systolic)." in_form="entry" inputmode="decimal" initial=init(&initial.value) error/>
            <TextField name="second_value" label="Blood pressure only: the lower number (diastolic)" in_form="entry" inputmode="decimal" initial=init(&initial.second_value) error/>
            <TextField name="date" label="Date taken" hint=DATE_HINT in_form="entry" input_type="date" initial=init(&initial.date) error/>
            <TextField name="time" label="Time taken (optional)" hint="UK time, as hours and minutes: for example 08:30." in_form="entry" input_type="time" initial=init(&initial.time) error/>
        }
        .into_any(),
        "allergy" => view! {
            <TextField name="text" label="What are you allergic to?" hint="For example penicillin, peanuts or sticking plasters." in_form="entry" initial=init(&initial.text) error/>
            <TextField name="detail" label="What happens (optional)" hint="For example a rash, or swelling of the face." in_form="entry" initial=init(&initial.detail) error/>
            <TextField name="date" label="When it started (optional)" hint=DATE_HINT in_form="entry" input_type="date" initial=init(&initial.date) error/>
        }
        .into_any(),
        "medicine" => view! {
            <TextField name="text" label="Name of the medicine" hint="As on the box, for example Ibuprofen 200mg tablets. Include medicines you buy yourself." in_form="entry" initial=init(&initial.text) error/>
            <TextField name="detail" label="How you take it (optional)" hint="For example one tablet three times a day." in_form="entry" initial=init(&initial.detail) error/>
            <TextField name="date" label="When you started (optional)" hint=DATE_HINT in_form="entry" input_type="date" initial=init(&initial.date) error/>
        }
        .into_any(),
        _ => view! {
            <TextField name="text" label="Name of the condition" hint="For example asthma, or migraine." in_form="entry" initial=init(&initial.text) error/>
            <TextField name="date" label="Since when (optional)" hint=DATE_HINT in_form="entry" input_type="date" initial=init(&initial.date) error/>
        }
        .into_any(),
    }
}

#[component]
fn EntryForm(kind: String, owner: bool, action: ServerAction<AddOwnEntry>, error: FormResult) -> impl IntoView {
    let typed = move |field: &str| error.get_untracked().and_then(|e| e.value(field)).unwrap_or_default();
    let fields = entry_fields(&kind, &OwnEntryForm::default(), error);
    let label = Some(typed("label")).filter(|l| !l.is_empty()).unwrap_or_else(|| "general".to_string());
    view! {
        <ActionForm action=action attr:class="card" attr:data-testid="add-entry-form">
            <input type="hidden" name="entry[kind]" value=kind/>
            {fields}
            <Choices field="label" legend="Who may see it" options=LABELS.iter().filter(|(key, _)| owner || *key != "private").map(|(key, title)| (*key, label_choice(key, title))).collect() chosen=label error/>
            <button type="submit" class="btn-primary">"Add to the record"</button>
        </ActionForm>
    }
}

fn label_choice(key: &str, title: &str) -> String {
    match key {
        "general" => "General: anyone the whole record is shared with".into(),
        "private" => "Private: nobody else, whatever is shared".into(),
        _ => format!("{title}: only those it is shared with by this label"),
    }
}

/// Radio buttons named `entry[field]`; the first has id `field`, for the
/// error summary's link.
#[component]
fn Choices(field: &'static str, legend: &'static str, options: Vec<(&'static str, String)>, chosen: String, error: FormResult) -> impl IntoView {
    let message = error.get_untracked().and_then(|e| e.field_error(field));
    let error_id = format!("{field}-error");
    let class = if message.is_some() { "mb-5 border-l-4 border-red-700 pl-3" } else { "mb-5" };
    let described = message.as_ref().map(|_| error_id.clone());
    view! {
        <fieldset class=class aria-describedby=described>
            <legend class="font-bold mb-1">{legend}</legend>
            {message.map(|m| view! { <p id=error_id class="text-red-800 font-bold mb-1"><span class="sr-only">"Error: "</span>{m}</p> })}
            {options.into_iter().enumerate().map(|(i, (key, title))| {
                let id = if i == 0 { field.to_string() } else { format!("{field}-{key}") };
                view! {
                    <div class="flex items-center gap-2 mb-1">
                        <input type="radio" id=id.clone() name=format!("entry[{field}]") value=key checked=chosen == key class="w-6 h-6"/>
                        <label for=id>{title}</label>
                    </div>
                }
            }).collect::<Vec<_>>()}
        </fieldset>
    }
}

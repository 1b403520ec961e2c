//! Form pieces that work without JavaScript and tie every error to its field
//! (GOV.UK-style: a summary at the top linking to each field, and the message
//! above the field, referenced by aria-describedby).

use kith_types::AppError;
use leptos::prelude::*;

/// The last result of a form's action, for fields to read their error from.
pub type FormResult = Signal<Option<AppError>>;

/// Turns an action's value into "the current error, if any".
pub fn error_of<T, S>(value: S) -> FormResult
where
    T: Clone + Send + Sync + 'static,
    S: With<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
{
    Signal::derive(move || value.with(|v| v.as_ref().and_then(|r| r.as_ref().err().cloned())))
}

/// The error of a refused form, if it came from the form named `form` (the
/// server fn names it in the error's values, beside what was typed): one of
/// many forms on a page opens again with it.
pub fn error_from_form(error: FormResult, form: &str) -> Option<AppError> {
    error.get_untracked().filter(|e| e.value("form").as_deref() == Some(form))
}

#[component]
pub fn ErrorSummary(error: FormResult) -> impl IntoView {
    move || {
        error.get().map(|e| {
            let items = match &e {
                AppError::Validation { errors, .. } => errors
                    .iter()
                    .map(|fe| {
                        let href = format!("#{}", fe.field);
                        view! { <li><a href=href class="underline text-red-800">{fe.message.clone()}</a></li> }
                    })
                    .collect::<Vec<_>>(),
                _ => vec![],
            };
            view! {
                <div class="border-4 border-red-700 p-4 mb-6 bg-white" role="alert" tabindex="-1" id="error-summary">
                    <h2 class="text-lg font-bold text-red-800">{e.to_string()}</h2>
                    <ul class="list-disc ml-6 mt-2">{items}</ul>
                </div>
            }
        })
    }
}

#[component]
pub fn TextField(
    /// The form field name; also its id.
    name: &'static str,
    label: &'static str,
    #[prop(default = "text")] input_type: &'static str,
    #[prop(optional)] autocomplete: Option<&'static str>,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(optional)] required: bool,
    #[prop(optional)] inputmode: Option<&'static str>,
    /// What the field holds before anything is typed (an invitation's email).
    #[prop(optional, into)]
    initial: Option<Signal<Option<String>>>,
    /// The server function argument the field is part of: sent as
    /// `in_form[name]` (its id, and its key in errors, stay `name`).
    #[prop(optional)]
    in_form: Option<&'static str>,
    error: FormResult,
) -> impl IntoView {
    let sent_as = in_form.map(|f| format!("{f}[{name}]")).unwrap_or_else(|| name.to_string());
    let message = move || error.get().and_then(|e| e.field_error(name));
    let value = move || error.get().and_then(|e| e.value(name)).or_else(|| initial.and_then(|i| i.get()));
    let hint_id = format!("{name}-hint");
    let error_id = format!("{name}-error");
    let described = {
        let hint_id = hint_id.clone();
        let error_id = error_id.clone();
        move || {
            let mut ids = Vec::new();
            if hint.is_some() {
                ids.push(hint_id.clone());
            }
            if message().is_some() {
                ids.push(error_id.clone());
            }
            if ids.is_empty() {
                None
            } else {
                Some(ids.join(" "))
            }
        }
    };
    view! {
        <div class=move || if message().is_some() { "mb-5 border-l-4 border-red-700 pl-3" } else { "mb-5" }>
            <label for=name class="block font-bold mb-1">{label}</label>
            {hint.map(|h| view! { <p id=hint_id.clone() class="text-gray-700 mb-1">{h}</p> })}
            {
                let error_id = error_id.clone();
                move || message().map(|m| view! { <p id=error_id.clone() class="text-red-800 font-bold mb-1"><span class="sr-only">"Error: "</span>{m}</p> })
            }
            {if input_type == "password" {
                // Passwords are never echoed back, and a failed attempt clears
                // the field (with JavaScript as without it).
                view! {
                    <input
                        id=name
                        name=sent_as.clone()
                        type=input_type
                        autocomplete=autocomplete
                        required=required
                        prop:value=move || { error.track(); String::new() }
                        aria-invalid=move || message().map(|_| "true")
                        aria-describedby=described.clone()
                        class="block w-full max-w-md border-2 border-gray-900 rounded px-3 py-2 text-lg"
                    />
                }.into_any()
            } else {
                view! {
                    <input
                        id=name
                        name=sent_as.clone()
                        type=input_type
                        autocomplete=autocomplete
                        inputmode=inputmode
                        required=required
                        value=value
                        aria-invalid=move || message().map(|_| "true")
                        aria-describedby=described.clone()
                        class="block w-full max-w-md border-2 border-gray-900 rounded px-3 py-2 text-lg"
                    />
                }.into_any()
            }}
        </div>
    }
}

#[component]
pub fn SubmitButton(label: &'static str) -> impl IntoView {
    view! {
        <button type="submit" class="btn-primary">{label}</button>
    }
}

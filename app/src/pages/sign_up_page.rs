use kith_types::Role;
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::SignUp;
use crate::components::form::{error_of, ErrorSummary, SubmitButton, TextField};
use crate::components::layout::PublicPage;

#[component]
pub fn SignUpPage() -> impl IntoView {
    let action = ServerAction::<SignUp>::new();
    let error = error_of(action.value());
    // An invitation link (from the Sharing page) fills in the email and role.
    let query = leptos_router::hooks::use_query_map();
    let invited_email = Signal::derive(move || query.with(|q| q.get("email")));
    let invited_role = move || query.with(|q| q.get("role")).filter(|r| r == "clinician" || r == "carer");
    let chosen_role = move || error.get().and_then(|e| e.value("role")).or_else(invited_role).unwrap_or_else(|| "patient".into());
    let role_error = move || error.get().and_then(|e| e.field_error("role"));
    view! {
        <Title text="Create an account – Kith"/>
        <PublicPage>
            <h1 class="text-3xl font-bold mb-4">"Create an account"</h1>
            <ErrorSummary error=error/>
            <ActionForm action=action>
                <TextField name="name" label="Full name" autocomplete="name" required=true error=error/>
                <TextField name="email" label="Email address" input_type="email" autocomplete="email" required=true initial=invited_email error=error/>
                <TextField name="password" label="Create a password" input_type="password" autocomplete="new-password"
                    hint="At least 10 characters. Three random words make a strong password you can remember."
                    required=true error=error/>
                <fieldset class="mb-5" aria-describedby=move || role_error().map(|_| "role-error")>
                    <legend id="role" class="font-bold mb-1">"I am"</legend>
                    {move || role_error().map(|m| view! { <p id="role-error" class="text-red-800 font-bold">{m}</p> })}
                    {Role::ALL.iter().map(|r| {
                        let id = format!("role-{}", r.as_str());
                        let value = r.as_str();
                        view! {
                            <div class="flex items-center gap-2 my-1">
                                <input type="radio" name="role" id=id.clone() value=value
                                    checked=move || chosen_role() == value class="w-6 h-6"/>
                                <label for=id>{match r {
                                    Role::Patient => "A patient, setting up my own record",
                                    Role::Carer => "A family carer, helping someone I care for",
                                    Role::Clinician => "A clinician or care professional",
                                }}</label>
                            </div>
                        }
                    }).collect::<Vec<_>>()}
                </fieldset>
                <fieldset class="mb-5 card">
                    <legend class="font-bold">"Patients: your NHS Number (optional)"</legend>
                    <p class="mb-3">"With your NHS Number and date of birth we set up your record. You can add them later."</p>
                    <TextField name="nhs_number" label="NHS Number" inputmode="numeric"
                        hint="10 digits, like 943 476 5919. It is on letters from the NHS and in the NHS App."
                        error=error/>
                    <TextField name="birth_date" label="Date of birth" input_type="date" autocomplete="bday" hint="If your browser shows no calendar, write it as year-month-day: for example 1948-03-27." error=error/>
                </fieldset>
                <fieldset class="mb-5 card">
                    <legend class="font-bold">"Clinicians: where you work (optional)"</legend>
                    <p class="mb-3">"Patients see this beside your name in their access log."</p>
                    <TextField name="organisation" label="Organisation" autocomplete="organization" error=error/>
                </fieldset>
                <SubmitButton label="Create account"/>
            </ActionForm>
            <p class="mt-6">"Already have an account? "<a href="/sign-in">"Sign in"</a></p>
        </PublicPage>
    }
}

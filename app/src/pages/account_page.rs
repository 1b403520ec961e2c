use kith_types::Me;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::ChangePassword;
use crate::components::form::{error_of, ErrorSummary, SubmitButton, TextField};
use crate::components::layout::Authed;

#[component]
pub fn AccountPage() -> impl IntoView {
    view! { <Title text="Your account – Kith"/><Authed render=account/> }
}

fn account(me: Me) -> impl IntoView {
    let action = ServerAction::<ChangePassword>::new();
    let error = error_of(action.value());
    let query = use_query_map();
    let changed = move || query.with(|q| q.get("password_changed").is_some());
    view! {
        <h1 class="text-3xl font-bold mb-4">"Your account"</h1>
        <dl class="card grid grid-cols-[max-content_1fr] gap-x-6 gap-y-2">
            <dt class="font-bold">"Name"</dt><dd>{me.name}</dd>
            <dt class="font-bold">"Email"</dt><dd>{me.email}</dd>
            <dt class="font-bold">"Role"</dt><dd>{me.role.label()}</dd>
        </dl>
        <h2 class="text-2xl font-bold mt-8 mb-4">"Change your password"</h2>
        <Show when=changed>
            <p class="card" role="status">"Your password has been changed. Any other devices signed in to your account have been signed out."</p>
        </Show>
        <ErrorSummary error=error/>
        <ActionForm action=action>
            <TextField name="current_password" label="Current password" input_type="password" autocomplete="current-password" required=true error=error/>
            <TextField name="new_password" label="New password" input_type="password" autocomplete="new-password"
                hint="At least 10 characters." required=true error=error/>
            <TextField name="confirm_password" label="New password again" input_type="password" autocomplete="new-password" required=true error=error/>
            <SubmitButton label="Change password"/>
        </ActionForm>
    }
}

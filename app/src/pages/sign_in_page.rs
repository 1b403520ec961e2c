use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::SignIn;
use crate::components::form::{error_of, SubmitButton, TextField};
use crate::components::layout::PublicPage;

#[component]
pub fn SignInPage() -> impl IntoView {
    let action = ServerAction::<SignIn>::new();
    let error = error_of(action.value());
    let query = use_query_map();
    let signed_out = move || query.with(|q| q.get("signed_out").is_some());
    // Sign-in failures are not about one field: show the message at the top.
    let message = move || {
        error.get().and_then(|e| match e {
            kith_types::AppError::Validation { .. } => None,
            other => Some(other.to_string()),
        })
    };
    view! {
        <Title text="Sign in – Kith"/>
        <PublicPage>
            <h1 class="text-3xl font-bold mb-4">"Sign in"</h1>
            <Show when=signed_out>
                <p class="card" role="status">"You have signed out."</p>
            </Show>
            {move || message().map(|m| view! {
                <div class="border-4 border-red-700 p-4 mb-6" role="alert" id="error-summary">
                    <h2 class="font-bold text-red-800">{m}</h2>
                </div>
            })}
            <ActionForm action=action>
                <TextField name="email" label="Email address" input_type="email" autocomplete="email" required=true error=error/>
                <TextField name="password" label="Password" input_type="password" autocomplete="current-password" required=true error=error/>
                <SubmitButton label="Sign in"/>
            </ActionForm>
            <p class="mt-6">"New to Kith? "<a href="/sign-up">"Create an account"</a></p>
        </PublicPage>
    }
}

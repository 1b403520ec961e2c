//! The second step of signing in, for accounts with two-step verification.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::SignInCode;
use crate::components::form::{error_of, ErrorSummary, SubmitButton, TextField};
use crate::components::layout::PublicPage;

#[component]
pub fn SignInCodePage() -> impl IntoView {
    let action = ServerAction::<SignInCode>::new();
    let error = error_of(action.value());
    view! {
        <Title text="Sign in: your code – Kith"/>
        <PublicPage>
            <h1 class="text-3xl font-bold mb-4">"Enter your code"</h1>
            <p class="mb-4">"Your password was right. Now type the code your authenticator app shows for Kith, or one of your recovery codes."</p>
            <ErrorSummary error/>
            <ActionForm action=action>
                <TextField name="code" label="Code" autocomplete="one-time-code"
                    hint="6 digits from the app, or a recovery code like abcd-efgh-ijkl" required=true error/>
                <SubmitButton label="Continue"/>
            </ActionForm>
            <p class="mt-6"><a href="/sign-in">"Start again"</a></p>
        </PublicPage>
    }
}

//! "Forgot your password?": asking for a link by email, and the page the
//! link opens to choose a new password.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::{check_password_reset, password_reset_available, AskPasswordReset, ResetPassword};
use crate::components::form::{error_of, ErrorSummary, SubmitButton, TextField};
use crate::components::layout::PublicPage;

/// `/forgot-password`
#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let action = ServerAction::<AskPasswordReset>::new();
    let error = error_of(action.value());
    let query = use_query_map();
    let sent = move || query.with(|q| q.get("sent").is_some());
    let available = Resource::new(|| (), |_| password_reset_available());
    view! {
        <Title text="Forgot your password – Kith"/>
        <PublicPage>
            <h1 class="text-3xl font-bold mb-4">"Forgot your password?"</h1>
            <Show when=sent>
                <div class="notice-ok" role="status" data-testid="reset-sent">
                    <p class="font-bold">"If a Kith account uses that email address, and its owner has confirmed it, we have sent it a link to set a new password."</p>
                    <p>"The link works once, for an hour. If nothing arrives in a few minutes, look in your junk mail folder, or check the address and ask again. Kith sends links only to addresses that were confirmed: if you never confirmed yours, ask whoever runs Kith to help."</p>
                </div>
            </Show>
            <ErrorSummary error/>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    if available.await.unwrap_or(false) {
                        view! {
                            <p class="mb-4">"Type the email address you use for Kith. We will email you a link to choose a new password."</p>
                            <ActionForm action=action>
                                <TextField name="email" label="Email address" input_type="email" autocomplete="email" required=true error=error/>
                                <SubmitButton label="Email me a link"/>
                            </ActionForm>
                        }.into_any()
                    } else {
                        view! {
                            <p class="mb-4" data-testid="reset-unavailable">"This Kith does not send email, so it cannot send you a link. Ask whoever runs it for help setting a new password."</p>
                        }.into_any()
                    }
                })}
            </Suspense>
            <p class="mt-6"><a href="/sign-in">"Back to sign in"</a></p>
        </PublicPage>
    }
}

/// `/reset-password/:token`, from the email.
#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.with(|p| p.get("token").unwrap_or_default());
    let check = Resource::new(token, check_password_reset);
    let action = ServerAction::<ResetPassword>::new();
    let error = error_of(action.value());
    view! {
        <Title text="Choose a new password – Kith"/>
        <PublicPage>
            <h1 class="text-3xl font-bold mb-4">"Choose a new password"</h1>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match check.await {
                        Ok(()) => view! {
                            <p class="mb-4">"When you have set it, you are signed out everywhere, and you sign in again with the new password."</p>
                            <ErrorSummary error/>
                            <ActionForm action=action>
                                <input type="hidden" name="token" value=token()/>
                                <TextField name="new_password" label="New password" input_type="password" autocomplete="new-password"
                                    hint="At least 10 characters. A few words you will remember work well." required=true error=error/>
                                <TextField name="confirm_password" label="New password again" input_type="password" autocomplete="new-password" required=true error=error/>
                                <SubmitButton label="Set my new password"/>
                            </ActionForm>
                        }.into_any(),
                        Err(e) => view! {
                            <div class="notice-error" role="alert" data-testid="reset-gone"><p>{e.to_string()}</p></div>
                            <p class="mt-4"><a href="/forgot-password" class="underline">"Ask for a new link"</a></p>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </PublicPage>
    }
}

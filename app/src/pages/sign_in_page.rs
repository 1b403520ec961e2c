use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::{sign_in_options, SignIn};
use crate::components::form::{error_of, SubmitButton, TextField};
use crate::components::layout::{DoneNotice, PublicPage};

#[component]
pub fn SignInPage() -> impl IntoView {
    let action = ServerAction::<SignIn>::new();
    let error = error_of(action.value());
    let query = use_query_map();
    let signed_out = move || query.with(|q| q.get("signed_out"));
    let options = Resource::new(|| (), |_| sign_in_options());
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
            <DoneNotice param="done" messages=&[
                ("password-reset", "Your new password is set, and you have been signed out everywhere. Sign in with it now."),
            ]/>
            {move || signed_out().map(|how| view! {
                <p class="card" role="status">{if how == "everywhere" { "You have signed out on every device." } else { "You have signed out." }}</p>
            })}
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let o = options.await.unwrap_or_default();
                    view! {
                        {o.notice.map(|n| view! {
                            <div class="border-4 border-blue-800 p-4 mb-6" role="status" data-testid="sign-in-notice"><p class="font-bold">{n}</p></div>
                        })}
                        {(!o.providers.is_empty()).then(|| view! {
                            <ul class="mb-6 space-y-3" aria-label="Other ways to sign in">
                                {o.providers.into_iter().map(|p| view! {
                                    <li>
                                        // rel=external: a full page load, so the browser really goes to the provider.
                                        <a class="btn-secondary" rel="external" href=format!("/auth/oidc/start?provider={}", p.id)>
                                            {if p.for_staff { format!("Staff: sign in with {}", p.name) } else { format!("Sign in with {}", p.name) }}
                                        </a>
                                    </li>
                                }).collect::<Vec<_>>()}
                            </ul>
                            <p class="mb-4">"Or sign in with your email address and password:"</p>
                        })}
                    }
                })}
            </Suspense>
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
            <p class="mt-4"><a href="/forgot-password">"Forgot your password?"</a></p>
            <p class="mt-6">"New to Kith? "<a href="/sign-up">"Create an account"</a></p>
        </PublicPage>
    }
}

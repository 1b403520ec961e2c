//! The page a "confirm your email address" link opens. Confirming takes a
//! press of a button while signed in to the account the link is for, so
//! neither a mail scanner that follows links nor the owner of a mistyped
//! address can confirm it.

use kith_types::EmailConfirmationView;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::api::{get_email_confirmation, ConfirmEmail};
use crate::components::form::{error_of, ErrorSummary, SubmitButton};
use crate::components::layout::PublicPage;

/// `/confirm-email/:token`, and `/confirm-email` for the link kept in the
/// session while its person signed in.
#[component]
pub fn ConfirmEmailPage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.with(|p| p.get("token").unwrap_or_default());
    let data = Resource::new(token, get_email_confirmation);
    let action = ServerAction::<ConfirmEmail>::new();
    let error = error_of(action.value());
    view! {
        <Title text="Confirm your email address – Kith"/>
        <PublicPage>
            <h1 class="text-3xl font-bold mb-4">"Confirm your email address"</h1>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(EmailConfirmationView::Ready { email, change: true }) => view! {
                            <p class="mb-4" data-testid="confirm-ready">"Press the button to make "<span class="font-bold">{email}</span>" the email address of your Kith account. You will sign in with it, and Kith will email you there, from now on."</p>
                            <ErrorSummary error/>
                            <ActionForm action=action>
                                <input type="hidden" name="token" value=token()/>
                                <SubmitButton label="Change to this email address"/>
                            </ActionForm>
                        }.into_any(),
                        Ok(EmailConfirmationView::Ready { email, change: false }) => view! {
                            <p class="mb-4" data-testid="confirm-ready">"Press the button to confirm that "<span class="font-bold">{email.clone()}</span>" is your email address. Kith can then tell you when someone new looks at your record, and send you a link if you forget your password."</p>
                            <p class="mb-4">"Press it only if you read this link in the mailbox of "{email}". If that is not your address, "<a href="/account#email" class="underline">"change it on your Account page"</a>" instead."</p>
                            <ErrorSummary error/>
                            <ActionForm action=action>
                                <input type="hidden" name="token" value=token()/>
                                <SubmitButton label="Confirm my email address"/>
                            </ActionForm>
                        }.into_any(),
                        Ok(EmailConfirmationView::SignIn) => view! {
                            <p class="mb-4" data-testid="confirm-sign-in">"To confirm your email address, sign in to your Kith account. You will come back to this page."</p>
                            <p>"Only the account's owner can confirm its address, so that someone who gets this email by mistake cannot."</p>
                            <p class="mt-4"><a href="/sign-in" class="btn-primary">"Sign in"</a></p>
                        }.into_any(),
                        Ok(EmailConfirmationView::OtherAccount) => view! {
                            <div class="notice-error" role="alert" data-testid="confirm-other-account"><p>{kith_types::OTHER_ACCOUNT_LINK}</p></div>
                            // A plain form: signing out is a whole new page.
                            <form method="post" action="/api/sign_out" class="mt-4">
                                <button type="submit" class="btn-secondary">"Sign out"</button>
                            </form>
                        }.into_any(),
                        Err(e) => view! {
                            <div class="notice-error" role="alert" data-testid="confirm-gone"><p>{e.to_string()}</p></div>
                            <p class="mt-4"><a href="/account#email" class="underline">"Go to your Account page"</a></p>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </PublicPage>
    }
}

//! Opening a shared link: no account, but the viewer says who they are.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::api::{link_prompt, OpenLink};
use crate::components::form::{error_of, ErrorSummary, SubmitButton, TextField};
use crate::components::layout::PublicPage;

#[component]
pub fn LinkPage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.with(|p| p.get("token").unwrap_or_default());
    let prompt = Resource::new(token, link_prompt);
    let action = ServerAction::<OpenLink>::new();
    // The summary says every refusal (a locked link too), once.
    let error = error_of(action.value());
    view! {
        <Title text="Shared record – Kith"/>
        <PublicPage>
            <h1 class="text-3xl font-bold mb-4">"A shared health record"</h1>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match prompt.await {
                        Err(_) => view! {
                            <div class="notice-error" role="alert">
                                <h2 class="font-bold">"This link cannot be opened"</h2>
                                <p>"It may have expired, been used already, been locked or been withdrawn by the patient. Ask them for a new one."</p>
                            </div>
                        }.into_any(),
                        Ok(needs_passcode) => view! {
                            <p class="mb-4">"Someone has shared part of their health record with you. Say who you are: it is recorded in the access log the patient reads."</p>
                            <ErrorSummary error=error/>
                            <ActionForm action=action>
                                <input type="hidden" name="token" value=token()/>
                                {needs_passcode.then(|| view! {
                                    <TextField name="passcode" label="Passcode" hint="The patient gave you this separately." autocomplete="off" required=true error=error/>
                                })}
                                <TextField name="name" label="Your name" autocomplete="name" required=true error=error/>
                                <TextField name="role" label="Your role" hint="For example: paramedic, A&E doctor" autocomplete="organization-title" required=true error=error/>
                                <TextField name="organisation" label="Your organisation" autocomplete="organization" required=true error=error/>
                                <SubmitButton label="Open the record"/>
                            </ActionForm>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </PublicPage>
    }
}

use kith_types::Me;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::{get_two_step, BeginTwoStep, ChangePassword, ConfirmTwoStep, DisableTwoStep};
use kith_types::TwoStepView;
use crate::components::form::{error_of, ErrorSummary, SubmitButton, TextField};
use crate::components::layout::Authed;

#[derive(Clone, Copy)]
struct TwoStep {
    begin: ServerAction<BeginTwoStep>,
    confirm: ServerAction<ConfirmTwoStep>,
    disable: ServerAction<DisableTwoStep>,
    data: Resource<Result<TwoStepView, kith_types::AppError>>,
}

#[component]
pub fn AccountPage() -> impl IntoView {
    let (begin, confirm, disable) = (ServerAction::<BeginTwoStep>::new(), ServerAction::<ConfirmTwoStep>::new(), ServerAction::<DisableTwoStep>::new());
    let data = Resource::new(move || (begin.version().get(), confirm.version().get(), disable.version().get()), |_| get_two_step());
    let two = TwoStep { begin, confirm, disable, data };
    view! { <Title text="Your account – Kith"/><Authed render=move |me| account(me, two)/> }
}

fn account(me: Me, two: TwoStep) -> impl IntoView {
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
        <TwoStepSection two/>
    }
}

/// Two-step verification: set up with an authenticator app, recovery codes
/// shown once, switched off with the password (unless required here).
#[component]
fn TwoStepSection(two: TwoStep) -> impl IntoView {
    let confirm_error = error_of(two.confirm.value());
    let disable_error = error_of(two.disable.value());
    let begin_error = error_of(two.begin.value());
    view! {
        <section class="card mt-8" id="two-step" aria-labelledby="two-step-heading">
            <h2 id="two-step-heading" class="text-2xl font-bold mb-2">"Two-step verification"</h2>
            <ErrorSummary error=begin_error/>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let v = match two.data.await {
                        Ok(v) => v,
                        Err(e) => return view! { <p role="alert">{e.to_string()}</p> }.into_any(),
                    };
                    let codes = (!v.new_codes.is_empty()).then(|| view! {
                        <div class="notice-warn" data-testid="recovery-codes">
                            <p class="font-bold">"Your recovery codes: write them down now. Each works once if you lose your phone. They will not be shown again."</p>
                            <ul class="font-mono">{v.new_codes.iter().map(|c| view! { <li>{c.clone()}</li> }).collect::<Vec<_>>()}</ul>
                        </div>
                    });
                    if v.enabled {
                        view! {
                            <p data-testid="two-step-status">{format!("Two-step verification is on. {} recovery codes left.", v.codes_left)}</p>
                            {codes}
                            {(!v.required).then(|| view! {
                                <details class="mt-2"><summary class="cursor-pointer underline">"Switch it off"</summary>
                                    <ErrorSummary error=disable_error/>
                                    <ActionForm action=two.disable>
                                        <TextField name="password" label="Your password" input_type="password" autocomplete="current-password" required=true error=disable_error/>
                                        <SubmitButton label="Switch off two-step verification"/>
                                    </ActionForm>
                                </details>
                            })}
                        }.into_any()
                    } else if let Some(p) = v.pending {
                        view! {
                            <p class="mb-2">"1. In your authenticator app, add an account by scanning this code, or by typing the key below."</p>
                            <div class="w-48 bg-white p-2" inner_html=p.qr_svg role="img" aria-label="QR code of the key for your authenticator app"></div>
                            <p class="mt-2">"Key: "<span class="font-mono break-all" data-testid="two-step-secret">{p.secret}</span></p>
                            <p class="mt-4 mb-2">"2. Type the 6-digit code the app now shows."</p>
                            <ErrorSummary error=confirm_error/>
                            <ActionForm action=two.confirm>
                                <TextField name="code" label="Code from the app" inputmode="numeric" autocomplete="one-time-code" required=true error=confirm_error/>
                                <SubmitButton label="Switch on two-step verification"/>
                            </ActionForm>
                        }.into_any()
                    } else {
                        view! {
                            <p class="mb-2">{if v.required { "Your role here requires two-step verification: set it up before opening records." } else { "Protect your account with a code from an authenticator app as well as your password." }}</p>
                            <ActionForm action=two.begin>
                                <SubmitButton label="Set up two-step verification"/>
                            </ActionForm>
                        }.into_any()
                    }
                })}
            </Suspense>
        </section>
    }
}

use kith_types::Me;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::{
    get_sign_in_methods, get_two_step, AddPassword, BeginTwoStep, ChangeEmail, ChangePassword, ConfirmTwoStep, DisableTwoStep, RemoveSignInMethod,
    SendEmailConfirmation, SignOutEverywhere,
};
use crate::components::form::{error_of, ErrorSummary, SubmitButton, TextField};
use crate::components::layout::Authed;
use kith_types::TwoStepView;

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
    // Made here, not inside Authed's render, so the server fetches it once:
    // the fetch takes the one-time notice out of the session.
    let (remove, add_password) = (ServerAction::<RemoveSignInMethod>::new(), ServerAction::<AddPassword>::new());
    let methods = Resource::new(move || (remove.version().get(), add_password.version().get()), |_| get_sign_in_methods());
    let methods = Methods { remove, add_password, data: methods };
    view! { <Title text="Your account – Kith"/><Authed render=move |me| account(me, two, methods)/> }
}

#[derive(Clone, Copy)]
struct Methods {
    remove: ServerAction<RemoveSignInMethod>,
    add_password: ServerAction<AddPassword>,
    data: Resource<Result<kith_types::SignInMethodsView, kith_types::AppError>>,
}

fn account(me: Me, two: TwoStep, methods: Methods) -> impl IntoView {
    let action = ServerAction::<ChangePassword>::new();
    let error = error_of(action.value());
    let query = use_query_map();
    let changed = move || query.with(|q| q.get("password_changed").is_some());
    view! {
        <h1 class="text-3xl font-bold mb-4">"Your account"</h1>
        <dl class="card grid grid-cols-[max-content_1fr] gap-x-6 gap-y-2">
            <dt class="font-bold">"Name"</dt><dd>{me.name}</dd>
            <dt class="font-bold">"Email"</dt><dd>{me.email.clone()}</dd>
            <dt class="font-bold">"Role"</dt><dd>{me.role.label()}</dd>
        </dl>
        <EmailSection email=me.email.clone() confirmed=me.email_confirmed can_email=me.can_email methods=methods.data/>
        // Only for accounts with a password; one made through a provider
        // adds one under "How you sign in" instead.
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let has_password = methods.data.await.map(|v| v.methods.iter().any(|m| m.id.is_empty())).unwrap_or(true);
                has_password.then(|| view! {
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
                })
            })}
        </Suspense>
        <TwoStepSection two/>
        <SignInMethodsSection methods/>
    }
}

/// Whether the address is confirmed, and the button that emails a link to
/// confirm it (where this Kith sends email); changing the address.
#[component]
fn EmailSection(
    email: String,
    confirmed: bool,
    can_email: bool,
    methods: Resource<Result<kith_types::SignInMethodsView, kith_types::AppError>>,
) -> impl IntoView {
    let send = ServerAction::<SendEmailConfirmation>::new();
    let error = error_of(send.value());
    let change = ServerAction::<ChangeEmail>::new();
    let change_error = error_of(change.value());
    let query = use_query_map();
    // Not with an error: a refused second request leaves the query behind.
    let sent = move || query.with(|q| q.get("confirmation_sent").is_some()) && error.get().is_none();
    let just_confirmed = move || query.with(|q| q.get("email_confirmed").is_some());
    let link_sent = move || query.with(|q| q.get("email_link_sent").is_some()) && change_error.get().is_none();
    let changed = move || query.with(|q| q.get("email_changed").is_some());
    let status = if !can_email {
        view! { <p data-testid="email-status">{email.clone()}</p> }.into_any()
    } else if confirmed {
        view! {
            <Show when=just_confirmed>
                <p class="notice-ok" role="status">"Thank you: your email address is confirmed."</p>
            </Show>
            <p data-testid="email-status">{email.clone()}" is confirmed. Kith emails you there."</p>
        }
        .into_any()
    } else {
        let to = email.clone();
        view! {
                    <p class="font-bold" data-testid="email-status">{email.clone()}" is not confirmed yet."</p>
                    <p class="mb-4">"Until you confirm it, Kith sends it nothing: not the emails that tell you when someone new looks at your record, and not a link to set a new password if you forget yours. We email you a link; open it while signed in to this account."</p>
                    <Show when=sent>
                        <p class="notice-ok" role="status" data-testid="confirmation-sent">"We have emailed a link to "{to.clone()}". It works for 7 days. If nothing arrives in a few minutes, look in your junk mail folder."</p>
                    </Show>
                    <ErrorSummary error/>
                    <ActionForm action=send>
                        <SubmitButton label="Email me a link to confirm it"/>
                    </ActionForm>
                }.into_any()
    };
    view! {
        <section class="card mt-8" id="email" aria-labelledby="email-heading" data-testid="email-section">
            <h2 id="email-heading" class="text-2xl font-bold mb-2">"Your email address"</h2>
            <Show when=changed>
                <p class="notice-ok" role="status" data-testid="email-changed">"Your email address is changed. Sign in with the new one from now on."</p>
            </Show>
            {status}
            <h3 class="text-xl font-bold mt-6 mb-2">"Change your email address"</h3>
            <Show when=link_sent>
                <p class="notice-ok" role="status" data-testid="email-link-sent">"We have emailed a link to your new address. Open it while signed in to make the change; until then Kith goes on using "{email.clone()}". The link works for 7 days."</p>
            </Show>
            <ErrorSummary error=change_error/>
            <ActionForm action=change>
                <TextField name="new_email" label="New email address" input_type="email" autocomplete="email" required=true error=change_error
                    hint="We email a link to the new address: it changes when you open the link while signed in."/>
                // Only an account with a password is asked for it.
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        let has_password = methods.await.map(|v| v.methods.iter().any(|m| m.id.is_empty())).unwrap_or(true);
                        has_password.then(|| view! {
                            <TextField name="email_password" label="Your password" input_type="password" autocomplete="current-password" required=true error=change_error/>
                        })
                    })}
                </Suspense>
                <SubmitButton label="Change my email address"/>
            </ActionForm>
        </section>
    }
}

/// How this person signs in (password and linked providers: add, remove,
/// never the last) and where they are signed in, with "sign out everywhere".
#[component]
fn SignInMethodsSection(methods: Methods) -> impl IntoView {
    let Methods { remove, add_password, data } = methods;
    let everywhere = ServerAction::<SignOutEverywhere>::new();
    let remove_error = error_of(remove.value());
    let password_error = error_of(add_password.value());
    view! {
        <section class="card mt-8" id="sign-in-methods" aria-labelledby="sign-in-methods-heading">
            <h2 id="sign-in-methods-heading" class="text-2xl font-bold mb-2">"How you sign in"</h2>
            <ErrorSummary error=remove_error/>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let v = match data.await {
                        Ok(v) => v,
                        Err(e) => return view! { <p role="alert">{e.to_string()}</p> }.into_any(),
                    };
                    let only_one = v.methods.len() <= 1;
                    let has_password = v.methods.iter().any(|m| m.id.is_empty());
                    view! {
                        {v.notice.map(|n| view! { <p class="notice-ok" role="status" data-testid="account-notice">{n}</p> })}
                        <ul class="divide-y" data-testid="sign-in-methods">
                            {v.methods.into_iter().map(|m| {
                                let label = format!("Remove {}", m.kind);
                                view! {
                                    <li class="py-2 flex flex-wrap gap-x-4 items-center">
                                        <span class="font-bold">{m.kind.clone()}</span>
                                        <span>{m.label}</span>
                                        {(!m.linked.is_empty()).then(|| view! { <span class="text-sm">{format!("linked {}", m.linked)}</span> })}
                                        {m.last_used.map(|u| view! { <span class="text-sm">{format!("last used {u}")}</span> })}
                                        {if only_one {
                                            view! { <span class="text-sm">"(your only way to sign in: add another before removing it)"</span> }.into_any()
                                        } else {
                                            view! {
                                                <ActionForm action=remove attr:class="inline">
                                                    <input type="hidden" name="method" value=m.id/>
                                                    <button type="submit" class="btn-secondary" aria-label=label.clone()>"Remove"</button>
                                                </ActionForm>
                                            }.into_any()
                                        }}
                                    </li>
                                }
                            }).collect::<Vec<_>>()}
                        </ul>
                        {(!has_password).then(|| view! {
                            <details class="mt-4"><summary class="cursor-pointer underline">"Add a password"</summary>
                                <p class="mt-2">"Then you can also sign in with your email address and this password."</p>
                                <ErrorSummary error=password_error/>
                                <ActionForm action=add_password>
                                    <TextField name="added_password" label="Password to add" input_type="password" autocomplete="new-password"
                                        hint="At least 10 characters." required=true error=password_error/>
                                    <TextField name="added_password_again" label="The same password again" input_type="password" autocomplete="new-password" required=true error=password_error/>
                                    <SubmitButton label="Add this password"/>
                                </ActionForm>
                            </details>
                        })}
                        {(!v.can_link.is_empty()).then(|| view! {
                            <p class="mt-4 mb-2">"Add a way to sign in:"</p>
                            <ul class="space-y-2">
                                {v.can_link.into_iter().map(|p| view! {
                                    <li><a class="btn-secondary" rel="external" href=format!("/auth/oidc/start?provider={}&link=1", p.id)>{format!("Link {}", p.name)}</a></li>
                                }).collect::<Vec<_>>()}
                            </ul>
                        })}
                        <h3 class="text-xl font-bold mt-6 mb-2">"Where you are signed in"</h3>
                        <table class="w-full text-left" data-testid="sessions">
                            <thead><tr><th scope="col">"Device"</th><th scope="col">"Signed in"</th><th scope="col">"With"</th><th scope="col">"Last active"</th></tr></thead>
                            <tbody>
                                {v.sessions.into_iter().map(|s| view! {
                                    <tr>
                                        <td>{s.device}{s.this_one.then_some(" (this device)")}</td>
                                        <td>{s.signed_in}</td>
                                        <td>{s.how}</td>
                                        <td>{s.last_active}</td>
                                    </tr>
                                }).collect::<Vec<_>>()}
                            </tbody>
                        </table>
                    }.into_any()
                })}
            </Suspense>
            <ActionForm action=everywhere attr:class="mt-4">
                <button type="submit" class="btn-secondary">"Sign out everywhere"</button>
            </ActionForm>
            <p class="text-sm mt-1">"Ends every session on every device, this one too. Do this if you lost a phone or signed in on someone else's computer."</p>
        </section>
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

use kith_types::record::{KINDS, LABELS};
use kith_types::sharing::SharingView;
use kith_types::{AppError, Me};
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::{get_sharing, CreateGrant, CreateLink, RevokeGrant, RevokeLink};
use crate::components::form::{error_of, ErrorSummary, FormResult, SubmitButton, TextField};
use crate::components::layout::{Authed, DoneNotice, ErrorPanel};

#[component]
pub fn SharingPage() -> impl IntoView {
    let actions = Actions {
        grant: ServerAction::<CreateGrant>::new(),
        link: ServerAction::<CreateLink>::new(),
        revoke_grant: ServerAction::<RevokeGrant>::new(),
        revoke_link: ServerAction::<RevokeLink>::new(),
    };
    // Refetched after every change made on this page.
    let data = Resource::new(
        move || (actions.grant.version().get(), actions.link.version().get(), actions.revoke_grant.version().get(), actions.revoke_link.version().get()),
        |_| get_sharing(),
    );
    // "Share only this entry" from an entry page: /sharing?entry=ID.
    let query = leptos_router::hooks::use_query_map();
    let chosen = Resource::new(
        move || query.with(|q| q.get("entry").unwrap_or_default()),
        |id| async move {
            if id.is_empty() {
                return None;
            }
            crate::api::get_entry(id).await.ok().map(|d| (d.card.id, d.card.text))
        },
    );
    view! { <Title text="Sharing – Kith"/><Authed render=move |me| sharing(me, data, actions, chosen)/> }
}

type Chosen = Resource<Option<(String, String)>>;

#[derive(Clone, Copy)]
struct Actions {
    grant: ServerAction<CreateGrant>,
    link: ServerAction<CreateLink>,
    revoke_grant: ServerAction<RevokeGrant>,
    revoke_link: ServerAction<RevokeLink>,
}

fn sharing(_me: Me, data: Resource<Result<SharingView, AppError>>, actions: Actions, chosen: Chosen) -> impl IntoView {
    let (grant, link) = (actions.grant, actions.link);
    let grant_error = error_of(grant.value());
    let link_error = error_of(link.value());
    view! {
        <h1 class="text-3xl font-bold mb-2">"Sharing"</h1>
        <DoneNotice param="done" messages=&[
            ("revoked", "Sharing stopped. It took effect straight away."),
            ("revoked-with-shares", "Sharing stopped, and so did everything that person shared for you. It took effect straight away."),
            ("renewed", "Renewed for another 12 months."),
        ]/>
        <p class="mb-4">"You decide who sees your record, and how much. Entries you label private are never shared. You can stop sharing at any time; it takes effect straight away."</p>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(v) => view! { <Current v actions/> }.into_any(),
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                }
            })}
        </Suspense>

        <section class="card mt-6" aria-labelledby="grant-heading">
            <h2 id="grant-heading" class="text-2xl font-bold mb-2">"Share with a person"</h2>
            <p class="mb-3">"You get an invitation link to give them. Nothing is shared until they open it and accept it while signed in to Kith, and you will see who accepted it."</p>
            <ErrorSummary error=grant_error/>
            {move || grant.value().get().and_then(|r| r.ok()).map(|i| view! { <NewInvitationBox i/> })}
            <ActionForm action=grant>
                <TextField name="email" label="Their email address" input_type="email" required=true error=grant_error/>
                <fieldset class="mb-4">
                    <legend class="font-bold">"They are"</legend>
                    <div class="flex gap-2 items-center"><input type="radio" id="role-clinician" name="role" value="clinician" checked=true class="w-6 h-6"/><label for="role-clinician">"A clinician or care professional"</label></div>
                    <div class="flex gap-2 items-center"><input type="radio" id="role-carer" name="role" value="carer" class="w-6 h-6"/><label for="role-carer">"A family carer (access lasts 12 months unless you choose otherwise)"</label></div>
                </fieldset>
                <ScopeFields prefix="grant" error=grant_error chosen/>
                <fieldset class="mb-4">
                    <legend class="font-bold">"They may also"</legend>
                    <div class="flex gap-2 items-center"><input type="checkbox" id="grant-comment" name="comment" value="on" class="w-6 h-6"/><label for="grant-comment">"Comment on entries"</label></div>
                    <div class="flex gap-2 items-center"><input type="checkbox" id="grant-contribute" name="contribute" value="on" class="w-6 h-6"/><label for="grant-contribute">"Add to your record and care plan"</label></div>
                    <div class="flex gap-2 items-center"><input type="checkbox" id="grant-act-for" name="act_for" value="on" class="w-6 h-6"/><label for="grant-act-for">"Act for you (family carers only: everything you can do, except letting others act for you)"</label></div>
                </fieldset>
                <TextField name="expires_in_days" label="Ends after this many days (optional)" inputmode="numeric" error=grant_error/>
                <SubmitButton label="Share"/>
            </ActionForm>
        </section>

        <section class="card mt-6" aria-labelledby="link-heading">
            <h2 id="link-heading" class="text-2xl font-bold mb-2">"Make a link for a clinician"</h2>
            <p class="mb-3">"For someone without an account, such as a paramedic or a hospital you are visiting. They will be asked who they are, and it is logged."</p>
            <ErrorSummary error=link_error/>
            {move || link.value().get().and_then(|r| r.ok()).map(|l| view! { <NewLinkBox l/> })}
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    data.await.ok().and_then(|v| v.new_link).map(|l| view! { <NewLinkBox l/> })
                })}
            </Suspense>
            <ActionForm action=link>

                <TextField name="name" label="A name to recognise it by" hint="For example: A&E visit, paramedic" error=link_error/>
                <ScopeFields prefix="link" error=link_error chosen/>
                <TextField name="expires_in_hours" label="Works for this many hours" hint="24 if left blank; at most 720 (30 days)." inputmode="numeric" error=link_error/>
                <TextField name="passcode" label="Passcode (optional)" hint="Tell them this separately, for example on the phone." error=link_error/>
                <div class="flex gap-2 items-center mb-4"><input type="checkbox" id="link-single" name="single_use" value="on" class="w-6 h-6"/><label for="link-single">"Can be opened only once"</label></div>
                <SubmitButton label="Make link"/>
            </ActionForm>
        </section>
    }
}

/// An invitation just made: the only time its address is shown.
#[component]
fn NewInvitationBox(i: kith_types::sharing::NewInvitation) -> impl IntoView {
    let mail = format!(
        "mailto:{}?subject={}&body={}",
        crate::components::urlencode(&i.email),
        crate::components::urlencode("An invitation to see my health record in Kith"),
        crate::components::urlencode(&format!(
            "I would like you to see my health record in Kith. Open this link and sign in (or create an account) to accept:\n\n{}\n",
            i.url
        )),
    );
    view! {
        <div class="notice-ok" role="status" data-testid="new-invitation" id="new-invitation">
            <h3 class="font-bold">"Invitation for "{i.email.clone()}</h3>
            <p>"Give them this link yourself: by email, text message or on paper. This is the only time it is shown. Whoever opens it and signs in can accept it, so give it only to them."</p>
            <p class="break-all"><a href=i.url.clone() data-testid="invitation-url">{i.url.clone()}</a></p>
            <p class="mt-2"><a href=mail class="underline">"Email it to "{i.email.clone()}" from your own email"</a></p>
        </div>
    }
}

#[component]
fn NewLinkBox(l: kith_types::sharing::NewLink) -> impl IntoView {
    view! {
        <div class="notice-ok" role="status" data-testid="new-link" id="new-link">
            <h3 class="font-bold">"Your link is ready"</h3>
            <p>"This is the only time it is shown. It works until "{l.expires.clone()}"."</p>
            <p class="break-all"><a href=l.url.clone() data-testid="link-url">{l.url.clone()}</a></p>
            <div class="qr mt-2 w-52" aria-label="The link as a QR code" role="img" inner_html=l.qr_svg.clone()></div>
        </div>
    }
}

/// Whole record, chosen labels and kinds, or one chosen entry.
#[component]
fn ScopeFields(prefix: &'static str, error: FormResult, chosen: Chosen) -> impl IntoView {
    let message = move || error.get().and_then(|e| e.field_error("scope"));
    let one = move || {
        Suspend::new(async move {
            chosen.await.map(|(id, text)| {
                let radio = format!("{prefix}-entry");
                view! {
                    <div class="flex gap-2 items-center">
                        <input type="radio" id=radio.clone() name="scope" value="entries" checked=true class="w-6 h-6"/>
                        <label for=radio>"Only this entry: "<span class="font-bold">{text}</span></label>
                        <input type="hidden" name="entries[0]" value=id/>
                    </div>
                }
            })
        })
    };
    view! {
        // Two forms on the page hold these fields: only the one with the
        // error takes the id the error summary links to, so ids stay unique.
        <fieldset class="mb-4" id=move || if message().is_some() { "scope".to_string() } else { format!("{prefix}-scope") }
            aria-describedby=move || message().map(|_| format!("{prefix}-scope-error"))>
            <legend class="font-bold">"What to share"</legend>
            {move || message().map(|m| view! { <p id=format!("{prefix}-scope-error") class="text-red-800 font-bold">{m}</p> })}
            <div class="flex gap-2 items-center"><input type="radio" id=format!("{prefix}-all") name="scope" value="all" checked=true class="w-6 h-6"/><label for=format!("{prefix}-all")>"My whole record (except private entries)"</label></div>
            <div class="flex gap-2 items-center"><input type="radio" id=format!("{prefix}-some") name="scope" value="some" class="w-6 h-6"/><label for=format!("{prefix}-some")>"Only what I tick below"</label></div>
            <div class="ml-8 grid sm:grid-cols-2 gap-x-4">
                <fieldset>
                    <legend class="font-semibold mt-2">"Entries labelled"</legend>
                    {LABELS.iter().filter(|(k, _)| *k != "private").enumerate().map(|(i, (k, t))| {
                        let id = format!("{prefix}-label-{k}");
                        view! { <div class="flex gap-2 items-center"><input type="checkbox" id=id.clone() name=format!("labels[{i}]") value=*k class="w-5 h-5"/><label for=id>{*t}</label></div> }
                    }).collect::<Vec<_>>()}
                </fieldset>
                <fieldset>
                    <legend class="font-semibold mt-2">"Kinds of entry"</legend>
                    {KINDS.iter().enumerate().map(|(i, (k, t))| {
                        let id = format!("{prefix}-kind-{k}");
                        view! { <div class="flex gap-2 items-center"><input type="checkbox" id=id.clone() name=format!("kinds[{i}]") value=*k class="w-5 h-5"/><label for=id>{*t}</label></div> }
                    }).collect::<Vec<_>>()}
                </fieldset>
            </div>
            // Last, so that when present its "checked" wins over the whole record's.
            <Suspense fallback=|| ()>{one}</Suspense>
        </fieldset>
    }
}

#[component]
fn Current(v: SharingView, actions: Actions) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="people-heading">
            <h2 id="people-heading" class="text-2xl font-bold mb-2">"People you share with"</h2>
            {v.new_invitation.map(|i| view! { <NewInvitationBox i/> })}
            {if v.grants.is_empty() {
                view! { <p>"You are not sharing your record with anyone."</p> }.into_any()
            } else {
                view! {
                    <ul class="entry-list">
                        {v.grants.into_iter().map(|g| {
                            let active = g.status == "active";
                            let revoke = actions.revoke_grant;
                            view! {
                                <li class="entry-item" data-testid="grant">
                                    <p class="font-bold">{g.email.clone()}" ("{g.role.clone()}")"</p>
                                    <p>{g.scope.clone()}" · "{g.rights.clone()}</p>
                                    <p class="text-sm">"Since "{g.created.clone()}{g.expires.clone().map(|e| format!(" · ends {e}"))}{g.last_used.clone().map(|u| format!(" · last used {u}"))}" · "<span class="font-bold">{g.status.clone()}</span></p>
                                    {g.made_by.clone().map(|by| view! { <p class="text-sm" data-testid="made-by">"Set up by "{by}</p> })}
                                    {match g.accepted_by.clone() {
                                        Some(who) => view! { <p class="text-sm" data-testid="accepted-by">"Accepted by "{who}</p> }.into_any(),
                                        None if active => {
                                            let id = g.id.clone();
                                            view! {
                                                <div class="text-sm" data-testid="invitation">
                                                    <p>"Waiting for them to accept your invitation: nothing is shared until they do."</p>
                                                    // A plain form: the new link comes back on a fresh page.
                                                    {g.can_resend.then(|| view! {
                                                        <form method="post" action="/api/sharing/new_invitation">
                                                            <input type="hidden" name="id" value=id/>
                                                            <button type="submit" class="btn-secondary mt-1">"Make a new invitation link for "{g.email.clone()}</button>
                                                        </form>
                                                    })}
                                                </div>
                                            }.into_any()
                                        }
                                        None => ().into_any(),
                                    }}
                                    {(g.review_due && g.status != "revoked").then(|| {
                                        let id = g.id.clone();
                                        view! {
                                            <div class="notice-warn" data-testid="review-due">
                                                <p>"Time to review this family carer's access. Renew it for another 12 months, or let it end."</p>
                                                <form method="post" action="/api/sharing/renew_grant">
                                                    <input type="hidden" name="id" value=id/>
                                                    <button type="submit" class="btn-secondary mt-1">"Renew for 12 months"</button>
                                                </form>
                                            </div>
                                        }
                                    })}
                                    {g.also_stops.clone().filter(|_| active).map(|what| view! {
                                        <p class="text-sm" id=format!("also-{}", g.id) data-testid="also-stops">
                                            "Stopping their access also stops what they shared for you: "{what}"."
                                        </p>
                                    })}
                                    {active.then(|| view! {
                                        <div class="flex flex-wrap gap-3">
                                            <form method="post" action="/api/sharing/preview">
                                                <input type="hidden" name="id" value=g.id.clone()/>
                                                <button type="submit" class="btn-secondary mt-1">"See what "{g.email.clone()}" sees"</button>
                                            </form>
                                            {g.can_stop.then(|| view! {
                                                <ActionForm action=revoke>
                                                    <input type="hidden" name="id" value=g.id.clone()/>
                                                    <button type="submit" class="btn-secondary mt-1" aria-describedby=g.also_stops.is_some().then(|| format!("also-{}", g.id))>
                                                        "Stop sharing with "{g.email.clone()}
                                                    </button>
                                                </ActionForm>
                                            })}
                                        </div>
                                    })}
                                </li>
                            }
                        }).collect::<Vec<_>>()}
                    </ul>
                }.into_any()
            }}
        </section>
        <section class="card" aria-labelledby="links-heading">
            <h2 id="links-heading" class="text-2xl font-bold mb-2">"Links"</h2>
            {if v.links.is_empty() {
                view! { <p>"You have not made any links."</p> }.into_any()
            } else {
                view! {
                    <ul class="entry-list">
                        {v.links.into_iter().map(|l| {
                            let active = l.status == "active";
                            let revoke = actions.revoke_link;
                            view! {
                                <li class="entry-item" data-testid="link">
                                    <p class="font-bold">{l.name.clone()}</p>
                                    <p>{l.scope.clone()}{l.has_passcode.then_some(" · passcode")}{l.single_use.then_some(" · once only")}</p>
                                    {l.made_by.clone().map(|by| view! { <p class="text-sm" data-testid="made-by">"Made by "{by}</p> })}
                                    <p class="text-sm">"Made "{l.created.clone()}" · until "{l.expires.clone()}{l.last_used.clone().map(|u| format!(" · last opened {u}"))}" · "<span class="font-bold">{l.status.clone()}</span></p>
                                    {active.then(|| view! {
                                        <div class="flex flex-wrap gap-3">
                                            <form method="post" action="/api/sharing/preview">
                                                <input type="hidden" name="id" value=l.id.clone()/>
                                                <button type="submit" class="btn-secondary mt-1">"See what link "{l.name.clone()}" shows"</button>
                                            </form>
                                            <ActionForm action=revoke>
                                                <input type="hidden" name="id" value=l.id.clone()/>
                                                <button type="submit" class="btn-secondary mt-1">"Withdraw link "{l.name.clone()}</button>
                                            </ActionForm>
                                        </div>
                                    })}
                                </li>
                            }
                        }).collect::<Vec<_>>()}
                    </ul>
                }.into_any()
            }}
        </section>
    }
}

//! An invitation to see someone's record: opened from the link the patient
//! handed over, accepted while signed in.

use kith_types::sharing::InvitationView;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::api::{get_invitation, AcceptInvitation};
use crate::components::form::{error_of, ErrorSummary};
use crate::components::layout::PublicPage;
use crate::components::urlencode;

/// `/invite/:token`, and `/invite` for the invitation kept in the session
/// while its person signed in.
#[component]
pub fn InvitePage() -> impl IntoView {
    let params = use_params_map();
    let data = Resource::new(move || params.with(|p| p.get("token").unwrap_or_default()), get_invitation);
    view! {
        <Title text="Invitation – Kith"/>
        <PublicPage>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok((token, v)) => invitation(token, v).into_any(),
                        Err(e) => view! {
                            <h1 class="text-3xl font-bold mb-4">"This invitation cannot be used"</h1>
                            <div class="notice-error" role="alert"><p>{e.to_string()}</p></div>
                            <p class="mt-4"><a href="/" class="underline">"Go to your Kith home page"</a></p>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </PublicPage>
    }
}

fn invitation(token: String, v: InvitationView) -> impl IntoView {
    let action = ServerAction::<AcceptInvitation>::new();
    let error = error_of(action.value());
    let as_whom = if v.role == "carer" { "a family carer" } else { "a clinician or care professional" };
    let next = match v.signed_in_as.clone() {
        Some(me) => view! {
            <p class="mb-4">"You are signed in as "<span class="font-bold">{me}</span>". Accept only if this invitation was meant for you: "{v.patient_name.clone()}" is told who accepted it."</p>
            <ErrorSummary error/>
            <div class="flex flex-wrap gap-3">
                // Plain forms: accepting opens the record, a whole new page.
                <form method="post" action="/api/sharing/accept_invitation">
                    <input type="hidden" name="token" value=token/>
                    <button type="submit" class="btn-primary">"Accept and open "{v.patient_name.clone()}"'s record"</button>
                </form>
                <form method="post" action="/api/sharing/forget_invitation">
                    <button type="submit" class="btn-secondary">"Not now"</button>
                </form>
            </div>
        }
        .into_any(),
        None => {
            let sign_up = format!("/sign-up?email={}&role={}", urlencode(&v.email), urlencode(&v.role));
            view! {
                <p class="mb-4">"To accept it, sign in to Kith, or create an account if you do not have one. You will come back to this page."</p>
                <div class="flex flex-wrap gap-3">
                    <a href="/sign-in" class="btn-primary">"Sign in"</a>
                    <a href=sign_up class="btn-secondary">"Create an account"</a>
                </div>
            }
            .into_any()
        }
    };
    view! {
        <h1 class="text-3xl font-bold mb-4">{v.patient_name.clone()}" has invited you to see their health record"</h1>
        <section class="card" aria-labelledby="offer-heading" data-testid="invitation-offer">
            <h2 id="offer-heading" class="text-xl font-bold mb-2">"What they are sharing"</h2>
            <dl class="grid grid-cols-[auto_1fr] gap-x-4 gap-y-1">
                <dt class="font-bold">"With"</dt><dd>{v.email.clone()}", as "{as_whom}</dd>
                <dt class="font-bold">"What"</dt><dd>{v.scope.clone()}</dd>
                <dt class="font-bold">"You may"</dt><dd>{v.rights.clone()}</dd>
                <dt class="font-bold">"Until"</dt><dd>{v.expires.clone().unwrap_or_else(|| "they stop sharing".into())}</dd>
            </dl>
        </section>
        {next}
    }
}

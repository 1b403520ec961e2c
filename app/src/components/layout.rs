//! The page frame: skip link, header with the main navigation, and the
//! signed-in guard that every private page goes through.

use kith_types::{AppError, Me};
use leptos::prelude::*;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_location;

use crate::api::{current_user, SignOut};
use crate::components::idle_warning::IdleWarning;

/// The main navigation. Later features add their links here, in this order:
/// Summary, Timeline, Results, Care plan, Sharing, Access log, Sources.
/// (label, address, needs the right to manage the record)
const NAV: &[(&str, &str, bool)] = &[
    ("Summary", "/", false),
    ("Timeline", "/timeline", false),
    ("Results", "/results", false),
    ("Care plan", "/care-plan", false),
    ("Sharing", "/sharing", true),
    ("Access log", "/access-log", true),
    ("Sources", "/sources", true),
];

#[component]
fn Header(me: Option<Me>) -> impl IntoView {
    let location = use_location();
    let signed_in = me.is_some();
    // Record pages are in the navigation once there is a record to show;
    // sharing and sources only for those who manage it.
    let has_record = me.as_ref().is_some_and(|m| m.patient.is_some() || m.viewing.is_some());
    let can_manage = me.as_ref().is_some_and(Me::manages_record);
    let viewing = me.as_ref().and_then(|m| m.viewing.clone());
    let is_link_viewer = viewing.as_ref().is_some_and(|v| v.how == "through a shared link");
    let sign_out = ServerAction::<SignOut>::new();
    view! {
        <header class="bg-teal-900 text-white">
            <div class="max-w-4xl mx-auto px-4 py-3 flex flex-wrap items-center gap-x-6 gap-y-2">
                <a href="/" class="text-2xl font-bold text-white no-underline">"Kith"</a>
                {me.map(|me| view! {
                    <p class="text-sm">"Signed in as "<span class="font-bold">{me.name}</span>" ("{me.role.label()}")"</p>
                })}
                {signed_in.then(|| view! {
                    <div class="ml-auto flex items-center gap-4">
                        {(!is_link_viewer).then(|| view! { <a href="/account" class="text-white underline">"Account"</a> })}
                        <ActionForm action=sign_out>
                            <button type="submit" class="text-white underline bg-transparent">"Sign out"</button>
                        </ActionForm>
                    </div>
                })}
            </div>
            {viewing.map(|v| view! { <ViewingBanner v/> })}
            {signed_in.then(|| view! {
                <nav aria-label="Main" class="bg-teal-800">
                    <ul class="max-w-4xl mx-auto px-4 flex flex-wrap gap-x-5">
                        {NAV.iter().filter(|(_, href, manage)| (has_record || *href == "/") && (!manage || can_manage)).map(|(label, href, _)| {
                            let current = move || {
                                let path = location.pathname.get();
                                let here = path == *href || (*href == "/timeline" && path.starts_with("/entries/"));
                                here.then_some("page")
                            };
                            view! {
                                <li><a href=*href aria-current=current class="nav-link">{*label}</a></li>
                            }
                        }).collect::<Vec<_>>()}
                    </ul>
                </nav>
            })}
        </header>
    }
}

/// Whose record is on screen when it is not one's own, and a way back.
#[component]
fn ViewingBanner(v: kith_types::sharing::Viewing) -> impl IntoView {
    let link = v.how == "through a shared link";
    view! {
        <div class="bg-yellow-100 text-gray-900 border-b-4 border-yellow-600" role="region" aria-label="Whose record">
            <div class="max-w-4xl mx-auto px-4 py-2 flex flex-wrap gap-x-4 items-center">
                <p><span class="font-bold">{v.patient_name.clone()}"'s record"</span>", "{v.how.clone()}"."
                    {v.partial.then_some(" They have not shared everything with you.")}</p>
                // A plain form: switching records reloads the whole page.
                <form method="post" action="/api/sharing/close_record">
                    <button type="submit" class="underline">{if link { "Close the record" } else if v.how.starts_with("previewed") { "End the preview" } else { "Back to my own page" }}</button>
                </form>
            </div>
        </div>
    }
}

/// A public page (sign-in, sign-up): header without navigation.
#[component]
pub fn PublicPage(children: Children) -> impl IntoView {
    view! {
        <SkipLink/>
        <Header me=None/>
        <main id="main" class="max-w-4xl mx-auto px-4 py-6">{children()}</main>
    }
}

#[component]
fn SkipLink() -> impl IntoView {
    view! { <a href="#main" class="skip-link">"Skip to main content"</a> }
}

/// A private page: renders `render(me)` for a signed-in person and sends
/// anyone else to the sign-in page. This guards the page only; the data it
/// shows is guarded again by each server function.
#[component]
pub fn Authed<F, V>(render: F) -> impl IntoView
where
    F: Fn(Me) -> V + Send + Sync + Clone + 'static,
    V: IntoView + 'static,
{
    let me = Resource::new(|| (), |_| current_user());
    view! {
        <Suspense fallback=|| view! { <p class="p-4">"Loading…"</p> }>
            {move || {
                let render = render.clone();
                Suspend::new(async move {
                    match me.await {
                        Ok(Some(me)) => {
                            let timeout = me.idle_timeout_minutes;
                            view! {
                                <SkipLink/>
                                <Header me=Some(me.clone())/>
                                <main id="main" class="max-w-4xl mx-auto px-4 py-6">{render(me)}</main>
                                <IdleWarning timeout_minutes=timeout/>
                            }.into_any()
                        }
                        Ok(None) => view! { <Redirect path="/sign-in"/> }.into_any(),
                        Err(e) => view! { <PublicPage><ErrorPanel error=e/></PublicPage> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

/// Why part of a page could not be shown. A heading under the page's own
/// h1; `page` when the failed part was to have given the page its h1 (an
/// entry that is not there), so the page still has one, and, for something
/// not there, the response is a 404.
#[component]
pub fn ErrorPanel(error: AppError, #[prop(optional)] page: bool) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if page && error == AppError::NotFound {
        if let Some(r) = use_context::<leptos_axum::ResponseOptions>() {
            r.set_status(http::StatusCode::NOT_FOUND);
        }
    }
    let heading = if page {
        view! { <h1 class="text-xl font-bold">"Sorry, there is a problem"</h1> }.into_any()
    } else {
        view! { <h2 class="text-xl font-bold">"Sorry, there is a problem"</h2> }.into_any()
    };
    view! {
        <div role="alert" class="border-4 border-red-700 p-4">
            {heading}
            <p>{error.to_string()}</p>
        </div>
    }
}

/// What a form post that came back with `?{param}=value` did, said once at
/// the top of the page (without JavaScript the page is all there is to say
/// it on; with it, the same address is navigated to).
#[component]
pub fn DoneNotice(param: &'static str, messages: &'static [(&'static str, &'static str)]) -> impl IntoView {
    let query = leptos_router::hooks::use_query_map();
    move || {
        query.with(|q| q.get(param)).and_then(|v| messages.iter().find(|(k, _)| *k == v)).map(|(_, m)| {
            view! { <p class="notice-ok" role="status" data-testid="done-notice">{*m}</p> }
        })
    }
}

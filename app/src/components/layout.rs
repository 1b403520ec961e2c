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
const NAV: &[(&str, &str)] = &[("Summary", "/"), ("Timeline", "/timeline"), ("Results", "/results"), ("Sources", "/sources")];

#[component]
fn Header(me: Option<Me>) -> impl IntoView {
    let location = use_location();
    let signed_in = me.is_some();
    // Record pages are in the navigation once there is a record to show.
    let has_record = me.as_ref().is_some_and(|m| m.patient.is_some());
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
                        <a href="/account" class="text-white underline">"Account"</a>
                        <ActionForm action=sign_out>
                            <button type="submit" class="text-white underline bg-transparent">"Sign out"</button>
                        </ActionForm>
                    </div>
                })}
            </div>
            {signed_in.then(|| view! {
                <nav aria-label="Main" class="bg-teal-800">
                    <ul class="max-w-4xl mx-auto px-4 flex flex-wrap gap-x-5">
                        {NAV.iter().filter(|(_, href)| has_record || *href == "/").map(|(label, href)| {
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

#[component]
pub fn ErrorPanel(error: AppError) -> impl IntoView {
    view! {
        <div role="alert" class="border-4 border-red-700 p-4">
            <h1 class="text-xl font-bold">"Sorry, there is a problem"</h1>
            <p>{error.to_string()}</p>
        </div>
    }
}

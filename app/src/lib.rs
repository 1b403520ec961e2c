//! Kith's user interface: pages, components and server-function declarations.
//! Built twice: with `ssr` into the server, with `hydrate` into the browser.

pub mod api;
pub mod components;
pub mod pages;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};

use pages::{
    access_log_page::AccessLogPage,
    account_page::AccountPage,
    add_entry_page::AddEntryPage,
    care_plan_page::CarePlanPage,
    change_entry_page::ChangeEntryPage,
    email_confirmation_page::ConfirmEmailPage,
    entry_page::EntryPage,
    home_page::HomePage,
    invite_page::InvitePage,
    link_page::LinkPage,
    not_found_page::NotFoundPage,
    password_reset_page::{ForgotPasswordPage, ResetPasswordPage},
    results_page::ResultsPage,
    sharing_page::SharingPage,
    sign_in_code_page::SignInCodePage,
    sign_in_page::SignInPage,
    sign_up_page::SignUpPage,
    sources_page::SourcesPage,
    timeline_page::TimelinePage,
};

/// The HTML document around the app.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en-GB">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light"/>
                <link rel="icon" href="/favicon.ico"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body class="bg-gray-50 text-gray-900">
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    components::live::provide_live();
    view! {
        <Stylesheet id="kith" href="/pkg/kith.css"/>
        <Title text="Kith"/>
        <Router>
            // Async: each page is sent whole once its data is ready, so it reads
            // the same without JavaScript and a signed-out visit gets a real redirect.
            <Routes fallback=NotFoundPage>
                <Route path=path!("/") view=HomePage ssr=SsrMode::Async/>
                <Route path=path!("/sign-in") view=SignInPage ssr=SsrMode::Async/>
                <Route path=path!("/sign-in/code") view=SignInCodePage ssr=SsrMode::Async/>
                <Route path=path!("/sign-up") view=SignUpPage ssr=SsrMode::Async/>
                <Route path=path!("/forgot-password") view=ForgotPasswordPage ssr=SsrMode::Async/>
                <Route path=path!("/confirm-email") view=ConfirmEmailPage ssr=SsrMode::Async/>
                <Route path=path!("/confirm-email/:token") view=ConfirmEmailPage ssr=SsrMode::Async/>
                <Route path=path!("/reset-password/:token") view=ResetPasswordPage ssr=SsrMode::Async/>
                <Route path=path!("/account") view=AccountPage ssr=SsrMode::Async/>
                <Route path=path!("/timeline") view=TimelinePage ssr=SsrMode::Async/>
                <Route path=path!("/add") view=AddEntryPage ssr=SsrMode::Async/>
                <Route path=path!("/entries/:id") view=EntryPage ssr=SsrMode::Async/>
                <Route path=path!("/entries/:id/change") view=ChangeEntryPage ssr=SsrMode::Async/>
                <Route path=path!("/results") view=ResultsPage ssr=SsrMode::Async/>
                <Route path=path!("/sources") view=SourcesPage ssr=SsrMode::Async/>
                <Route path=path!("/sharing") view=SharingPage ssr=SsrMode::Async/>
                <Route path=path!("/access-log") view=AccessLogPage ssr=SsrMode::Async/>
                <Route path=path!("/care-plan") view=CarePlanPage ssr=SsrMode::Async/>
                <Route path=path!("/l/:token") view=LinkPage ssr=SsrMode::Async/>
                <Route path=path!("/invite") view=InvitePage ssr=SsrMode::Async/>
                <Route path=path!("/invite/:token") view=InvitePage ssr=SsrMode::Async/>
            </Routes>
        </Router>
    }
}

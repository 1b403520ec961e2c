use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::layout::PublicPage;

#[component]
pub fn NotFoundPage() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Page not found – Kith"/>
        <PublicPage>
            <h1 class="text-3xl font-bold mb-4">"Page not found"</h1>
            <p>"If you typed the web address, check it is correct."</p>
            <p class="mt-2"><a href="/">"Go to your home page"</a></p>
        </PublicPage>
    }
}

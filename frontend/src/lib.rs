//! The browser entry point: hydrates the server-rendered page.

// The release build's optimiser walks the deep view types of the larger
// pages (the care plan); the default limit of 128 is not enough there.
#![recursion_limit = "256"]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
    // Lets browser tests wait until the page is interactive.
    if let Some(window) = web_sys::window() {
        let _ = js_sys::Reflect::set(&window, &"__kith_hydrated".into(), &true.into());
    }
}

//! Live updates: while a page that shows shared writing is open, the server
//! says (over server-sent events) when the record changed, and the page
//! fetches its data again. Without JavaScript, changes show on reload.

use leptos::prelude::*;

/// Goes up by one each time the server says the record on screen changed.
/// Resources that show shared writing read it, so they fetch again.
#[derive(Clone, Copy)]
pub struct LiveVersion(pub RwSignal<u64>);

pub fn provide_live() -> LiveVersion {
    let v = LiveVersion(RwSignal::new(0));
    provide_context(v);
    v
}

pub fn live_version() -> RwSignal<u64> {
    use_context::<LiveVersion>().map(|l| l.0).unwrap_or_else(|| RwSignal::new(0))
}

/// Listens for changes while it is on the page (browser only).
#[component]
pub fn Live() -> impl IntoView {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::closure::Closure;
        use wasm_bindgen::JsCast;
        let version = live_version();
        let source = StoredValue::new_local(None::<web_sys::EventSource>);
        Effect::new(move |_| {
            let Ok(es) = web_sys::EventSource::new("/events") else { return };
            let on_change = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |_: web_sys::MessageEvent| {
                version.update(|v| *v += 1);
            });
            let _ = es.add_event_listener_with_callback("change", on_change.as_ref().unchecked_ref());
            on_change.forget();
            source.set_value(Some(es));
        });
        on_cleanup(move || {
            source.with_value(|s| {
                if let Some(es) = s {
                    es.close();
                }
            })
        });
    }
    view! { <span hidden=true data-testid="live"></span> }
}

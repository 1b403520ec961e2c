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

/// Listens for changes while it is on the page (browser only). While the
/// reader is writing (a text field has focus, they have typed something not
/// yet sent, or they have opened a form to add or change something), a
/// change is not shown at once, since showing it redraws the page, which
/// would throw their text away and close the form: a status message says
/// so, and the change shows once they have sent or closed it, or when they
/// ask.
#[component]
pub fn Live() -> impl IntoView {
    let pending = RwSignal::new(false);
    let version = live_version();
    // Typed into a field since the page was last drawn or a form was sent.
    let typed = StoredValue::new(false);
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::closure::Closure;
        use wasm_bindgen::JsCast;
        let source = StoredValue::new_local(None::<web_sys::EventSource>);
        Effect::new(move |_| {
            let Ok(es) = web_sys::EventSource::new("/events") else { return };
            let on_change = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |_: web_sys::MessageEvent| {
                if typed.try_get_value().unwrap_or(false) || text_field_has_focus() || form_is_open() {
                    let _ = pending.try_set(true);
                } else {
                    let _ = version.try_update(|v| *v += 1);
                }
            });
            let _ = es.add_event_listener_with_callback("change", on_change.as_ref().unchecked_ref());
            on_change.forget();
            source.set_value(Some(es));
        });
        let on_input = window_event_listener(leptos::ev::input, move |e| {
            if e.target().is_some_and(|t| is_text_field(t.unchecked_ref())) {
                typed.try_set_value(true);
            }
        });
        let on_submit = window_event_listener(leptos::ev::submit, move |_| {
            typed.try_set_value(false);
        });
        // Once they have stopped writing, show what was held back.
        let tick = set_interval_with_handle(
            move || {
                if pending.try_get_untracked() == Some(true) && !typed.try_get_value().unwrap_or(true) && !text_field_has_focus() && !form_is_open() {
                    pending.set(false);
                    version.update(|v| *v += 1);
                }
            },
            std::time::Duration::from_secs(1),
        )
        .ok();
        on_cleanup(move || {
            on_input.remove();
            on_submit.remove();
            if let Some(t) = tick {
                t.clear();
            }
            source.with_value(|s| {
                if let Some(es) = s {
                    es.close();
                }
            })
        });
    }
    let show = move |_| {
        typed.set_value(false);
        pending.set(false);
        version.update(|v| *v += 1);
    };
    view! {
        <span hidden=true data-testid="live"></span>
        <div role="status" class="no-print">
            <Show when=move || pending.get()>
                <p class="notice-warn" data-testid="live-pending">
                    "Someone has changed this page since you started writing or opened a form. Their changes will show when you send or close it, or "
                    <button type="button" class="btn-secondary" on:click=show>"show them now"</button>
                    " (open forms will close, and what you have not sent will be cleared)."
                </p>
            </Show>
        </div>
    }
}

#[cfg(feature = "hydrate")]
fn text_field_has_focus() -> bool {
    web_sys::window().and_then(|w| w.document()).and_then(|d| d.active_element()).is_some_and(|e| is_text_field(&e))
}

/// A form the reader opened ("Add to …", "Change or remove"): forms that
/// are always shown, such as a comment box, count once typed in instead.
#[cfg(feature = "hydrate")]
fn form_is_open() -> bool {
    web_sys::window().and_then(|w| w.document()).and_then(|d| d.query_selector("details[open] form").ok().flatten()).is_some()
}

#[cfg(feature = "hydrate")]
fn is_text_field(e: &web_sys::Element) -> bool {
    use wasm_bindgen::JsCast;
    match e.tag_name().as_str() {
        "TEXTAREA" => true,
        "INPUT" => e
            .dyn_ref::<web_sys::HtmlInputElement>()
            .is_some_and(|i| matches!(i.type_().as_str(), "text" | "date" | "email" | "tel" | "search" | "url" | "number" | "")),
        _ => false,
    }
}

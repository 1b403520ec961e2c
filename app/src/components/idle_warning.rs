//! Warns, two minutes before the idle timeout, that the session is about to
//! end, and offers to keep it. Needs JavaScript; without it the server still
//! ends idle sessions, and the sign-in page says why.

use leptos::prelude::*;

use crate::api::KeepAlive;

const WARN_BEFORE_SECS: i64 = 120;

#[component]
pub fn IdleWarning(timeout_minutes: i64) -> impl IntoView {
    let show = RwSignal::new(false);
    let keep = ServerAction::<KeepAlive>::new();
    let generation = RwSignal::new(0u32);

    // Re-arm the timer after every "stay signed in".
    Effect::new(move |_| {
        let g = generation.get();
        let _ = keep.version().get();
        let wait = (timeout_minutes * 60 - WARN_BEFORE_SECS).max(10) as u64;
        set_timeout(
            move || {
                if generation.get_untracked() == g {
                    show.set(true);
                }
            },
            std::time::Duration::from_secs(wait),
        );
    });

    // Say how long is left truthfully, even when the timeout is short.
    let left = if timeout_minutes * 60 > WARN_BEFORE_SECS { "You will be signed out in 2 minutes." } else { "You will be signed out soon." };
    // Move focus to the button when the warning appears, so keyboard and
    // switch users reach it at once (WCAG 2.2.1, 2.4.3).
    let stay = NodeRef::<leptos::html::Button>::new();
    Effect::new(move |_| {
        if let Some(b) = stay.get() {
            let _ = b.focus();
        }
    });
    view! {
        <Show when=move || show.get()>
            <div role="alertdialog" aria-labelledby="idle-title" aria-describedby="idle-text"
                 class="fixed inset-x-0 bottom-0 bg-yellow-100 border-t-4 border-yellow-600 p-4 z-50">
                <h2 id="idle-title" class="font-bold text-lg">"You will be signed out soon"</h2>
                <p id="idle-text">"For your security, we sign you out after "{timeout_minutes}" minutes without activity. "{left}</p>
                <button type="button" class="btn-primary mt-2" node_ref=stay
                    on:click=move |_| {
                        keep.dispatch(KeepAlive {});
                        show.set(false);
                        generation.update(|g| *g += 1);
                    }>
                    "Stay signed in"
                </button>
            </div>
        </Show>
    }
}

//! "Change or remove an entry": for an entry added by hand, its author
//! corrects it (a new version; the old one is kept) or removes it (marked
//! entered in error), and the patient may remove what a carer added. A
//! removed entry is put back by saving it again. Plain forms, so it works
//! without JavaScript.

use kith_types::record::OwnEntry;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::api::{ChangeOwnEntry, RemoveOwnEntry};
use crate::components::form::{error_of, ErrorSummary, FormResult};
use crate::components::layout::{Authed, ErrorPanel};
use crate::pages::add_entry_page::{entry_fields, last_refusal};

#[component]
pub fn ChangeEntryPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let own = Resource::new(id, crate::api::get_own_entry);
    let change = ServerAction::<ChangeOwnEntry>::new();
    let remove = ServerAction::<RemoveOwnEntry>::new();
    view! {
        <Title text="Change an entry – Kith"/>
        <Authed render=move |_| view! {
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match own.await {
                        Ok(o) => change_entry(o, change, remove).into_any(),
                        Err(e) => view! { <ErrorPanel error=e page=true/> }.into_any(),
                    }
                })}
            </Suspense>
        }/>
    }
}

fn change_entry(own: OwnEntry, change: ServerAction<ChangeOwnEntry>, remove: ServerAction<RemoveOwnEntry>) -> impl IntoView {
    let error = error_of(change.value());
    let remove_error = error_of(remove.value());
    let refusal: FormResult = last_refusal(error).into();
    let back = format!("/entries/{}", own.entry_id);
    let heading = match (own.can_change, own.removed) {
        (true, true) => format!("Put back: {}", own.text),
        (true, false) => format!("Change or remove: {}", own.text),
        (false, true) => format!("Removed: {}", own.text),
        (false, false) => format!("Remove: {}", own.text),
    };
    // Removed by someone else (the patient, for a carer's entry): only
    // whoever removed it may put it back.
    let removed_note = (own.removed && !own.can_change).then(|| {
        view! { <p class="card mb-6">"This entry was removed as entered in error. Its page, with every version, stays in the record."</p> }
    });
    let change_form = own.can_change.then(|| {
        let (entry_id, form, removed) = (own.entry_id.clone(), own.form.clone(), own.removed);
        view! {
            <section class="card mb-6" aria-labelledby="change-heading">
                <h2 id="change-heading" class="text-xl font-bold mb-2">{if removed { "Put it back" } else { "Correct it" }}</h2>
                <p class="mb-4">{if removed {
                    "You removed this entry. Saving it puts it back in the record, as it is below."
                } else {
                    "Saving makes a new version. The one it replaces is kept on the entry's page, and everyone who can see the entry sees the change."
                }}</p>
                <ErrorSummary error/>
                {move || {
                    // Drawn again with each refusal, so its fields show
                    // their errors and what was typed.
                    refusal.track();
                    let fields = entry_fields(&form.kind, &form, refusal);
                    let (entry_id, kind) = (entry_id.clone(), form.kind.clone());
                    view! {
                        <ActionForm action=change attr:data-testid="change-entry-form">
                            <input type="hidden" name="entry_id" value=entry_id/>
                            <input type="hidden" name="entry[kind]" value=kind/>
                            {fields}
                            <button type="submit" class="btn-primary">{if removed { "Put it back" } else { "Save the change" }}</button>
                        </ActionForm>
                    }
                }}
            </section>
        }
    });
    let remove_form = (!own.removed).then(|| {
        let entry_id = own.entry_id.clone();
        let why = if own.can_change {
            "If it should not be in the record at all (it was typed by mistake, or about the wrong thing), remove it.".to_string()
        } else {
            format!("{} added this entry for you. You can remove it if it is wrong; only they can change it.", own.entered_by)
        };
        view! {
            <section class="card mb-6" aria-labelledby="remove-heading">
                <h2 id="remove-heading" class="text-xl font-bold mb-2">"Remove it"</h2>
                <p class="mb-2">{why}</p>
                <p class="mb-4">"It is marked as entered in error: it leaves the summary, the lists of current allergies, conditions and medicines, and the charts. Its page, with every version, stays in the record, and the access log says who removed it."</p>
                <ErrorSummary error=remove_error/>
                <ActionForm action=remove attr:data-testid="remove-entry-form">
                    <input type="hidden" name="entry_id" value=entry_id/>
                    <button type="submit" class="btn-secondary">"Remove this entry"</button>
                </ActionForm>
            </section>
        }
    });
    view! {
        <h1 class="text-3xl font-bold mb-4">{heading}</h1>
        {removed_note}
        {change_form}
        {remove_form}
        <p><a href=back>"Back to the entry, unchanged"</a></p>
    }
}

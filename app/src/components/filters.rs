//! The pieces of a list page's filter form (Timeline, Access log): plain GET
//! forms, so filtering works without JavaScript and every filtered view has
//! its own address.

use leptos::prelude::*;
use leptos_router::components::Form;

use super::urlencode;

/// A filter form: its fields in two columns, then "Show" and "Clear filters".
#[component]
pub fn FilterForm(
    /// Where the form submits to, and where "Clear filters" goes.
    action: &'static str,
    /// What the form filters, for screen readers ("Filter the timeline").
    aria_label: &'static str,
    /// The submit button's text.
    submit: &'static str,
    children: Children,
) -> impl IntoView {
    view! {
        <Form method="get" action=action attr:class="card filters" attr:role="search" attr:aria-label=aria_label>
            <div class="grid gap-3 sm:grid-cols-2">{children()}</div>
            <div class="mt-3 flex gap-4 items-center">
                <button type="submit" class="btn-primary">{submit}</button>
                <a href=action>"Clear filters"</a>
            </div>
        </Form>
    }
}

/// One drop-down filter; the empty value means "no filter" (`any`).
#[component]
pub fn FilterSelect(
    /// The query parameter; also the field's id.
    name: &'static str,
    label: &'static str,
    /// The text of the "no filter" choice ("All kinds").
    any: &'static str,
    /// (value, text) of each choice.
    options: Vec<(String, String)>,
    /// The value chosen now.
    selected: String,
) -> impl IntoView {
    view! {
        <div>
            <label for=name class="block font-bold">{label}</label>
            <select id=name name=name class="field">
                <option value="" selected=selected.is_empty()>{any}</option>
                {options.into_iter().map(|(value, text)| {
                    let chosen = value == selected;
                    view! { <option value=value selected=chosen>{text}</option> }
                }).collect::<Vec<_>>()}
            </select>
        </div>
    }
}

/// The "From" and "To" date filters.
#[component]
pub fn DateRangeFilter(from: String, to: String) -> impl IntoView {
    view! {
        <div>
            <label for="from" class="block font-bold">"From"</label>
            <input id="from" name="from" type="date" value=from class="field"/>
        </div>
        <div>
            <label for="to" class="block font-bold">"To"</label>
            <input id="to" name="to" type="date" value=to class="field"/>
        </div>
    }
}

/// Choices from a table of (value, text) constants.
pub fn choices(table: &[(&str, &str)]) -> Vec<(String, String)> {
    table.iter().map(|(v, t)| (v.to_string(), t.to_string())).collect()
}

/// The address of the next page of a filtered list: the filters in use
/// (empty ones left out) and the cursor the server gave.
pub fn next_page_href(path: &str, filters: &[(&str, &str)], cursor: (&str, &str)) -> String {
    let mut qs: Vec<String> = filters.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| format!("{k}={}", urlencode(v))).collect();
    qs.push(format!("{}={}", cursor.0, urlencode(cursor.1)));
    format!("{path}?{}", qs.join("&"))
}

use kith_types::{Me, Role};
use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::layout::Authed;

#[component]
pub fn HomePage() -> impl IntoView {
    view! { <Title text="Home – Kith"/><Authed render=home/> }
}

fn home(me: Me) -> impl IntoView {
    let record = me.patient.clone().map(|p| {
        view! {
            <section aria-labelledby="record-heading" class="card">
                <h2 id="record-heading" class="text-xl font-bold mb-3">"Your record"</h2>
                <dl class="grid grid-cols-[max-content_1fr] gap-x-6 gap-y-2">
                    <dt class="font-bold">"Name"</dt><dd>{p.name}</dd>
                    <dt class="font-bold">"NHS Number"</dt><dd data-testid="nhs-number">{p.nhs_number}</dd>
                    <dt class="font-bold">"Date of birth"</dt><dd data-testid="birth-date">{p.birth_date}</dd>
                </dl>
            </section>
        }
    });
    let no_record = (me.patient.is_none()).then(|| {
        let text = match me.role {
            Role::Patient => "Your record has not been set up yet. Once your NHS Number is linked, your health information from your GP, hospitals and other services will appear here.",
            Role::Carer => "When someone you care for shares their record with you, it will appear here.",
            Role::Clinician => "Records that patients share with you will appear here.",
        };
        view! { <p class="card">{text}</p> }
    });
    view! {
        <h1 class="text-3xl font-bold mb-4">"Hello, "{me.name.clone()}</h1>
        {record}
        {no_record}
    }
}

use kith_types::record::{kind_title, label_title, source_kind_title, status_text, EntryDetail};
use kith_types::Me;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::api::get_entry;
use crate::components::layout::{Authed, DoneNotice, ErrorPanel};

#[component]
pub fn EntryPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let detail = Resource::new(id, get_entry);
    let seen = Resource::new(id, crate::api::get_seen_by);
    let live = crate::components::live::live_version();
    let talk = Talk { add: ServerAction::new(), edit: ServerAction::new(), hide: ServerAction::new() };
    let comments = Resource::new(
        move || (id(), live.get(), talk.add.version().get(), talk.edit.version().get(), talk.hide.version().get()),
        |(id, ..)| crate::api::get_comments(id),
    );
    view! { <Title text="Entry – Kith"/><Authed render=move |me| entry(me, detail, seen, comments, talk)/> }
}

#[derive(Clone, Copy)]
struct Talk {
    add: ServerAction<crate::api::AddComment>,
    edit: ServerAction<crate::api::EditComment>,
    hide: ServerAction<crate::api::HideComment>,
}

type CommentsResource = Resource<Result<kith_types::together::CommentsView, kith_types::AppError>>;

type SeenResource = Resource<Result<Vec<kith_types::audit::SeenBy>, kith_types::AppError>>;

fn entry(me: Me, detail: Resource<Result<EntryDetail, kith_types::AppError>>, seen: SeenResource, comments: CommentsResource, talk: Talk) -> impl IntoView {
    let can_manage = me.manages_record();
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(d) => {
                        let entry_id = d.card.id.clone();
                        view! { <EntryView d can_manage/><Comments comments talk entry_id/>{can_manage.then(|| view! { <SeenBy seen/> })} }.into_any()
                    }
                    Err(e) => view! { <ErrorPanel error=e page=true/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn EntryView(d: EntryDetail, can_manage: bool) -> impl IntoView {
    let c = d.card;
    let hand = d.can_remove.then(|| {
        let change_href = format!("/entries/{}/change", c.id);
        // Added by hand: its author may change or remove it, the patient remove it.
        let removed = c.status.as_deref() == Some("entered-in-error");
        let (said, link) = match (d.can_change, removed) {
            (true, true) => ("This entry was removed as entered in error. ", Some("Put it back")),
            (true, false) => ("You added this entry. ", Some("Change or remove it")),
            (false, true) => ("This entry was removed as entered in error.", None),
            (false, false) => ("Added by hand by someone acting for you. ", Some("Remove it")),
        };
        view! {
            <p class="card" data-testid="hand-entry">
                {said}
                {link.map(|l| view! { <a href=change_href>{l}</a> })}
            </p>
        }
    });
    let relabel = can_manage.then(|| {
        let action = ServerAction::<crate::api::RelabelEntry>::new();
        let current = c.label.clone();
        let share_href = format!("/sharing?entry={}", c.id);
        view! {
            <ActionForm action=action attr:class="card">
                <input type="hidden" name="entry_id" value=c.id.clone()/>
                <label for="label" class="block font-bold">"Privacy label"</label>
                <p id="label-hint" class="text-gray-700">"Sharing can include or leave out entries by label. Private entries are never shared."</p>
                <div class="flex flex-wrap gap-3 items-center">
                    <select id="label" name="label" class="field" aria-describedby="label-hint">
                        {kith_types::record::LABELS.iter().map(|(k, t)| view! { <option value=*k selected=current == *k>{*t}</option> }).collect::<Vec<_>>()}
                    </select>
                    <button type="submit" class="btn-secondary">"Change label"</button>
                </div>
            </ActionForm>
            <p class="mt-2"><a href=share_href>"Share only this entry"</a></p>
        }
    });
    view! {
        <Title text=format!("{} – Kith", c.text)/>
        <p class="text-gray-700">{kind_title(&c.kind)}</p>
        <h1 class="text-3xl font-bold mb-2">{c.text.clone()}</h1>
        <DoneNotice param="relabelled" messages=&[("1", "The label has been changed. Who can see this entry now follows the new label.")]/>
        <DoneNotice param="added" messages=&[("1", "Added to the record. You can comment on it, change its label or share it below.")]/>
        <DoneNotice param="changed" messages=&[("1", "Your change is saved. The version it replaces is kept below.")]/>
        <DoneNotice param="removed" messages=&[("1", "Removed. It no longer shows on the summary or in charts; this page, with its versions, stays in the record.")]/>
        <dl class="card grid grid-cols-[max-content_1fr] gap-x-6 gap-y-1">
            {c.value.clone().map(|v| view! { <dt class="font-bold">"Value"</dt><dd>{v}</dd> })}
            <dt class="font-bold">"Date"</dt><dd>{c.date.clone().unwrap_or_else(|| "Not given".into())}</dd>
            {c.status.as_deref().map(|s| view! { <dt class="font-bold">"Status"</dt><dd>{status_text(s)}</dd> })}
            <dt class="font-bold">"Privacy label"</dt><dd>{label_title(&c.label)}</dd>
            <dt class="font-bold">"Sources"</dt><dd>{c.sources.join(", ")}</dd>
        </dl>
        {hand}
        {relabel}
        {(!d.disagreements.is_empty()).then(|| view! {
            <section class="notice-warn" aria-labelledby="disagree-heading" data-testid="disagreement">
                <h2 id="disagree-heading" class="text-xl font-bold">"The sources disagree"</h2>
                <p>"Kith shows every source's version rather than choosing one. Ask the people caring for you which is right."</p>
                <ul class="list-disc ml-6">
                    {d.disagreements.into_iter().map(|(field, values)| view! {
                        <li><span class="font-bold">{field}": "</span>
                            {values.into_iter().map(|(org, v)| format!("{org} says {v}")).collect::<Vec<_>>().join("; ")}
                        </li>
                    }).collect::<Vec<_>>()}
                </ul>
            </section>
        })}
        {(!d.codes.is_empty()).then(|| view! {
            <section class="card" aria-labelledby="codes-heading">
                <h2 id="codes-heading" class="text-xl font-bold mb-2">"Codes"</h2>
                <ul>
                    {d.codes.into_iter().map(|code| view! {
                        <li><span class="font-bold">{code.system_name}</span>" "{code.code}{code.display.map(|x| format!(" — {x}"))}</li>
                    }).collect::<Vec<_>>()}
                </ul>
            </section>
        })}
        <h2 class="text-2xl font-bold mt-6 mb-2">"What each source says"</h2>
        <div class="grid gap-4 md:grid-cols-2">
            {d.sources.into_iter().map(|s| {
                let heading = format!("{} ({})", s.organisation, source_kind_title(&s.kind));
                view! {
                    <section class="card" aria-label=heading.clone()>
                        <h3 class="text-lg font-bold">{heading.clone()}</h3>
                        <dl class="grid grid-cols-[max-content_1fr] gap-x-4">
                            <dt class="font-bold">"Says"</dt><dd>{s.text.clone()}</dd>
                            {s.value.clone().map(|v| view! { <dt class="font-bold">"Value"</dt><dd>{v}</dd> })}
                            <dt class="font-bold">"Date"</dt><dd>{s.date.clone().unwrap_or_else(|| "Not given".into())}</dd>
                            <dt class="font-bold">"Status"</dt><dd>{s.status.as_deref().map(status_text).unwrap_or_else(|| "Not given".into())}</dd>
                            <dt class="font-bold">"Recorded by"</dt><dd>{s.recorded_by.clone().unwrap_or_else(|| "Not given".into())}</dd>
                        </dl>
                        <details class="mt-2">
                            <summary class="cursor-pointer underline">"Version history ("{s.versions.len()}")"</summary>
                            <ol class="list-decimal ml-6">
                                {s.versions.iter().map(|(v, at)| view! { <li>"Version "{*v}", received "{at.clone()}</li> }).collect::<Vec<_>>()}
                            </ol>
                        </details>
                        <details class="mt-2">
                            <summary class="cursor-pointer underline">"Original record ("{s.resource_type.clone()}" "{s.resource_id.clone()}")"</summary>
                            <pre class="fhir-json" tabindex="0" aria-label=format!("FHIR JSON from {}", s.organisation)>{s.json.clone()}</pre>
                        </details>
                    </section>
                }
            }).collect::<Vec<_>>()}
        </div>
        <p class="mt-6"><a href="/timeline">"Back to the timeline"</a></p>
    }
}

/// "Who has seen this": everyone but the patient who opened this entry.
#[component]
fn SeenBy(seen: SeenResource) -> impl IntoView {
    view! {
        <section class="card mt-6" aria-labelledby="seen-heading" data-testid="seen-by">
            <h2 id="seen-heading" class="text-xl font-bold mb-2">"Who has seen this"</h2>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match seen.await {
                        Ok(list) if list.is_empty() => view! { <p>"Nobody but you has seen this entry."</p> }.into_any(),
                        Ok(list) => view! {
                            <ul class="list-disc ml-6">
                                {list.into_iter().map(|s| view! {
                                    <li>
                                        <span class="font-bold">{s.who}</span>
                                        {format!(" ({}{}), {}: ", s.role, if s.organisation.is_empty() { String::new() } else { format!(", {}", s.organisation) }, s.how)}
                                        {format!("last on {}{}", s.last_seen, if s.times > 1 { format!(", {} times", s.times) } else { String::new() })}
                                    </li>
                                }).collect::<Vec<_>>()}
                            </ul>
                            <p class="mt-2"><a href="/access-log">"See the whole access log"</a></p>
                        }.into_any(),
                        Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

/// Comments on the entry: by the patient, carers and clinicians, shown to
/// exactly those who can see the entry; new ones appear live.
#[component]
fn Comments(comments: CommentsResource, talk: Talk, entry_id: String) -> impl IntoView {
    use crate::components::form::{error_from_form, error_of, ErrorSummary};
    let add_error = error_of(talk.add.value());
    let typed = move || add_error.get().and_then(|e| e.value("body")).unwrap_or_default();
    let edit_error = error_of(talk.edit.value());
    view! {
        <crate::components::live::Live/>
        <section class="card mt-6" aria-labelledby="comments-heading" id="comments" data-testid="comments">
            <h2 id="comments-heading" class="text-xl font-bold mb-2">"Comments"</h2>
            <ErrorSummary error=add_error/>
            <ErrorSummary error=edit_error/>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || {
                    let entry_id = entry_id.clone();
                    Suspend::new(async move {
                        match comments.await {
                            Ok(v) => {
                                let can_hide = v.can_hide;
                                let list = if v.comments.is_empty() {
                                    view! { <p>"No comments yet."</p> }.into_any()
                                } else {
                                    view! {
                                        <ol class="entry-list">
                                            {v.comments.into_iter().map(|c| {
                                                let hide_value = if c.hidden { "false" } else { "true" };
                                                let on_entry = entry_id.clone();
                                                let edit = c.mine.then(|| {
                                                    let form = format!("edit-{}", c.id);
                                                    // A refused edit of this comment: open, as typed, the error beside it.
                                                    let refused = error_from_form(edit_error, &form);
                                                    let message = refused.as_ref().and_then(|e| e.field_error("body"));
                                                    let body = refused.as_ref().and_then(|e| e.value("body")).unwrap_or_else(|| c.body.clone());
                                                    let field_id = if message.is_some() { "body".to_string() } else { form };
                                                    let (id, open, error_id) = (c.id.clone(), refused.is_some(), format!("{field_id}-error"));
                                                    let described = message.as_ref().map(|_| error_id.clone());
                                                    let invalid = message.as_ref().map(|_| "true");
                                                    view! {
                                                        <details open=open><summary class="cursor-pointer underline">"Edit"</summary>
                                                            <ActionForm action=talk.edit>
                                                                <input type="hidden" name="id" value=id/>
                                                                <input type="hidden" name="entry_id" value=on_entry/>
                                                                <label for=field_id.clone() class="block font-bold">"Your comment"</label>
                                                                {message.map(|m| view! { <p id=error_id class="text-red-800 font-bold">{m}</p> })}
                                                                <textarea id=field_id name="body" rows="3" class="field w-full" aria-describedby=described aria-invalid=invalid>{body}</textarea>
                                                                <button type="submit" class="btn-secondary mt-1">"Save"</button>
                                                            </ActionForm>
                                                        </details>
                                                    }
                                                });
                                                let hide = can_hide.then(|| {
                                                    let id = c.id.clone();
                                                    view! {
                                                        <ActionForm action=talk.hide>
                                                            <input type="hidden" name="id" value=id/>
                                                            <input type="hidden" name="hidden" value=hide_value/>
                                                            <button type="submit" class="btn-secondary mt-1">{if c.hidden { "Show to others again" } else { "Hide from others" }}</button>
                                                        </ActionForm>
                                                    }
                                                });
                                                view! {
                                                    <li class="entry-item" data-testid="comment">
                                                        <p class="font-bold">{c.author.clone()}</p>
                                                        {c.hidden.then(|| view! { <p class="badge-warn">"Hidden by the patient: only they and its author see it"</p> })}
                                                        <p class="whitespace-pre-wrap">{c.body.clone()}</p>
                                                        <p class="text-gray-700 text-sm">{c.when.clone()}{c.edited.clone().map(|e| format!(" · edited {e}"))}</p>
                                                        {(!c.history.is_empty()).then(|| view! {
                                                            <details><summary class="cursor-pointer underline">{format!("Earlier versions ({})", c.history.len())}</summary>
                                                                <ol class="list-decimal ml-6">{c.history.iter().map(|(b, at)| view! { <li>{format!("{at}: {b}")}</li> }).collect::<Vec<_>>()}</ol>
                                                            </details>
                                                        })}
                                                        {edit}
                                                        {hide}
                                                    </li>
                                                }
                                            }).collect::<Vec<_>>()}
                                        </ol>
                                    }.into_any()
                                };
                                // The error summary links to the field by its name.
                                let message = move || add_error.get().and_then(|e| e.field_error("body"));
                                let field_id = move || if message().is_some() { "body" } else { "comment-body" };
                                let form = v.can_comment.then(|| view! {
                                    <ActionForm action=talk.add attr:class="mt-3">
                                        <input type="hidden" name="entry_id" value=entry_id.clone()/>
                                        <label for=field_id class="block font-bold">"Add a comment"</label>
                                        <p id="comment-hint" class="text-gray-700">"Everyone who can see this entry will see your comment, with your name."</p>
                                        {move || message().map(|m| view! { <p id="comment-error" class="text-red-800 font-bold">{m}</p> })}
                                        <textarea id=field_id name="body" rows="3" class="field w-full"
                                            aria-describedby=move || if message().is_some() { "comment-hint comment-error" } else { "comment-hint" }
                                            aria-invalid=move || message().map(|_| "true") prop:value=typed>{typed()}</textarea>
                                        <button type="submit" class="btn-primary mt-1">"Add comment"</button>
                                    </ActionForm>
                                });
                                view! { {list}{form} }.into_any()
                            }
                            Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                        }
                    })
                }}
            </Transition>
        </section>
    }
}

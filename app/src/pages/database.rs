//! One database: its status, pushed live by the server (server-sent events)
//! with the provisioning timeline and an estimate of the time left; the
//! connect panel; resize, park, resume, deletion protection and terminate.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use super::database_connect::ConnectPanel;
use super::databases::StatusBadge;
use crate::accounts::server_message;
use crate::databases::{
    ChangeDatabase, DatabaseDetail, FoldedStep, Intent, RevealDatabasePassword,
    RotateDatabasePassword, Status, TIERS, TimelineGroup, duration_text, fetch_database,
    group_steps,
};

#[derive(Clone, Copy)]
pub(super) struct Actions {
    pub(super) change: ServerAction<ChangeDatabase>,
    pub(super) reveal: ServerAction<RevealDatabasePassword>,
    pub(super) rotate: ServerAction<RotateDatabasePassword>,
}

#[component]
pub fn DatabasePage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let actions = Actions {
        change: ServerAction::new(),
        reveal: ServerAction::new(),
        rotate: ServerAction::new(),
    };
    // Loaded once per database (the server renders it); after that the
    // server pushes every change, and each action fetches the new state at
    // once. The view is never rebuilt by an update, so an open confirmation
    // or a typed name survives it.
    let loaded = Resource::new(id, fetch_database);
    let live = RwSignal::new(None::<DatabaseDetail>);
    follow_live_updates(id, live);
    refresh_after_actions(id, actions, live);
    view! {
        <Transition fallback=|| view! { <section class="panel"><p class="hint">"Loading the database…"</p></section> }>
            {move || {
                loaded
                    .get()
                    .map(|loaded| match loaded {
                        Ok(first) => {
                            let current = Signal::derive(move || newest(live.get(), first.clone()));
                            view! { <DatabaseView current actions /> }.into_any()
                        }
                        Err(error) => view! {
                            <section class="panel">
                                <nav class="breadcrumb" aria-label="Breadcrumb"><A href="/databases">"Databases"</A></nav>
                                <p class="status status-error" role="alert">{server_message(&error)}</p>
                            </section>
                        }
                        .into_any(),
                    })
            }}
        </Transition>
    }
}

/// After each action, the database's new state at once (the event stream
/// would bring it within half a second).
fn refresh_after_actions(
    id: impl Fn() -> String + Send + Sync + 'static,
    actions: Actions,
    live: RwSignal<Option<DatabaseDetail>>,
) {
    Effect::new(move |previous: Option<(usize, usize)>| {
        let versions = (
            actions.change.version().get(),
            actions.rotate.version().get(),
        );
        if previous.is_some_and(|previous| previous != versions) {
            let id = id();
            leptos::task::spawn_local(async move {
                if let Ok(detail) = fetch_database(id).await {
                    show_if_newer(live, detail);
                }
            });
        }
        versions
    });
}

/// One part of the database, notifying only when that part changes. Each
/// update brings a whole new `DatabaseDetail`; a view built from one part
/// reruns only when that part changed. A rerun makes its components anew,
/// with fresh state: every copy button said "Copy" again after any update.
pub(super) fn part<T>(
    current: Signal<DatabaseDetail>,
    pick: impl Fn(&DatabaseDetail) -> T + Send + Sync + 'static,
) -> Memo<T>
where
    T: PartialEq + Send + Sync + 'static,
{
    Memo::new(move |_| pick(&current.read()))
}

fn newest(live: Option<DatabaseDetail>, loaded: DatabaseDetail) -> DatabaseDetail {
    match live {
        Some(live) if live.summary.id == loaded.summary.id && live.replaces(Some(&loaded)) => live,
        _ => loaded,
    }
}

/// Shows `detail` unless the page has a newer reading: the action's fetch
/// and the event stream race, and the later answer may be the older one.
fn show_if_newer(live: RwSignal<Option<DatabaseDetail>>, detail: DatabaseDetail) {
    live.maybe_update(|shown| {
        let newer = detail.replaces(shown.as_ref());
        if newer {
            *shown = Some(detail);
        }
        newer
    });
}

#[component]
fn DatabaseView(current: Signal<DatabaseDetail>, actions: Actions) -> impl IntoView {
    let name = move || current.read().summary.name.clone();
    let status = move || current.read().summary.status;
    view! {
        <Title text=name />
        <section class="panel database" data-status=move || status().as_str()>
            <nav class="breadcrumb" aria-label="Breadcrumb"><A href="/databases">"Databases"</A> " / " {name}</nav>
            <div class="page-head">
                <div class="panel-heading">
                    <h1>{name}</h1>
                    <p class="lede">{move || {
                        let detail = current.read();
                        format!(
                            "{} · {} · region {}",
                            detail.summary.engine.label(),
                            crate::databases::tier(&detail.summary.tier)
                                .map_or_else(|| detail.summary.tier.clone(), |tier| format!("{} ({})", tier.name, tier.figures())),
                            detail.summary.region
                        )
                    }}</p>
                </div>
                <div class="status-line" aria-live="polite">
                    {move || view! { <StatusBadge status=status() /> }}
                </div>
            </div>
            <StatusPanel current />
            <div class="database-grid">
                <ConnectPanel current actions />
                <ActionsPanel current actions />
            </div>
            <Timeline current />
        </section>
    }
}

/// What the engine is doing, what failed and what happens next, the time left.
#[component]
fn StatusPanel(current: Signal<DatabaseDetail>) -> impl IntoView {
    // The no-JavaScript refresh exists only in the server's HTML (and in the
    // first render while the client hydrates it, which must match). Rendered
    // by the client, a `<noscript>` holds a live `<meta>` that reloads the
    // page: after a client-side navigation it is never rendered at all.
    let hydrated = RwSignal::new(rendered_by_the_client());
    Effect::new(move |_| hydrated.set(true));
    move || {
        let detail = current.get();
        let reload_without_javascript = !detail.settled && !hydrated.get();
        let tone = if detail.summary.status == Status::Error {
            "status status-error"
        } else {
            "status"
        };
        let estimate = detail.estimate_seconds.map(|seconds| {
            format!(
                "About {} left, judging by earlier databases of this engine.",
                duration(seconds)
            )
        });
        let message = detail.status_message.clone();
        let next = detail.next_step();
        let show = message.is_some() || estimate.is_some() || next.is_some();
        view! {
            {show.then(|| view! {
                <div class=tone role="status" data-testid="status-panel">
                    {message.map(|message| view! { <p>{message}</p> })}
                    {next.map(|next| view! { <p><strong>"What happens next: "</strong>{next}</p> })}
                    {estimate.map(|estimate| view! { <p class="hint">{estimate}</p> })}
                </div>
            })}
            // Without JavaScript there are no live updates: reload while it changes.
            {reload_without_javascript.then(|| view! { <noscript><meta http-equiv="refresh" content="5" /></noscript> })}
        }
    }
}

/// Whether this render builds the page in the browser after a navigation,
/// rather than on the server or while hydrating the server's HTML.
fn rendered_by_the_client() -> bool {
    #[cfg(feature = "hydrate")]
    {
        !Owner::current_shared_context().is_some_and(|context| context.during_hydration())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        false
    }
}

/// The steps the engine took, under the request each served (newest
/// first), retries folded into the step they retried.
#[component]
fn Timeline(current: Signal<DatabaseDetail>) -> impl IntoView {
    let history = part(current, |detail| {
        (detail.requests.clone(), detail.steps.clone())
    });
    view! {
        <h2>"Timeline"</h2>
        {move || {
            let (requests, steps) = &*history.read();
            if steps.is_empty() {
                return view! { <p class="hint">"Nothing done on Kubernetes yet: the engine picks the database up in a moment."</p> }.into_any();
            }
            group_steps(requests, steps)
                .into_iter()
                .map(timeline_group)
                .collect_view()
                .into_any()
        }}
    }
}

fn timeline_group(group: TimelineGroup) -> impl IntoView {
    let heading = match &group.request {
        Some(request) => format!(
            "{}, asked by {} at {}",
            request.label(),
            request.by,
            request.at.get(11..19).unwrap_or_default()
        ),
        None => "Earlier steps".to_string(),
    };
    let took = group.took_ms.map_or_else(
        || "in progress".to_string(),
        |ms| format!("done in {}", duration_text(ms)),
    );
    let label = heading.clone();
    view! {
        <section class="timeline-group" aria-label=label>
            <h3>{heading}" "<span class="hint">"· "{took}</span></h3>
            <ol class="timeline-steps">{group.steps.into_iter().map(folded_step).collect_view()}</ol>
        </section>
    }
}

fn folded_step(folded: FoldedStep) -> impl IntoView {
    let step = folded.last;
    let badge = match step.outcome.as_str() {
        "success" => "badge badge-ok",
        "failure" => "badge badge-error",
        _ => "badge badge-warn",
    };
    let took = step.duration_ms.map(duration_text);
    let retries = folded.earlier_failures.len();
    view! {
        <li class="timeline-step">
            <span class=badge>{step.outcome}</span>
            " "<strong>{step.step}</strong>
            <span class="hint">
                {format!(" at {}", step.started_at.get(11..19).unwrap_or_default())}
                {took.map(|took| format!(", {took}"))}
                {(step.attempt > 1).then(|| format!(", attempt {}", step.attempt))}
            </span>
            {step.message.map(|message| view! { <p class="hint">{message}</p> })}
            {(retries > 0).then(|| view! {
                <details class="retries">
                    <summary>{format!("{retries} failed attempt{} before", if retries == 1 { "" } else { "s" })}</summary>
                    <ul>
                        {folded.earlier_failures.into_iter().map(|failure| view! {
                            <li>
                                {format!("Attempt {} at {}", failure.attempt, failure.started_at.get(11..19).unwrap_or_default())}
                                {failure.message.map(|message| format!(": {message}"))}
                            </li>
                        }).collect_view()}
                    </ul>
                </details>
            })}
        </li>
    }
}

#[component]
fn ActionsPanel(current: Signal<DatabaseDetail>, actions: Actions) -> impl IntoView {
    let id = part(current, |detail| detail.summary.id.clone());
    let id = move || id.get();
    let terminated = part(current, |detail| detail.intent == Intent::Terminated);
    let parked = part(current, |detail| detail.intent == Intent::Parked);
    let protected = part(current, |detail| detail.deletion_protection);
    let tier = part(current, |detail| detail.summary.tier.clone());
    let name = part(current, |detail| detail.summary.name.clone());
    view! {
        <div class="card actions-panel">
            <h2>"Manage"</h2>
            {move || actions.change.value().get().and_then(Result::err).map(|error| view! {
                <p class="status status-error" role="alert">{server_message(&error)}</p>
            })}
            <Show when=move || !terminated.get() fallback=|| view! {
                <p class="hint">"Terminated: the record, its timeline and its audit events stay here as history."</p>
            }>
                <ActionForm action=actions.change attr:class="inline-form">
                    <input type="hidden" name="id" value=id />
                    <input type="hidden" name="change" value="resize" />
                    <label>
                        "Size "
                        <select name="tier">
                            {move || {
                                let chosen = tier.get();
                                TIERS.iter().map(|tier| view! {
                                    <option value=tier.name selected=tier.name == chosen>{format!("{} — {}", tier.name, tier.figures())}</option>
                                }).collect_view()
                            }}
                        </select>
                    </label>
                    <button type="submit" class="button-secondary">"Resize"</button>
                </ActionForm>
                {move || {
                    let (change, label, hint) = if parked.get() {
                        ("resume", "Resume", "Starts the nodes again; data is kept.")
                    } else {
                        ("park", "Park", "Stops the nodes to save cost; storage and data are kept.")
                    };
                    view! {
                        <ActionForm action=actions.change attr:class="inline-form">
                            <input type="hidden" name="id" value=id />
                            <input type="hidden" name="change" value=change />
                            <button type="submit" class="button-secondary">{label}</button>
                            <span class="hint">{hint}</span>
                        </ActionForm>
                    }
                }}
                {move || {
                    let protected = protected.get();
                    let (change, label) = if protected {
                        ("unprotect", "Turn deletion protection off")
                    } else {
                        ("protect", "Turn deletion protection on")
                    };
                    view! {
                        <ActionForm action=actions.change attr:class="inline-form">
                            <input type="hidden" name="id" value=id />
                            <input type="hidden" name="change" value=change />
                            <span class=if protected { "badge badge-ok" } else { "badge badge-muted" }>
                                {if protected { "Deletion protection on" } else { "Deletion protection off" }}
                            </span>
                            <button type="submit" class="button-secondary">{label}</button>
                        </ActionForm>
                    }
                }}
                <details class="confirm terminate">
                    <summary>"Terminate…"</summary>
                    <p>"Deletes the database and all its data on Kubernetes. This cannot be undone."</p>
                    <ActionForm action=actions.change attr:class="stacked-form">
                        <input type="hidden" name="id" value=id />
                        <input type="hidden" name="change" value="terminate" />
                        <label>
                            {move || format!("Type {} to confirm", name.get())}
                            <input name="confirm_name" autocomplete="off" spellcheck="false" required />
                        </label>
                        <button type="submit" class="button-danger">"Terminate database"</button>
                    </ActionForm>
                </details>
            </Show>
        </div>
    }
}

/// `75` → `1 min 15 s`.
fn duration(seconds: u64) -> String {
    match seconds {
        0..60 => format!("{seconds} s"),
        _ => format!("{} min {} s", seconds / 60, seconds % 60),
    }
}

/// Opens the database's event stream in the browser and keeps `live` at the
/// newest state the server pushes; the browser reconnects on its own.
fn follow_live_updates(
    id: impl Fn() -> String + Send + Sync + 'static,
    live: RwSignal<Option<DatabaseDetail>>,
) {
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        use wasm_bindgen::JsCast as _;
        use wasm_bindgen::closure::Closure;

        /// The open stream and its handler: dropping the handler with the
        /// stream (instead of leaking it) frees it when the page is left.
        struct Stream {
            events: web_sys::EventSource,
            _on_message: Closure<dyn FnMut(web_sys::MessageEvent)>,
        }
        fn close(current: &mut Option<Stream>) {
            if let Some(stream) = current.take() {
                stream.events.set_onmessage(None);
                stream.events.close();
            }
        }

        let source = StoredValue::new_local(None::<Stream>);
        Effect::new(move |_| {
            let id = id();
            source.update_value(|current| {
                close(current);
                let Ok(events) = web_sys::EventSource::new(&format!("/databases/{id}/events"))
                else {
                    return;
                };
                let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
                    move |event: web_sys::MessageEvent| {
                        if let Some(detail) = event
                            .data()
                            .as_string()
                            .and_then(|text| serde_json::from_str::<DatabaseDetail>(&text).ok())
                        {
                            show_if_newer(live, detail);
                        }
                    },
                );
                events.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
                *current = Some(Stream {
                    events,
                    _on_message: on_message,
                });
            });
        });
        on_cleanup(move || source.update_value(close));
    }
    #[cfg(not(all(feature = "hydrate", not(feature = "ssr"))))]
    let _ = (id, live);
}

//! Create database: name, engine, first keyspace or database, size, region.
//! A plain form (it works without JavaScript); with JavaScript the name is
//! checked as it is typed. A one-time key makes a double submit create one
//! database.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::accounts::server_message;
use crate::databases::{
    CreateDatabase, Engine, LOCAL_REGION, MAX_NAME_LENGTH, QuotaView, TIERS, check_name,
    default_schema_name, fetch_my_quota,
};

#[component]
pub fn NewDatabasePage() -> impl IntoView {
    let create = ServerAction::<CreateDatabase>::new();
    let name = RwSignal::new(String::new());
    let engine = RwSignal::new(Engine::Cassandra);
    let name_problem = move || {
        let name = name.get();
        (!name.is_empty())
            .then(|| check_name(&name).err())
            .flatten()
    };
    let schema_placeholder = move || {
        let name = name.get();
        if name.is_empty() {
            "same as the name".to_string()
        } else {
            default_schema_name(&name)
        }
    };
    let schema_label = move || match engine.get() {
        Engine::Cassandra => "First keyspace",
        Engine::Postgresql => "First database",
    };
    let request_key = request_key();
    let regions = crate::kubernetes::regions();
    let quota = Resource::new(|| (), |()| fetch_my_quota());
    view! {
        <Title text="Create database" />
        <section class="panel">
            <nav class="breadcrumb" aria-label="Breadcrumb"><A href="/databases">"Databases"</A> " / Create"</nav>
            <div class="panel-heading">
                <h1>"Create database"</h1>
                <p class="lede">"It gets its own namespace, credentials and network isolation; you can resize, park or terminate it later."</p>
            </div>
            <ActionForm action=create attr:class="stacked-form create-database" attr:aria-label="Create database">
                <input type="hidden" name="form[request_key]" value=request_key />
                <label>
                    "Name"
                    <input
                        name="form[name]"
                        required
                        maxlength=MAX_NAME_LENGTH.to_string()
                        pattern="[a-z0-9]([a-z0-9\\-]*[a-z0-9])?"
                        autocomplete="off"
                        spellcheck="false"
                        aria-describedby="name-hint"
                        on:input=move |event| name.set(event_target_value(&event))
                    />
                    <span id="name-hint" class="hint">
                        {format!("Lowercase letters, digits and '-', at most {MAX_NAME_LENGTH} characters; it cannot be changed later.")}
                    </span>
                    {move || name_problem().map(|problem| view! { <span class="field-error" role="alert">{problem}</span> })}
                </label>
                <fieldset class="choice-group">
                    <legend>"Engine"</legend>
                    {Engine::ALL
                        .into_iter()
                        .map(|option| {
                            let about = match option {
                                Engine::Cassandra => "Apache Cassandra 4.1 through cass-operator: wide-column, always on.",
                                Engine::Postgresql => "PostgreSQL 16 through CloudNativePG: relational, one primary with replicas.",
                            };
                            view! {
                                <label class="choice">
                                    <input
                                        type="radio"
                                        name="form[engine]"
                                        value=option.as_str()
                                        checked=option == Engine::Cassandra
                                        on:change=move |_| engine.set(option)
                                    />
                                    <span><strong>{option.label()}</strong><br /><span class="hint">{about}</span></span>
                                </label>
                            }
                        })
                        .collect_view()}
                </fieldset>
                <label>
                    {schema_label}
                    <input
                        name="form[schema_name]"
                        maxlength="48"
                        pattern="[a-z][a-z0-9_]*"
                        autocomplete="off"
                        spellcheck="false"
                        placeholder=schema_placeholder
                    />
                    <span class="hint">"Lowercase letters, digits and '_'; empty: the name with '_' for '-'."</span>
                </label>
                <fieldset class="choice-group tiers" aria-describedby="quota-summary">
                    <legend>"Size"</legend>
                    <Transition fallback=|| ()>
                        {move || quota.get().map(|answer| match answer {
                            Ok(view) => quota_summary(view).into_any(),
                            // The create itself still checks the quota.
                            Err(_) => ().into_any(),
                        })}
                    </Transition>
                    {TIERS
                        .iter()
                        .map(|tier| {
                            view! {
                                <label class="choice">
                                    <input type="radio" name="form[tier]" value=tier.name checked=tier.name == "starter" />
                                    <span><strong>{tier.name}</strong><br /><span class="hint">{tier.figures()}</span></span>
                                </label>
                            }
                        })
                        .collect_view()}
                </fieldset>
                <label>
                    "Region"
                    <select name="form[region]">
                        {regions
                            .into_iter()
                            .enumerate()
                            .map(|(index, region)| {
                                let label = if region == LOCAL_REGION {
                                    format!("{region} (this portal's Kubernetes)")
                                } else {
                                    region.clone()
                                };
                                view! { <option value=region selected=index == 0>{label}</option> }
                            })
                            .collect_view()}
                    </select>
                </label>
                <div class="form-buttons">
                    <button type="submit" class="button-primary" disabled=move || create.pending().get()>
                        {move || if create.pending().get() { "Creating…" } else { "Create database" }}
                    </button>
                    <A href="/databases" attr:class="button-secondary">"Cancel"</A>
                </div>
            </ActionForm>
            {move || {
                create
                    .value()
                    .get()
                    .and_then(Result::err)
                    .map(|error| view! { <p class="status status-error" role="alert">{server_message(&error)}</p> })
            }}
        </section>
    }
}

/// The caller's quota, what they use, and the sizes that still fit.
fn quota_summary(view: QuotaView) -> impl IntoView {
    let fits = view.sizes_left();
    let room = if fits.is_empty() {
        "None of the sizes fits in what is left: terminate a database you no longer need, or ask an admin for a larger quota.".to_string()
    } else if fits.len() == TIERS.len() {
        "Every size fits.".to_string()
    } else {
        format!("Sizes that still fit: {}.", fits.join(", "))
    };
    let whose = if view.own {
        "Your quota"
    } else {
        "Your quota (the default)"
    };
    let class = if fits.is_empty() {
        "hint quota-summary quota-full"
    } else {
        "hint quota-summary"
    };
    view! {
        <p id="quota-summary" class=class data-testid="quota-summary">
            {format!("{whose}: {}. In use: {}. {room}", view.quota.describe(), view.usage.describe())}
        </p>
    }
}

/// A random key for this rendering of the form: the CSP nonce of the
/// request on the server, a random UUID in the browser.
fn request_key() -> String {
    #[cfg(feature = "ssr")]
    {
        leptos::nonce::use_nonce()
            .map(|nonce| nonce.to_string())
            .unwrap_or_default()
    }
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        web_sys::window()
            .and_then(|window| window.crypto().ok())
            .map(|crypto| crypto.random_uuid())
            .unwrap_or_default()
    }
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    {
        String::new()
    }
}

//! The database page's connect panel: where clients connect, a copy button
//! on every value and snippet, the password on request (audited), rotate;
//! for a terminated database, when and by whom instead.

use leptos::prelude::*;

use super::database::{Actions, part};
use crate::accounts::server_message;
use crate::databases::{ConnectionInfo, DatabaseDetail, Engine, Intent, Outside, Status};

/// Host, port, user, snippets; the password on request; rotate. A
/// terminated database has nothing left to connect to: it says when and by
/// whom it was terminated instead.
#[component]
pub(super) fn ConnectPanel(current: Signal<DatabaseDetail>, actions: Actions) -> impl IntoView {
    // The password comes back as a server function's answer, which only the
    // hydrated page can show: a plain form post would record a reveal in the
    // audit log and show nothing. So the button waits for hydration, as the
    // copy buttons do.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let terminated = part(current, |detail| detail.intent == Intent::Terminated);
    let snippets = part(current, |detail| {
        snippets(detail.summary.engine, &detail.connection)
    });
    view! {
        <div class="card connect-panel">
            <h2>"Connect"</h2>
            <Show when=move || !terminated.get() fallback=move || view! { <TerminatedNotice current /> }>
                <ConnectionFacts current hydrated />
                <PasswordControls current actions hydrated />
                <h3>"Snippets"</h3>
                {move || snippets.get().into_iter().map(|(label, code)| view! {
                    <figure class="snippet">
                        <figcaption>
                            <span>{label}</span>
                            <CopyButton text=code.clone() what=label hydrated />
                        </figcaption>
                        // Scrolls sideways when long: focusable, so keyboards can scroll it.
                        <pre tabindex="0"><code>{code}</code></pre>
                    </figure>
                }).collect_view()}
            </Show>
        </div>
    }
}

#[component]
fn TerminatedNotice(current: Signal<DatabaseDetail>) -> impl IntoView {
    move || {
        let detail = current.read();
        let who = detail.terminated.as_ref().map_or_else(
            || "Termination was asked for.".to_string(),
            |terminated| {
                format!(
                    "Terminated {} by {}.",
                    terminated.at.replace('T', " ").trim_end_matches('Z'),
                    terminated.by
                )
            },
        );
        let what = if detail.summary.status == Status::Terminated {
            "The database, its data and its credentials are deleted: there is nothing to connect to."
        } else {
            "Its Kubernetes objects are being deleted; it takes no new connections."
        };
        view! {
            <p data-testid="terminated"><strong>{who}</strong></p>
            <p class="hint">{what}</p>
        }
    }
}

#[component]
fn ConnectionFacts(current: Signal<DatabaseDetail>, hydrated: RwSignal<bool>) -> impl IntoView {
    let facts = part(current, |detail| {
        (
            detail.summary.engine,
            detail.summary.region.clone(),
            detail.connection.clone(),
        )
    });
    move || {
        let (engine, region, connection) = facts.get();
        let address = format!("{}:{}", connection.host, connection.port);
        let (uri_label, uri) = connection_uri_parts(engine, &connection);
        let schema_label = engine.first_schema_label();
        let fact = move |label: &'static str, value: String| {
            view! {
                <dt>{label}</dt>
                <dd>
                    <code>{value.clone()}</code>
                    <CopyButton text=value what=label hydrated />
                </dd>
            }
        };
        view! {
            <dl class="facts">
                {fact("Host", connection.host.clone())}
                {fact("Port", connection.port.to_string())}
                {fact("Username", connection.username.clone())}
                {fact(schema_label, connection.schema_name.clone())}
                {fact(uri_label, uri)}
            </dl>
            {outside_address(connection.outside.clone(), hydrated)}
            <p class="hint" data-testid="address-scope">
                {address_scope(&address, &region, &connection.outside)}
            </p>
        }
    }
}

/// The address outside the cluster, where the region has one.
fn outside_address(outside: Outside, hydrated: RwSignal<bool>) -> Option<impl IntoView> {
    let Outside::Address(address) = outside else {
        return None;
    };
    Some(view! {
        <dl class="facts" data-testid="outside-address">
            <dt>"Outside the cluster"</dt>
            <dd>
                <code>{address.clone()}</code>
                <CopyButton text=address what="Outside the cluster" hydrated />
            </dd>
        </dl>
    })
}

/// Which clients the host above is for, and what those outside use.
fn address_scope(address: &str, region: &str, outside: &Outside) -> String {
    let inside = format!(
        "{address} is the address inside the cluster (region {region}): clients running there connect to it."
    );
    match outside {
        Outside::Address(_) => {
            format!("{inside} Clients elsewhere use the address outside the cluster.")
        }
        Outside::NotConfigured => {
            format!("{inside} No address outside the cluster is configured for this region.")
        }
        Outside::Sandbox => format!(
            "{inside} This is the built-in sandbox: it runs no containers, so there is no address outside it to connect to."
        ),
    }
}

/// Reveal (audited) and rotate.
#[component]
fn PasswordControls(
    current: Signal<DatabaseDetail>,
    actions: Actions,
    hydrated: RwSignal<bool>,
) -> impl IntoView {
    let id = move || current.read().summary.id.clone();
    view! {
        <ActionForm action=actions.reveal attr:class="inline-form">
            <input type="hidden" name="id" value=id />
            <button type="submit" class="button-secondary" disabled=move || !hydrated.get()>"Show password"</button>
        </ActionForm>
        <noscript>
            <p class="hint" data-testid="password-needs-javascript">
                "Showing the password needs JavaScript: it is fetched on request and never part of the page."
            </p>
        </noscript>
        {move || match actions.reveal.value().get() {
            Some(Ok(password)) => view! {
                <p class="secret-line">
                    <code class="secret" data-testid="password">{password.clone()}</code>
                    <CopyButton text=password what="password" hydrated />
                </p>
            }.into_any(),
            Some(Err(error)) => view! { <p class="status status-error" role="alert">{server_message(&error)}</p> }.into_any(),
            None => view! { <p class="hint">"The password is shown on request only; each showing is recorded in the audit log."</p> }.into_any(),
        }}
        <details class="confirm">
            <summary>"Rotate the password…"</summary>
            <p class="hint">"Clients using the current password stop connecting until they are given the new one."</p>
            <ActionForm action=actions.rotate attr:class="inline-form">
                <input type="hidden" name="id" value=id />
                <button type="submit" class="button-danger">"Rotate the password"</button>
            </ActionForm>
        </details>
        {move || match actions.rotate.value().get() {
            Some(Ok(())) => view! { <p class="status status-ok" role="status">"Password rotated. Show it to copy the new one."</p> }.into_any(),
            Some(Err(error)) => view! { <p class="status status-error" role="alert">{server_message(&error)}</p> }.into_any(),
            None => ().into_any(),
        }}
    }
}

/// A button that copies `text`; it says "Copied" once it did. It needs
/// JavaScript, so it waits for hydration.
#[component]
fn CopyButton(text: String, what: &'static str, hydrated: RwSignal<bool>) -> impl IntoView {
    let copied = RwSignal::new(false);
    view! {
        <button
            type="button"
            class="button-secondary button-small copy-button"
            aria-label=format!("Copy {}", what.to_lowercase())
            disabled=move || !hydrated.get()
            on:click=move |_| {
                copy_to_clipboard(&text);
                copied.set(true);
            }
        >
            {move || if copied.get() { "Copied" } else { "Copy" }}
        </button>
    }
}

#[cfg(test)]
fn connection_uri_for(engine: Engine, c: &ConnectionInfo) -> String {
    connection_uri_parts(engine, c).1
}

/// The URI drivers take: PostgreSQL's libpq URI; Cassandra's drivers take
/// contact points, `host:port`.
fn connection_uri_parts(engine: Engine, c: &ConnectionInfo) -> (&'static str, String) {
    match engine {
        Engine::Postgresql => (
            "URI",
            format!(
                "postgresql://{}@{}:{}/{}?sslmode=require",
                c.username, c.host, c.port, c.schema_name
            ),
        ),
        Engine::Cassandra => ("Contact point", format!("{}:{}", c.host, c.port)),
    }
}

/// Command-line and driver snippets; `$PASSWORD` stands for the password.
fn snippets(engine: Engine, c: &ConnectionInfo) -> Vec<(&'static str, String)> {
    match engine {
        Engine::Cassandra => vec![
            (
                "cqlsh",
                format!(
                    "cqlsh {} {} -u {} -p \"$PASSWORD\" -k {}",
                    c.host, c.port, c.username, c.schema_name
                ),
            ),
            (
                "Python (cassandra-driver)",
                format!(
                    "import os\nfrom cassandra.cluster import Cluster\nfrom cassandra.auth import PlainTextAuthProvider\n\nauth = PlainTextAuthProvider(\"{}\", os.environ[\"PASSWORD\"])\nsession = Cluster([\"{}\"], port={}, auth_provider=auth).connect(\"{}\")",
                    c.username, c.host, c.port, c.schema_name
                ),
            ),
            (
                "Java (DataStax driver 4)",
                format!(
                    "CqlSession session = CqlSession.builder()\n    .addContactPoint(new InetSocketAddress(\"{}\", {}))\n    .withAuthCredentials(\"{}\", System.getenv(\"PASSWORD\"))\n    .withLocalDatacenter(\"dc1\")\n    .withKeyspace(\"{}\")\n    .build();",
                    c.host, c.port, c.username, c.schema_name
                ),
            ),
        ],
        Engine::Postgresql => vec![
            (
                "psql",
                format!(
                    "PGPASSWORD=\"$PASSWORD\" psql \"host={} port={} user={} dbname={} sslmode=require\"",
                    c.host, c.port, c.username, c.schema_name
                ),
            ),
            (
                "Python (psycopg 3)",
                format!(
                    "import os, psycopg\n\nconn = psycopg.connect(host=\"{}\", port={}, user=\"{}\",\n                       password=os.environ[\"PASSWORD\"], dbname=\"{}\")",
                    c.host, c.port, c.username, c.schema_name
                ),
            ),
            (
                "Java (JDBC)",
                format!(
                    "Connection conn = DriverManager.getConnection(\n    \"jdbc:postgresql://{}:{}/{}\", \"{}\", System.getenv(\"PASSWORD\"));",
                    c.host, c.port, c.schema_name, c.username
                ),
            ),
        ],
    }
}

fn copy_to_clipboard(text: &str) {
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    if let Some(window) = web_sys::window() {
        // A promise nobody waits for: the button says "Copied" at once.
        let _ = window.navigator().clipboard().write_text(text);
    }
    #[cfg(not(all(feature = "hydrate", not(feature = "ssr"))))]
    let _ = text;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection() -> ConnectionInfo {
        ConnectionInfo {
            host: "orders.db-1.svc".into(),
            port: 5432,
            username: "app_user".into(),
            schema_name: "orders".into(),
            outside: Outside::NotConfigured,
        }
    }

    fn snippet(engine: Engine, connection: &ConnectionInfo, label: &str) -> String {
        snippets(engine, connection)
            .into_iter()
            .find(|(shown, _)| *shown == label)
            .map(|(_, code)| code)
            .unwrap_or_else(|| panic!("no {label} snippet"))
    }

    /// The real Python parser reads the snippet (python3 is on every machine of this kind).
    fn assert_python_parses(code: &str) {
        use std::io::Write as _;
        let mut python = std::process::Command::new("python3")
            .args(["-c", "import ast, sys; ast.parse(sys.stdin.read())"])
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        python
            .stdin
            .take()
            .unwrap()
            .write_all(code.as_bytes())
            .unwrap();
        let output = python.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{code}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    #[test]
    fn postgresql_snippets_name_the_database_user_and_address_in_their_places() {
        let c = connection();
        assert_eq!(
            snippet(Engine::Postgresql, &c, "psql"),
            r#"PGPASSWORD="$PASSWORD" psql "host=orders.db-1.svc port=5432 user=app_user dbname=orders sslmode=require""#
        );
        // JDBC: the database in the URL, the user beside it.
        let jdbc = snippet(Engine::Postgresql, &c, "Java (JDBC)");
        assert!(
            jdbc.contains(r#""jdbc:postgresql://orders.db-1.svc:5432/orders", "app_user""#),
            "{jdbc}"
        );
        let python = snippet(Engine::Postgresql, &c, "Python (psycopg 3)");
        assert!(python.contains(r#"user="app_user""#) && python.contains(r#"dbname="orders""#));
        assert_python_parses(&python);
        assert_eq!(
            connection_uri_for(Engine::Postgresql, &c),
            "postgresql://app_user@orders.db-1.svc:5432/orders?sslmode=require"
        );
    }

    #[test]
    fn cassandra_snippets_name_the_keyspace_user_and_address_in_their_places() {
        let c = ConnectionInfo {
            port: 9042,
            schema_name: "orders_ks".into(),
            ..connection()
        };
        assert_eq!(
            snippet(Engine::Cassandra, &c, "cqlsh"),
            r#"cqlsh orders.db-1.svc 9042 -u app_user -p "$PASSWORD" -k orders_ks"#
        );
        let java = snippet(Engine::Cassandra, &c, "Java (DataStax driver 4)");
        assert!(
            java.contains(r#"new InetSocketAddress("orders.db-1.svc", 9042)"#)
                && java.contains(r#".withKeyspace("orders_ks")"#)
                && java.contains(r#".withAuthCredentials("app_user","#),
            "{java}"
        );
        let python = snippet(Engine::Cassandra, &c, "Python (cassandra-driver)");
        assert!(python.contains(r#"connect("orders_ks")"#), "{python}");
        assert_python_parses(&python);
        assert_eq!(
            connection_uri_for(Engine::Cassandra, &c),
            "orders.db-1.svc:9042"
        );
    }
}

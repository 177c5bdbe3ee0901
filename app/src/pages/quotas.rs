//! The quotas page (admins): the default quota every customer has, the
//! customers with their own, and the forms that change both. Plain forms:
//! they work without JavaScript too.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use crate::accounts::server_message;
use crate::databases::{
    CustomerQuota, Quota, QuotaBoard, QuotaForm, RemoveCustomerQuota, SetCustomerQuota,
    SetDefaultQuota, fetch_quota_board,
};

#[component]
pub fn QuotasPage() -> impl IntoView {
    let query = use_query_map();
    let page = move || {
        query
            .read()
            .get("page")
            .and_then(|page| page.parse::<u32>().ok())
            .unwrap_or(1)
            .max(1)
    };
    let set_default = ServerAction::<SetDefaultQuota>::new();
    let set_customer = ServerAction::<SetCustomerQuota>::new();
    let remove = ServerAction::<RemoveCustomerQuota>::new();
    let changes = move || {
        (
            set_default.version().get(),
            set_customer.version().get(),
            remove.version().get(),
        )
    };
    let board = Resource::new(
        move || (page(), changes()),
        |(page, _)| fetch_quota_board(page),
    );
    view! {
        <Title text="Quotas" />
        <section class="panel">
            <div class="panel-heading">
                <h1>"Quotas"</h1>
                <p class="lede">
                    "How many databases each customer may have, and how much CPU, memory and storage they may add up to (terminated ones do not count). A create or resize that would go over is refused with the reason; a customer above a lowered quota can still shrink and terminate."
                </p>
            </div>
            <Transition fallback=|| view! { <p class="hint">"Loading quotas…"</p> }>
                {move || {
                    board
                        .get()
                        .map(|board| match board {
                            Ok(board) => quota_board(board, set_default, remove).into_any(),
                            Err(error) => {
                                view! { <p class="status status-error" role="alert">{server_message(&error)}</p> }
                                    .into_any()
                            }
                        })
                }}
            </Transition>
            <section class="subsection" aria-labelledby="own-quota-heading">
                <h2 id="own-quota-heading">"Give a customer their own quota"</h2>
                <ActionForm action=set_customer attr:class="stacked-form quota-form" attr:aria-label="Customer quota">
                    <label>
                        "Username"
                        <input name="username" required maxlength="64" autocomplete="off" spellcheck="false" />
                    </label>
                    {quota_fields(Quota::DEFAULT)}
                    <div class="form-buttons">
                        <button type="submit" class="button-primary" disabled=move || set_customer.pending().get()>
                            "Set their quota"
                        </button>
                    </div>
                </ActionForm>
                {answer(set_customer, "Their quota is set.")}
            </section>
        </section>
    }
}

fn quota_board(
    board: QuotaBoard,
    set_default: ServerAction<SetDefaultQuota>,
    remove: ServerAction<RemoveCustomerQuota>,
) -> impl IntoView {
    let pages = crate::accounts::page_count(board.total, board.page_size);
    let page = board.page;
    let default = board.default;
    view! {
        <section class="subsection" aria-labelledby="default-quota-heading">
            <h2 id="default-quota-heading">"Default"</h2>
            <p>"Every customer without their own quota: " <strong data-quota="default">{default.describe()}</strong></p>
            <ActionForm action=set_default attr:class="stacked-form quota-form" attr:aria-label="Default quota">
                {quota_fields(default)}
                <div class="form-buttons">
                    <button type="submit" class="button-primary" disabled=move || set_default.pending().get()>
                        "Save the default"
                    </button>
                </div>
            </ActionForm>
            {answer(set_default, "The default is saved.")}
        </section>
        <section class="subsection" aria-labelledby="own-quotas-heading">
            <h2 id="own-quotas-heading">"Customers with their own quota"</h2>
            {if board.customers.is_empty() {
                view! { <p class="hint">"None: every customer has the default."</p> }.into_any()
            } else {
                view! {
                    <p class="hint">{format!("{} customer{} · page {page} of {pages}", board.total, if board.total == 1 { "" } else { "s" })}</p>
                    <div class="table-scroll">
                        <table class="data-table quotas-table">
                            <thead>
                                <tr>
                                    <th scope="col">"Customer"</th>
                                    <th scope="col">"Quota"</th>
                                    <th scope="col">"Using"</th>
                                    <th scope="col">"Actions"</th>
                                </tr>
                            </thead>
                            <tbody>
                                {board.customers.into_iter().map(|customer| customer_row(customer, remove)).collect_view()}
                            </tbody>
                        </table>
                    </div>
                    {answer(remove, "Back on the default.")}
                    <nav class="pagination" aria-label="Pages of customers">
                        {(page > 1).then(|| view! { <A href=format!("?page={}", page - 1)>"← Previous"</A> })}
                        {(page < pages).then(|| view! { <A href=format!("?page={}", page + 1)>"Next →"</A> })}
                    </nav>
                }
                    .into_any()
            }}
        </section>
    }
}

fn customer_row(
    customer: CustomerQuota,
    remove: ServerAction<RemoveCustomerQuota>,
) -> impl IntoView {
    let username = customer.username;
    let label = format!("Put {username} back on the default quota");
    let for_form = username.clone();
    let for_row = username.clone();
    view! {
        <tr data-username=for_row>
            <td>{username}</td>
            <td>{customer.quota.describe()}</td>
            <td>{customer.usage.describe()}</td>
            <td>
                <ActionForm action=remove attr:class="inline-form">
                    <input type="hidden" name="username" value=for_form />
                    <button type="submit" class="button-secondary" aria-label=label>"Use the default"</button>
                </ActionForm>
            </td>
        </tr>
    }
}

/// The four measures of a quota, filled with `quota`.
fn quota_fields(quota: Quota) -> impl IntoView {
    let form = QuotaForm::from_quota(&quota);
    view! {
        <div class="quota-fields">
            <label>
                "Databases"
                <input name="form[databases]" required inputmode="numeric" pattern="[0-9]+" value=form.databases />
            </label>
            <label>
                "vCPU"
                <input name="form[cpu]" required inputmode="decimal" value=form.cpu />
            </label>
            <label>
                "Memory (GiB)"
                <input name="form[memory_gib]" required inputmode="decimal" value=form.memory_gib />
            </label>
            <label>
                "Storage (GiB)"
                <input name="form[storage_gib]" required inputmode="numeric" pattern="[0-9]+" value=form.storage_gib />
            </label>
        </div>
    }
}

/// What an action's last answer was: done, or why not.
fn answer<A>(action: ServerAction<A>, done: &'static str) -> impl IntoView
where
    A: leptos::server_fn::ServerFn<Output = (), Error = ServerFnError>
        + Clone
        + Send
        + Sync
        + 'static,
{
    move || {
        action.value().get().map(|answer| match answer {
            Ok(()) => view! { <p class="status status-ok" role="status">{done}</p> }.into_any(),
            Err(error) => {
                view! { <p class="status status-error" role="alert">{server_message(&error)}</p> }
                    .into_any()
            }
        })
    }
}

//! The deployments domain's reading SQL (see `deploys.rs`): the history's
//! page and count, the environment matrix's rows, an environment's
//! attempts for the DORA measures. Inherent methods the trait's impl in
//! `deploys_sql.rs` calls.

macro_rules! impl_deploy_history {
    ($store:ty) => {
        impl $store {
            async fn history_page(
                &self,
                query: &$crate::store::DeploymentQuery,
            ) -> $crate::store::StoreResult<$crate::store::Page<$crate::store::DeploymentRecord>>
            {
                use $crate::store::deploys::{DEPLOYMENT_COLUMNS, DEPLOYMENT_FROM, DeploymentRow};
                // Only the filters given become conditions (no `$n IS NULL OR`,
                // which keeps the indexes out), on the deployments alone: the
                // commit and author are matched to release ids first, and the
                // page is chosen by id before the join reads its 50 rows.
                enum Value {
                    Id(uuid::Uuid),
                    Text(String),
                    Time(chrono::DateTime<chrono::Utc>),
                }
                let mut conditions: Vec<String> = Vec::new();
                let mut values: Vec<Value> = Vec::new();
                let mut add = |condition: &str, value: Value| {
                    values.push(value);
                    conditions.push(condition.replace('?', &format!("${}", values.len())));
                };
                if let Some(app) = query.app {
                    add("d.app_id = ?", Value::Id(app));
                }
                if let Some(environment) = &query.environment {
                    add("d.environment = ?", Value::Text(environment.clone()));
                }
                if let Some(status) = query.status {
                    add("d.status = ?", Value::Text(status.as_str().to_string()));
                }
                if let Some(trigger) = query.trigger {
                    add("d.trigger = ?", Value::Text(trigger.as_str().to_string()));
                }
                if let Some(from) = query.from {
                    add("d.created_at >= ?", Value::Time(from));
                }
                if let Some(until) = query.until {
                    add("d.created_at < ?", Value::Time(until));
                }
                let who = query
                    .commit_or_author
                    .as_deref()
                    .map(str::trim)
                    .filter(|text| !text.is_empty());
                if let Some(who) = who {
                    let sha = $crate::store::shared::prefix_pattern(&who.to_lowercase());
                    let author = $crate::store::shared::contains_pattern(who);
                    values.push(Value::Text(sha));
                    values.push(Value::Text(author));
                    let (sha, author) = (values.len() - 1, values.len());
                    conditions.push(format!(
                        "d.release_id IN (SELECT r.id FROM releases r WHERE r.sha LIKE ${sha} ESCAPE '\\' \
                         OR LOWER(r.author) LIKE ${author} ESCAPE '\\' \
                         OR LOWER(r.author_email) LIKE ${author} ESCAPE '\\')"
                    ));
                }
                let filter = if conditions.is_empty() {
                    String::new()
                } else {
                    format!("WHERE {}", conditions.join(" AND "))
                };
                macro_rules! bind_values {
                    ($query:expr) => {{
                        let mut bound = $query;
                        for value in &values {
                            bound = match value {
                                Value::Id(id) => bound.bind(*id),
                                Value::Text(text) => bound.bind(text.clone()),
                                Value::Time(time) => bound.bind(*time),
                            };
                        }
                        bound
                    }};
                }
                let limit = values.len() + 1;
                let sql = format!(
                    "SELECT {DEPLOYMENT_COLUMNS} FROM {DEPLOYMENT_FROM} WHERE d.id IN \
                     (SELECT d.id FROM deployments d {filter} ORDER BY d.id DESC LIMIT ${limit} OFFSET ${}) \
                     ORDER BY d.id DESC",
                    limit + 1
                );
                let rows: Vec<DeploymentRow> = bind_values!(sqlx::query_as(&sql))
                    .bind($crate::store::page_size(query.limit))
                    .bind(i64::from(query.offset))
                    .fetch_all(&self.pool)
                    .await?;
                let count = format!("SELECT COUNT(*) FROM deployments d {filter}");
                let total = $crate::store::shared::page_total(
                    query.offset,
                    query.limit,
                    rows.len(),
                    bind_values!(sqlx::query_scalar(&count)).fetch_one(&self.pool),
                )
                .await?;
                Ok($crate::store::Page {
                    items: rows
                        .into_iter()
                        .map(TryInto::try_into)
                        .collect::<$crate::store::StoreResult<_>>()?,
                    total,
                })
            }

            async fn matrix_rows(
                &self,
                apps: &[uuid::Uuid],
            ) -> $crate::store::StoreResult<$crate::store::MatrixEntries> {
                use $crate::store::deploys::{DEPLOYMENT_COLUMNS, DEPLOYMENT_FROM, DeploymentRow};
                if apps.is_empty() {
                    return Ok($crate::store::MatrixEntries::default());
                }
                let list: Vec<String> = (1..=apps.len()).map(|index| format!("${index}")).collect();
                let list = list.join(", ");
                let current_sql = format!(
                    "SELECT {DEPLOYMENT_COLUMNS} FROM {DEPLOYMENT_FROM} WHERE d.id IN \
                     (SELECT MAX(id) FROM deployments WHERE status = 'Succeeded' AND app_id IN ({list}) \
                     GROUP BY app_id, environment)"
                );
                let mut current = sqlx::query_as::<_, DeploymentRow>(&current_sql);
                for app in apps {
                    current = current.bind(app);
                }
                let current = current
                    .fetch_all(&self.pool)
                    .await?
                    .into_iter()
                    .map(TryInto::try_into)
                    .collect::<$crate::store::StoreResult<Vec<_>>>()?;
                let active_sql = format!(
                    "SELECT app_id, environment, id, status FROM deployments WHERE active AND app_id IN ({list})"
                );
                let mut active = sqlx::query_as::<_, (uuid::Uuid, String, i64, String)>(&active_sql);
                for app in apps {
                    active = active.bind(app);
                }
                let active = active
                    .fetch_all(&self.pool)
                    .await?
                    .into_iter()
                    .filter_map(|(app, environment, id, status)| {
                        Some((app, environment, id, app::deploys::DeploymentStatus::parse(&status)?))
                    })
                    .collect();
                let held_sql = format!(
                    "SELECT app_id, environment FROM deploy_environments \
                     WHERE held_at IS NOT NULL AND app_id IN ({list})"
                );
                let mut held = sqlx::query_as::<_, (uuid::Uuid, String)>(&held_sql);
                for app in apps {
                    held = held.bind(app);
                }
                let held = held.fetch_all(&self.pool).await?;
                Ok($crate::store::MatrixEntries {
                    current,
                    active,
                    held,
                })
            }

            async fn attempts_of(
                &self,
                app: uuid::Uuid,
                environment: &str,
                since: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<Vec<$crate::store::DeploymentRecord>> {
                use $crate::store::deploys::{DEPLOYMENT_COLUMNS, DEPLOYMENT_FROM, DeploymentRow};
                let rows: Vec<DeploymentRow> = sqlx::query_as(&format!(
                    "SELECT {DEPLOYMENT_COLUMNS} FROM {DEPLOYMENT_FROM} \
                     WHERE d.app_id = $1 AND d.environment = $2 AND d.created_at >= $3 \
                     ORDER BY d.id LIMIT 10000"
                ))
                .bind(app)
                .bind(environment)
                .bind(since)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(TryInto::try_into).collect()
            }
        }
    };
}
pub(crate) use impl_deploy_history;

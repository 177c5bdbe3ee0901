//! Per-customer quotas on databases (see `app::databases::Quota`): the
//! default, each customer's own, and what their databases use.
//!
//! A create or a resize is checked against the quota in the transaction
//! that makes it, after taking the owner's lock (their `users` row), so two
//! creates sent at once cannot both fit into the room left for one.

use app::databases::{Quota, Usage};
use async_trait::async_trait;
use uuid::Uuid;

use super::{NewAuditEvent, Page, StoreError, StoreResult};

/// A customer with their own quota.
#[derive(Clone, Debug)]
pub struct CustomerQuotaRecord {
    pub user_id: Uuid,
    pub username: String,
    pub quota: Quota,
    pub usage: Usage,
}

/// A customer's quota as it applies to them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppliedQuota {
    pub quota: Quota,
    /// Their own, rather than the default.
    pub own: bool,
    pub usage: Usage,
}

#[async_trait]
pub trait QuotaStore: Send + Sync {
    /// The quota of every customer without their own.
    async fn default_quota(&self) -> StoreResult<Quota>;
    /// A customer's quota (their own, else the default) and their usage.
    async fn quota_of(&self, user: Uuid) -> StoreResult<AppliedQuota>;
    /// Sets the default quota; the audit event is written with it.
    async fn set_default_quota(&self, quota: &Quota, audit: &NewAuditEvent) -> StoreResult<()>;
    /// Gives a customer their own quota, or (`None`) puts them back on the
    /// default; the audit event is written with it.
    async fn set_customer_quota(
        &self,
        user: Uuid,
        quota: Option<&Quota>,
        audit: &NewAuditEvent,
    ) -> StoreResult<()>;
    /// Customers with their own quota, by username.
    async fn customer_quotas(
        &self,
        limit: u32,
        offset: u32,
    ) -> StoreResult<Page<CustomerQuotaRecord>>;
}

/// A quota row: databases, CPU millicores, memory MiB, storage GiB.
pub(crate) type QuotaRow = (i64, i64, i64, i64);

pub(crate) const QUOTA_COLUMNS: &str = "databases, cpu_millis, memory_mib, storage_gib";

pub(crate) fn quota(row: QuotaRow) -> StoreResult<Quota> {
    let measure = |value: i64| {
        u64::try_from(value)
            .map_err(|_| StoreError::Corrupt(format!("negative quota value {value}")))
    };
    Ok(Quota {
        databases: u32::try_from(measure(row.0)?)
            .map_err(|_| StoreError::Corrupt(format!("quota of {} databases", row.0)))?,
        cpu_millis: measure(row.1)?,
        memory_mib: measure(row.2)?,
        storage_gib: measure(row.3)?,
    })
}

/// The row of a quota; the form caps every value far below `i64::MAX`.
pub(crate) fn row(quota: &Quota) -> QuotaRow {
    let clamp = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
    (
        i64::from(quota.databases),
        clamp(quota.cpu_millis),
        clamp(quota.memory_mib),
        clamp(quota.storage_gib),
    )
}

/// The size a stored tier name means.
pub(crate) fn size(name: &str) -> StoreResult<&'static app::databases::Tier> {
    app::databases::tier(name)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown size tier {name:?}")))
}

/// What databases of these sizes (their stored names) use.
pub(crate) fn usage(tiers: &[String]) -> StoreResult<Usage> {
    let sizes = tiers
        .iter()
        .map(|name| size(name))
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Quota::used_by(sizes))
}

/// Inside a write transaction `tx`: takes `owner`'s lock, then reads their
/// quota and what their databases other than `except` use. Evaluates to a
/// future of `StoreResult<(Quota, Usage)>`.
macro_rules! lock_quota_of {
    ($tx:expr, $owner:expr, $except:expr) => {
        async {
            let owner: uuid::Uuid = $owner;
            let except: Option<uuid::Uuid> = $except;
            // Writes the row to itself: on PostgreSQL a row lock that the
            // owner's other creates and resizes wait for (SQLite's writers
            // take turns anyway).
            sqlx::query("UPDATE users SET updated_at = updated_at WHERE id = $1")
                .bind(owner)
                .execute(&mut *$tx)
                .await?;
            let own: Option<$crate::store::quotas::QuotaRow> = sqlx::query_as(&format!(
                "SELECT {} FROM customer_quotas WHERE user_id = $1",
                $crate::store::quotas::QUOTA_COLUMNS
            ))
            .bind(owner)
            .fetch_optional(&mut *$tx)
            .await?;
            let row = match own {
                Some(row) => row,
                None => {
                    sqlx::query_as(&format!(
                        "SELECT {} FROM quota_default WHERE id = 1",
                        $crate::store::quotas::QUOTA_COLUMNS
                    ))
                    .fetch_one(&mut *$tx)
                    .await?
                }
            };
            let tiers: Vec<String> = sqlx::query_scalar(
                "SELECT tier FROM databases WHERE owner_id = $1 AND intent <> 'terminated' \
                 AND ($2 IS NULL OR id <> $2)",
            )
            .bind(owner)
            .bind(except)
            .fetch_all(&mut *$tx)
            .await?;
            Ok::<_, $crate::store::StoreError>((
                $crate::store::quotas::quota(row)?,
                $crate::store::quotas::usage(&tiers)?,
            ))
        }
    };
}
pub(crate) use lock_quota_of;

macro_rules! impl_quota_store {
    ($store:ty) => {
        impl $store {
            async fn usage_of(
                &self,
                user: uuid::Uuid,
            ) -> $crate::store::StoreResult<app::databases::Usage> {
                let tiers: Vec<String> = sqlx::query_scalar(
                    "SELECT tier FROM databases WHERE owner_id = $1 AND intent <> 'terminated'",
                )
                .bind(user)
                .fetch_all(&self.pool)
                .await?;
                $crate::store::quotas::usage(&tiers)
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::QuotaStore for $store {
            async fn default_quota(&self) -> $crate::store::StoreResult<app::databases::Quota> {
                let row: $crate::store::quotas::QuotaRow = sqlx::query_as(&format!(
                    "SELECT {} FROM quota_default WHERE id = 1",
                    $crate::store::quotas::QUOTA_COLUMNS
                ))
                .fetch_one(&self.pool)
                .await?;
                $crate::store::quotas::quota(row)
            }

            async fn quota_of(
                &self,
                user: uuid::Uuid,
            ) -> $crate::store::StoreResult<$crate::store::AppliedQuota> {
                let own: Option<$crate::store::quotas::QuotaRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM customer_quotas WHERE user_id = $1",
                    $crate::store::quotas::QUOTA_COLUMNS
                ))
                .bind(user)
                .fetch_optional(&self.pool)
                .await?;
                let quota = match own {
                    Some(row) => $crate::store::quotas::quota(row)?,
                    None => self.default_quota().await?,
                };
                Ok($crate::store::AppliedQuota {
                    quota,
                    own: own.is_some(),
                    usage: self.usage_of(user).await?,
                })
            }

            async fn set_default_quota(
                &self,
                quota: &app::databases::Quota,
                audit: &$crate::store::NewAuditEvent,
            ) -> $crate::store::StoreResult<()> {
                let row = $crate::store::quotas::row(quota);
                let mut tx = self.pool.begin_with(Self::BEGIN_WRITE).await?;
                sqlx::query(
                    "UPDATE quota_default SET databases = $1, cpu_millis = $2, memory_mib = $3, \
                     storage_gib = $4 WHERE id = 1",
                )
                .bind(row.0)
                .bind(row.1)
                .bind(row.2)
                .bind(row.3)
                .execute(&mut *tx)
                .await?;
                $crate::store::audit::append_audit_in!(tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn set_customer_quota(
                &self,
                user: uuid::Uuid,
                quota: Option<&app::databases::Quota>,
                audit: &$crate::store::NewAuditEvent,
            ) -> $crate::store::StoreResult<()> {
                let mut tx = self.pool.begin_with(Self::BEGIN_WRITE).await?;
                match quota {
                    Some(quota) => {
                        let row = $crate::store::quotas::row(quota);
                        sqlx::query(
                            "INSERT INTO customer_quotas (user_id, databases, cpu_millis, \
                             memory_mib, storage_gib) VALUES ($1, $2, $3, $4, $5) \
                             ON CONFLICT (user_id) DO UPDATE SET databases = excluded.databases, \
                             cpu_millis = excluded.cpu_millis, memory_mib = excluded.memory_mib, \
                             storage_gib = excluded.storage_gib",
                        )
                        .bind(user)
                        .bind(row.0)
                        .bind(row.1)
                        .bind(row.2)
                        .bind(row.3)
                        .execute(&mut *tx)
                        .await
                        .map_err(|error| match &error {
                            sqlx::Error::Database(database_error)
                                if database_error.is_foreign_key_violation() =>
                            {
                                $crate::store::StoreError::NotFound
                            }
                            _ => $crate::store::StoreError::Database(error),
                        })?;
                    }
                    None => {
                        sqlx::query("DELETE FROM customer_quotas WHERE user_id = $1")
                            .bind(user)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                $crate::store::audit::append_audit_in!(tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn customer_quotas(
                &self,
                limit: u32,
                offset: u32,
            ) -> $crate::store::StoreResult<
                $crate::store::Page<$crate::store::CustomerQuotaRecord>,
            > {
                let rows: Vec<(uuid::Uuid, String, i64, i64, i64, i64)> = sqlx::query_as(
                    "SELECT q.user_id, u.username, q.databases, q.cpu_millis, q.memory_mib, \
                     q.storage_gib FROM customer_quotas q JOIN users u ON u.id = q.user_id \
                     ORDER BY LOWER(u.username), u.id LIMIT $1 OFFSET $2",
                )
                .bind($crate::store::page_size(limit))
                .bind(i64::from(offset))
                .fetch_all(&self.pool)
                .await?;
                let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM customer_quotas")
                    .fetch_one(&self.pool)
                    .await?;
                // What the page's customers use, in one query for all of them.
                let owned: Vec<(uuid::Uuid, String)> = sqlx::query_as(
                    "SELECT owner_id, tier FROM databases WHERE intent <> 'terminated' \
                     AND owner_id IN (SELECT q.user_id FROM customer_quotas q \
                     JOIN users u ON u.id = q.user_id \
                     ORDER BY LOWER(u.username), u.id LIMIT $1 OFFSET $2)",
                )
                .bind($crate::store::page_size(limit))
                .bind(i64::from(offset))
                .fetch_all(&self.pool)
                .await?;
                let mut tiers: std::collections::HashMap<uuid::Uuid, Vec<String>> =
                    std::collections::HashMap::new();
                for (owner, tier) in owned {
                    tiers.entry(owner).or_default().push(tier);
                }
                let mut items = Vec::with_capacity(rows.len());
                for (user_id, username, databases, cpu, memory, storage) in rows {
                    let usage = $crate::store::quotas::usage(
                        tiers.get(&user_id).map_or(&[][..], Vec::as_slice),
                    )?;
                    items.push($crate::store::CustomerQuotaRecord {
                        user_id,
                        username,
                        quota: $crate::store::quotas::quota((databases, cpu, memory, storage))?,
                        usage,
                    });
                }
                Ok($crate::store::Page {
                    items,
                    total: $crate::store::shared::count(total),
                })
            }
        }
    };
}
pub(crate) use impl_quota_store;

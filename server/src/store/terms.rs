//! Leaders' terms, for fencing. Kubernetes Leases decide which replica runs
//! an engine; the store numbers each leadership so that a replica that lost
//! its lease, and does not know it yet, cannot write: every engine write
//! carries its [`Fence`] and is refused once a later term has begun.

use async_trait::async_trait;

use super::StoreResult;

/// The term an engine write was decided under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fence {
    /// The engine's lease, e.g. `provisioning/local`.
    pub lease: String,
    pub term: i64,
}

#[async_trait]
pub trait TermStore: Send + Sync {
    /// Begins the next term of `lease` for `holder` and returns it: from
    /// now on, writes fenced with an earlier term are refused.
    async fn begin_term(&self, lease: &str, holder: &str) -> StoreResult<i64>;
    /// The current term of `lease`, if any leader ever began one.
    async fn current_term(&self, lease: &str) -> StoreResult<Option<i64>>;
}

/// The SQL condition "this write's fence is current", with the parameters
/// `$lease` and `$term` numbered by the caller. An unfenced write (both
/// NULL: an engine without leader election, as in tests) always passes.
pub(crate) fn fence_condition(lease: usize, term: usize) -> String {
    format!(
        "(${term} IS NULL OR EXISTS (SELECT 1 FROM engine_terms \
         WHERE lease = ${lease} AND term = ${term}))"
    )
}

macro_rules! impl_term_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::TermStore for $store {
            async fn begin_term(
                &self,
                lease: &str,
                holder: &str,
            ) -> $crate::store::StoreResult<i64> {
                let term: i64 = sqlx::query_scalar(
                    "INSERT INTO engine_terms (lease, term, holder, acquired_at) \
                     VALUES ($1, 1, $2, $3) \
                     ON CONFLICT (lease) DO UPDATE SET term = engine_terms.term + 1, \
                     holder = excluded.holder, acquired_at = excluded.acquired_at \
                     RETURNING term",
                )
                .bind(lease)
                .bind(holder)
                .bind(chrono::Utc::now())
                .fetch_one(&self.pool)
                .await?;
                Ok(term)
            }

            async fn current_term(&self, lease: &str) -> $crate::store::StoreResult<Option<i64>> {
                let term: Option<i64> =
                    sqlx::query_scalar("SELECT term FROM engine_terms WHERE lease = $1")
                        .bind(lease)
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(term)
            }
        }
    };
}
pub(crate) use impl_term_store;

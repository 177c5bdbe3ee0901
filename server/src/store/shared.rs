//! What every domain's SQL shares: pages, patterns, conflicts.

use serde::Serialize;

use super::StoreError;

/// One page of a list, with the total that matches the filters.
#[derive(Clone, Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}

/// The largest page any list returns, whatever the caller asks.
pub const MAX_PAGE_SIZE: u32 = 200;

/// Clamps a requested page size to 1..=MAX_PAGE_SIZE.
pub fn page_size(requested: u32) -> i64 {
    i64::from(requested.clamp(1, MAX_PAGE_SIZE))
}

/// Turns a uniqueness violation into a `Conflict` that says what clashed.
pub(crate) fn conflict_or(error: sqlx::Error, what: impl FnOnce() -> String) -> StoreError {
    match &error {
        sqlx::Error::Database(database_error) if database_error.is_unique_violation() => {
            StoreError::Conflict(what())
        }
        _ => StoreError::Database(error),
    }
}

/// A `LIKE` pattern that matches `text` anywhere, with its wildcards escaped.
pub(crate) fn contains_pattern(text: &str) -> String {
    format!("%{}%", escape_like(&text.to_lowercase()))
}

/// A `LIKE` pattern that matches values starting with `text`.
pub(crate) fn prefix_pattern(text: &str) -> String {
    format!("{}%", escape_like(text))
}

fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// A count from SQL (never negative) as the records carry it.
pub(crate) fn count(total: i64) -> u64 {
    u64::try_from(total).unwrap_or_default()
}

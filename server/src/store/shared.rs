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

/// A page's total. A page with fewer rows than asked for is the last one
/// (at offset 0, the only one), so its total is its offset plus its rows,
/// known without asking; only a full page, or one past the end, runs
/// `count` (a future: nothing is sent to the database unless awaited).
/// Most lists fit one page: that saves a round trip per page shown.
pub(crate) async fn page_total(
    offset: u32,
    limit: u32,
    rows: usize,
    count: impl Future<Output = Result<i64, sqlx::Error>>,
) -> Result<u64, sqlx::Error> {
    match last_page_total(offset, limit, rows) {
        Some(total) => Ok(total),
        None => Ok(self::count(count.await?)),
    }
}

fn last_page_total(offset: u32, limit: u32, rows: usize) -> Option<u64> {
    let rows = u64::try_from(rows).ok()?;
    let limit = u64::try_from(page_size(limit)).ok()?;
    (rows < limit && (rows > 0 || offset == 0)).then(|| u64::from(offset) + rows)
}

#[cfg(test)]
mod tests {
    use super::last_page_total;

    #[test]
    fn a_short_page_is_the_last_one_and_gives_the_total() {
        assert_eq!(last_page_total(0, 25, 0), Some(0));
        assert_eq!(last_page_total(0, 25, 7), Some(7));
        assert_eq!(last_page_total(50, 25, 3), Some(53));
    }

    #[test]
    fn a_full_page_or_one_past_the_end_must_be_counted() {
        assert_eq!(last_page_total(0, 25, 25), None);
        assert_eq!(last_page_total(25, 25, 25), None);
        assert_eq!(last_page_total(100, 25, 0), None);
    }

    #[test]
    fn the_limit_is_the_clamped_one_the_query_used() {
        // Asked for 1,000, the query returned MAX_PAGE_SIZE: a full page.
        assert_eq!(last_page_total(0, 1_000, 200), None);
        assert_eq!(last_page_total(0, 0, 0), Some(0));
        assert_eq!(last_page_total(0, 0, 1), None);
    }
}

//! Benchmark: how soon an open database page hears of a change (issue 21:
//! "a status change reaches an open page within 250 ms p95").
//!
//! `cargo bench -p server --bench live_updates` opens one page's
//! subscription on the change feed, then writes the engine's report 200
//! times at spread-out moments and times each from the write's return to
//! the page's read of the new detail (what the live view sends). Three
//! ways, in one run:
//! - the feed as it was before the store signalled changes: a poll every
//!   200 ms;
//! - the feed as the portal runs it: woken by the store's signal;
//! - on PostgreSQL, two replicas: the write through one store, the page on
//!   a second store on the same database, woken by NOTIFY.

use std::sync::Arc;
use std::time::{Duration, Instant};

use app::databases::{Engine, Status};
use app::roles::Role;
use async_trait::async_trait;
use server::databases::feed::{ChangeFeed, FALLBACK_TICK, Marks, StoreMarks};
use server::store::{self, EngineReport, NewUser, Store, StoreResult};
use support::BenchResult;
use tokio::sync::watch;
use uuid::Uuid;

mod support;

const CHANGES: usize = 200;
/// The feed's tick before the store signalled changes.
const BEFORE: Duration = Duration::from_millis(200);

/// The feed's source without the signal: the 200 ms poll it used to be.
struct PollOnly(Arc<dyn Store>);

#[async_trait]
impl Marks for PollOnly {
    async fn marks(&self, ids: &[Uuid]) -> StoreResult<Vec<(Uuid, String)>> {
        self.0.database_marks(ids).await
    }

    fn changes(&self) -> Option<watch::Receiver<u64>> {
        None
    }
}

async fn database(store: &Arc<dyn Store>) -> BenchResult<Uuid> {
    let owner = store
        .create_user(NewUser {
            username: format!("watcher-{}", Uuid::now_v7().simple()),
            display_name: "Watcher".into(),
            email: None,
            role: Role::Customer,
            password_hash: None,
            oidc_identity: None,
            audit: None,
        })
        .await?;
    let record = store
        .create_database(support::new_database(
            owner.id,
            format!("live-{}", Uuid::now_v7().simple()),
            Engine::Postgresql,
        )?)
        .await?
        .into_record();
    Ok(record.id)
}

/// Writes through `writer`, watches through a feed on `source` ticking
/// every `tick` besides its signal, reads the detail through `reader`;
/// prints median, p95 and max.
async fn measure(
    label: &str,
    tick: Duration,
    writer: &Arc<dyn Store>,
    source: Arc<dyn Marks>,
    reader: &Arc<dyn Store>,
) -> BenchResult {
    let id = database(writer).await?;
    let generation = writer.database(id).await?.generation;
    let feed = ChangeFeed::with_fallback_tick(source, tick);
    let mut page = feed.subscribe(id);
    tokio::time::timeout(Duration::from_secs(5), page.changed())
        .await
        .map_err(|_| "the first mark never came")?;
    let mut times = Vec::with_capacity(CHANGES);
    for change in 0..CHANGES {
        // Writes land at every phase of a tick, as an engine's do.
        tokio::time::sleep(Duration::from_millis((change as u64 * 37) % 211)).await;
        let status = if change % 2 == 0 {
            Status::Initializing
        } else {
            Status::Active
        };
        let report = EngineReport {
            generation,
            status,
            message: Some(format!("change {change}")),
            settled: false,
            configured: false,
            configured_version: 0,
        };
        writer.report_database(id, None, &report).await?;
        let written = Instant::now();
        tokio::time::timeout(Duration::from_secs(5), page.changed())
            .await
            .map_err(|_| format!("{label}: change {change} never reached the page"))?;
        let shown = reader.database(id).await?;
        if shown.status != status {
            return Err(format!("{label}: the page read {:?}", shown.status).into());
        }
        times.push(written.elapsed());
    }
    times.sort();
    let at = |fraction: f64| times[((times.len() - 1) as f64 * fraction).round() as usize];
    println!(
        "{label:<44} median {:>7.2} ms   p95 {:>7.2} ms   max {:>7.2} ms   ({CHANGES} changes)",
        at(0.5).as_secs_f64() * 1e3,
        at(0.95).as_secs_f64() * 1e3,
        at(1.0).as_secs_f64() * 1e3,
    );
    Ok(())
}

#[tokio::main]
async fn main() -> BenchResult {
    let (sqlite, _dir) = support::sqlite().await?;
    let polled = Arc::new(PollOnly(sqlite.clone()));
    measure(
        "SQLite, polled every 200 ms (before)",
        BEFORE,
        &sqlite,
        polled,
        &sqlite,
    )
    .await?;
    let signalled = Arc::new(StoreMarks(sqlite.clone()));
    measure(
        "SQLite, woken by the store",
        FALLBACK_TICK,
        &sqlite,
        signalled,
        &sqlite,
    )
    .await?;

    support::on_fresh_postgres(async |url| {
        let first = support::postgres(&url).await?;
        let second = store::connect(&url).await?;
        let polled = Arc::new(PollOnly(first.clone()));
        measure(
            "PostgreSQL, polled every 200 ms (before)",
            BEFORE,
            &first,
            polled,
            &first,
        )
        .await?;
        let signalled = Arc::new(StoreMarks(first.clone()));
        measure(
            "PostgreSQL, woken by the store",
            FALLBACK_TICK,
            &first,
            signalled,
            &first,
        )
        .await?;
        let other_replica = Arc::new(StoreMarks(second.clone()));
        // Its listener starts with the first subscriber; give it a moment
        // before the first change is timed.
        drop(second.database_changes());
        tokio::time::sleep(Duration::from_millis(500)).await;
        measure(
            "PostgreSQL, written on another replica",
            FALLBACK_TICK,
            &first,
            other_replica,
            &second,
        )
        .await
    })
    .await
}

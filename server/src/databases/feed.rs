//! One change feed for every open database page in this process: a single
//! query asks the store for the marks of the databases someone watches
//! (`DatabaseStore::database_marks`), and each watcher is told when its
//! database's mark moved. A hundred open pages cost one small query a
//! round, not a hundred detail reads; only a page whose database changed
//! reads its detail.
//!
//! A round runs when the store signals a committed change
//! (`DatabaseStore::database_changes`: this process's writes, and on
//! PostgreSQL every replica's through NOTIFY), at most every [`MIN_GAP`],
//! and otherwise every [`FALLBACK_TICK`], which only matters when a signal
//! was lost (a listener reconnecting).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;
use tokio::time::Instant;
use uuid::Uuid;

use crate::store::{Store, StoreResult};

/// How often the feed asks when no change was signalled.
pub const FALLBACK_TICK: Duration = Duration::from_secs(1);
/// The least time between two rounds: a burst of writes (an engine working
/// through many databases) costs at most one query per gap.
pub const MIN_GAP: Duration = Duration::from_millis(20);

/// Where marks come from: the store, or a test's stand-in.
#[async_trait]
pub trait Marks: Send + Sync {
    async fn marks(&self, ids: &[Uuid]) -> StoreResult<Vec<(Uuid, String)>>;
    /// Moves when a mark may have: the feed's wake-up between ticks.
    fn changes(&self) -> Option<watch::Receiver<u64>> {
        None
    }
}

/// The portal's store as the feed's source.
pub struct StoreMarks(pub Arc<dyn Store>);

#[async_trait]
impl Marks for StoreMarks {
    async fn marks(&self, ids: &[Uuid]) -> StoreResult<Vec<(Uuid, String)>> {
        self.0.database_marks(ids).await
    }

    fn changes(&self) -> Option<watch::Receiver<u64>> {
        Some(self.0.database_changes())
    }
}

struct Watched {
    mark: watch::Sender<Option<String>>,
    watchers: usize,
}

pub struct ChangeFeed {
    source: Arc<dyn Marks>,
    watched: Mutex<HashMap<Uuid, Watched>>,
    ticking: std::sync::Once,
    fallback_tick: Duration,
}

/// One page's view of the feed; dropping it stops the watching.
pub struct Subscription {
    feed: Arc<ChangeFeed>,
    id: Uuid,
    receiver: watch::Receiver<Option<String>>,
}

impl Subscription {
    /// Waits until the database's mark moves; `false` when the feed ended.
    pub async fn changed(&mut self) -> bool {
        self.receiver.changed().await.is_ok()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut watched = self.feed.lock();
        if let Some(entry) = watched.get_mut(&self.id) {
            entry.watchers = entry.watchers.saturating_sub(1);
            if entry.watchers == 0 {
                watched.remove(&self.id);
            }
        }
    }
}

impl ChangeFeed {
    pub fn new(source: Arc<dyn Marks>) -> Arc<ChangeFeed> {
        ChangeFeed::with_fallback_tick(source, FALLBACK_TICK)
    }

    /// A feed whose rounds without a signal are `fallback_tick` apart
    /// (tests set it far beyond their deadline to see the signal work).
    pub fn with_fallback_tick(source: Arc<dyn Marks>, fallback_tick: Duration) -> Arc<ChangeFeed> {
        Arc::new(ChangeFeed {
            source,
            watched: Mutex::new(HashMap::new()),
            ticking: std::sync::Once::new(),
            fallback_tick,
        })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Uuid, Watched>> {
        self.watched
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Watches `id`; the feed starts ticking with its first watcher (and
    /// stops with the last reference to it).
    pub fn subscribe(self: &Arc<Self>, id: Uuid) -> Subscription {
        self.ticking.call_once(|| {
            let feed = Arc::downgrade(self);
            tokio::spawn(tick_forever(
                feed,
                self.source.changes(),
                self.fallback_tick,
            ));
        });
        let receiver = {
            let mut watched = self.lock();
            let entry = watched.entry(id).or_insert_with(|| Watched {
                mark: watch::channel(None).0,
                watchers: 0,
            });
            entry.watchers += 1;
            entry.mark.subscribe()
        };
        Subscription {
            feed: self.clone(),
            id,
            receiver,
        }
    }

    /// How many databases are watched now.
    pub fn watched(&self) -> usize {
        self.lock().len()
    }

    /// One round: asks for the watched databases' marks in one query and
    /// tells the watchers of those that moved. Returns how many ids it
    /// asked about.
    pub async fn tick(&self) -> StoreResult<usize> {
        let ids: Vec<Uuid> = self.lock().keys().copied().collect();
        if ids.is_empty() {
            return Ok(0);
        }
        let marks = self.source.marks(&ids).await?;
        let watched = self.lock();
        for (id, mark) in marks {
            if let Some(entry) = watched.get(&id) {
                entry.mark.send_if_modified(|current| {
                    let moved = current.as_deref() != Some(mark.as_str());
                    if moved {
                        *current = Some(mark);
                    }
                    moved
                });
            }
        }
        Ok(ids.len())
    }
}

async fn tick_forever(
    feed: Weak<ChangeFeed>,
    mut changes: Option<watch::Receiver<u64>>,
    fallback_tick: Duration,
) {
    let mut interval = tokio::time::interval(fallback_tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_round: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            signalled = next_change(&mut changes) => {
                if !signalled {
                    // The store is gone; the ticks go on until the feed is.
                    changes = None;
                    continue;
                }
                if let Some(last) = last_round {
                    tokio::time::sleep_until(last + MIN_GAP).await;
                }
            }
        }
        last_round = Some(Instant::now());
        let Some(feed) = feed.upgrade() else {
            return;
        };
        if let Err(error) = feed.tick().await {
            // The pages keep what they show; the next tick tries again.
            tracing::warn!(%error, "the databases' change feed cannot read the store");
        }
    }
}

/// Waits for the store's next change signal: `false` when it can send no
/// more; never, without a signal.
async fn next_change(changes: &mut Option<watch::Receiver<u64>>) -> bool {
    match changes {
        Some(changes) => changes.changed().await.is_ok(),
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Marks set by the test; counts the queries and the ids asked about.
    struct Scripted {
        marks: Mutex<HashMap<Uuid, String>>,
        queries: AtomicUsize,
        asked: AtomicUsize,
        signal: watch::Sender<u64>,
    }

    impl Default for Scripted {
        fn default() -> Self {
            Scripted {
                marks: Mutex::default(),
                queries: AtomicUsize::default(),
                asked: AtomicUsize::default(),
                signal: watch::channel(0).0,
            }
        }
    }

    #[async_trait]
    impl Marks for Scripted {
        async fn marks(&self, ids: &[Uuid]) -> StoreResult<Vec<(Uuid, String)>> {
            self.queries.fetch_add(1, Ordering::SeqCst);
            self.asked.fetch_add(ids.len(), Ordering::SeqCst);
            let marks = self.marks.lock().unwrap_or_else(|p| p.into_inner());
            Ok(ids
                .iter()
                .filter_map(|id| marks.get(id).map(|mark| (*id, mark.clone())))
                .collect())
        }

        fn changes(&self) -> Option<watch::Receiver<u64>> {
            Some(self.signal.subscribe())
        }
    }

    impl Scripted {
        fn set(&self, id: Uuid, mark: &str) {
            self.marks
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id, mark.to_string());
        }

        /// Says that something changed, as the store does after a write.
        fn signal(&self) {
            self.signal.send_modify(|count| *count += 1);
        }
    }

    /// Whether a change is waiting for the subscription, without waiting.
    fn has_change(subscription: &mut Subscription) -> bool {
        subscription.receiver.has_changed().unwrap_or(false) && {
            subscription.receiver.mark_unchanged();
            true
        }
    }

    #[tokio::test]
    async fn many_pages_on_few_databases_cost_one_query_a_tick() {
        let source = Arc::new(Scripted::default());
        let feed = ChangeFeed::new(source.clone());
        let databases: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
        for id in &databases {
            source.set(*id, "v1");
        }
        let mut pages: Vec<Subscription> = (0..60)
            .map(|page| feed.subscribe(databases[page % 3]))
            .collect();
        assert_eq!(feed.tick().await.unwrap(), 3);
        assert_eq!(source.queries.load(Ordering::SeqCst), 1);
        assert_eq!(source.asked.load(Ordering::SeqCst), 3);
        // The first mark reaches every page.
        assert!(pages.iter_mut().all(has_change));

        // One database changes: only its twenty pages hear of it.
        source.set(databases[1], "v2");
        feed.tick().await.unwrap();
        let told: Vec<usize> = pages
            .iter_mut()
            .enumerate()
            .filter_map(|(page, subscription)| has_change(subscription).then_some(page))
            .collect();
        assert_eq!(told.len(), 20);
        assert!(told.iter().all(|page| page % 3 == 1));
        // Nothing changes: nobody is told.
        feed.tick().await.unwrap();
        assert!(!pages.iter_mut().any(has_change));
    }

    #[tokio::test]
    async fn a_database_nobody_watches_any_more_is_not_asked_about() {
        let source = Arc::new(Scripted::default());
        let feed = ChangeFeed::new(source.clone());
        let (kept, closed) = (Uuid::now_v7(), Uuid::now_v7());
        let keep = feed.subscribe(kept);
        let first = feed.subscribe(closed);
        let second = feed.subscribe(closed);
        assert_eq!(feed.watched(), 2);
        drop(first);
        assert_eq!(feed.watched(), 2, "one page on it is still open");
        drop(second);
        assert_eq!(feed.watched(), 1);
        assert_eq!(feed.tick().await.unwrap(), 1);
        drop(keep);
        assert_eq!(feed.tick().await.unwrap(), 0);
        assert_eq!(
            source.queries.load(Ordering::SeqCst),
            1,
            "no query for nobody"
        );
    }

    #[tokio::test]
    async fn a_watcher_wakes_when_the_feed_ticks_on_its_own() {
        let source = Arc::new(Scripted::default());
        let feed = ChangeFeed::new(source.clone());
        let id = Uuid::now_v7();
        source.set(id, "v1");
        let mut page = feed.subscribe(id);
        let woke = tokio::time::timeout(Duration::from_secs(5), page.changed()).await;
        assert_eq!(woke, Ok(true));
    }

    #[tokio::test]
    async fn a_signalled_change_reaches_the_page_without_waiting_for_a_tick() {
        let source = Arc::new(Scripted::default());
        let no_tick_for_an_hour = Duration::from_secs(3600);
        let feed = ChangeFeed::with_fallback_tick(source.clone(), no_tick_for_an_hour);
        let id = Uuid::now_v7();
        source.set(id, "v1");
        let mut page = feed.subscribe(id);
        // The first round runs at once and brings the first mark.
        let first = tokio::time::timeout(Duration::from_secs(5), page.changed()).await;
        assert_eq!(first, Ok(true));

        source.set(id, "v2");
        source.signal();
        let pushed = tokio::time::timeout(Duration::from_secs(5), page.changed()).await;
        assert_eq!(pushed, Ok(true), "only the signal can have woken the feed");
        assert_eq!(source.queries.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_burst_of_signals_costs_a_round_per_gap_not_one_per_signal() {
        let source = Arc::new(Scripted::default());
        let feed = ChangeFeed::with_fallback_tick(source.clone(), Duration::from_secs(3600));
        let id = Uuid::now_v7();
        source.set(id, "v0");
        let mut page = feed.subscribe(id);
        let first = tokio::time::timeout(Duration::from_secs(5), page.changed()).await;
        assert_eq!(first, Ok(true));
        for round in 1..=500 {
            source.set(id, &format!("v{round}"));
            source.signal();
            // Lets the feed run between signals, as writes from other
            // tasks would.
            tokio::task::yield_now().await;
        }
        // The last mark arrives; the 500 signals were not 500 queries.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let woke = tokio::time::timeout_at(deadline, page.changed()).await;
            assert_eq!(woke, Ok(true), "v500 never arrived");
            if page.receiver.borrow_and_update().as_deref() == Some("v500") {
                break;
            }
        }
        let rounds = source.queries.load(Ordering::SeqCst);
        assert!(rounds <= 3, "{rounds} rounds for 500 signals");
    }
}

//! The reconciler runner: a work queue of item keys, each reconciled by at
//! most one task at a time, at most `concurrency` at once.
//!
//! Level-triggered: a reconcile reads the item's desired state afresh and
//! what the cluster reports, so a lost wake-up only delays work, and after
//! a restart the first resync finds everything unfinished. A slow item
//! holds only its own task: there are no passes to wait for.

use std::collections::{HashMap, HashSet};
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt as _;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::Leadership;
use super::health::{Probe, Tally, failure_view, rfc3339};
use crate::store::Fence;

/// What a reconcile found left to do for its item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// The item reached its desired state: nothing until it changes.
    Done,
    /// It acted, or the desired state moved on meanwhile: look again now.
    Again,
    /// It waits for something outside (an operator, a job): look again
    /// after this long, or sooner when a watch event says something changed.
    After(Duration),
}

/// Why a reconcile failed, classed by what happens next.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// Something outside misbehaved (an API error, a timeout): retried with
    /// a growing pause.
    #[error("{0}")]
    Retry(String),
    /// The store refused a write because another replica leads now: this
    /// replica stops acting until it leads again.
    #[error("{0}")]
    Deposed(String),
}

/// The term a reconcile runs under: its writes carry the fence, and it
/// checks `still_leading` before each action in the cluster.
#[derive(Clone)]
pub struct Term {
    fence: Option<Fence>,
    leadership: Option<Arc<Leadership>>,
}

impl Term {
    /// No leader election (a single process, tests): unfenced, always leading.
    pub fn unfenced() -> Term {
        Term {
            fence: None,
            leadership: None,
        }
    }

    pub fn fence(&self) -> Option<&Fence> {
        self.fence.as_ref()
    }

    /// Whether this replica still leads in this term (its lease is renewed
    /// in time and no later term began).
    pub fn still_leading(&self) -> bool {
        match (&self.leadership, &self.fence) {
            (Some(leadership), Some(fence)) => leadership
                .current()
                .is_some_and(|current| current == *fence),
            _ => true,
        }
    }
}

/// A finished reconcile: its item and how it ended.
type Reconciled<K> = (K, Result<Next, Failure>);

/// An engine's specifics, plugged into the [`Runner`].
#[async_trait]
pub trait Reconciler: Send + Sync + 'static {
    type Key: Clone + Eq + Hash + Debug + Send + Sync + 'static;

    /// The engine's name, for logs.
    fn name(&self) -> &'static str;
    /// Every item whose desired state is not reached yet.
    async fn pending(&self) -> Result<Vec<Self::Key>, Failure>;
    /// Brings one item one step closer to its desired state. `attempt`
    /// counts the failures in a row before this one (0 after a success).
    async fn reconcile(&self, key: &Self::Key, term: &Term, attempt: u32) -> Result<Next, Failure>;
}

#[derive(Clone, Copy, Debug)]
pub struct RunnerSettings {
    /// At most this many items are reconciled at once.
    pub concurrency: usize,
    /// Retries wait `first_backoff`, doubling, up to `max_backoff`.
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// How often the runner asks the store for every unfinished item, for
    /// the wake-ups that were lost (a cut watch, a crash).
    pub resync: Duration,
    /// A reconcile that takes longer is abandoned and retried.
    pub reconcile_timeout: Duration,
}

impl Default for RunnerSettings {
    fn default() -> Self {
        RunnerSettings {
            concurrency: 16,
            first_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(30),
            resync: Duration::from_secs(5),
            reconcile_timeout: Duration::from_secs(300),
        }
    }
}

struct QueueState<K> {
    /// Items to reconcile, each at or after its time.
    due: HashMap<K, Instant>,
    /// Items being reconciled now.
    running: HashSet<K>,
    /// Items woken while running: reconciled again once they finish.
    dirty: HashSet<K>,
    /// Failures in a row, per item (its backoff).
    failures: HashMap<K, u32>,
    resync_now: bool,
    tally: Tally,
}

struct Queue<K> {
    state: Mutex<QueueState<K>>,
    wake: Notify,
    /// The engine's name, and its leadership once set: what it reports.
    name: &'static str,
    leadership: OnceLock<Arc<Leadership>>,
}

impl<K: Clone + Eq + Hash> Queue<K> {
    fn lock(&self) -> MutexGuard<'_, QueueState<K>> {
        // A panic while holding this lock leaves plain data behind; carry on.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Due now, unless the item is backing off from failures.
    fn schedule(&self, key: K) {
        let mut state = self.lock();
        if state.running.contains(&key) {
            state.dirty.insert(key);
        } else if !state.failures.contains_key(&key) {
            state.due.insert(key, Instant::now());
        } else {
            state.due.entry(key).or_insert_with(Instant::now);
        }
        drop(state);
        self.wake.notify_one();
    }
}

/// Wakes a running engine: from watch events, and from services that
/// changed an item's desired state.
pub struct Handle<K> {
    queue: Arc<Queue<K>>,
}

impl<K> Clone for Handle<K> {
    fn clone(&self) -> Self {
        Handle {
            queue: self.queue.clone(),
        }
    }
}

impl<K: Clone + Eq + Hash> Handle<K> {
    /// Something about the item changed in the cluster: look at it (a
    /// backing-off item keeps its pause).
    pub fn schedule(&self, key: K) {
        self.queue.schedule(key);
    }

    /// Its desired state changed: look at it now, whatever its backoff.
    pub fn changed(&self, key: K) {
        self.queue.lock().failures.remove(&key);
        self.queue.schedule(key);
    }

    /// Ask the store for every unfinished item now.
    pub fn resync(&self) {
        self.queue.lock().resync_now = true;
        self.queue.wake.notify_one();
    }
}

impl<K: Clone + Eq + Hash + Send + Sync + 'static> Handle<K> {
    /// What the engine reports about itself (see `health`).
    pub fn probe(&self) -> Arc<dyn Probe> {
        self.queue.clone()
    }
}

impl<K: Clone + Eq + Hash + Send + Sync> Probe for Queue<K> {
    fn health(&self) -> app::engines::EngineHealth {
        let leadership = self.leadership.get();
        let state = self.lock();
        let waiting = state
            .due
            .keys()
            .filter(|key| !state.running.contains(*key) && !state.failures.contains_key(*key))
            .count();
        app::engines::EngineHealth {
            name: leadership.map_or_else(
                || self.name.to_string(),
                |leadership| leadership.lease().to_string(),
            ),
            // Without leader election this process is the only one acting.
            leading: leadership.is_none_or(|leadership| leadership.current().is_some()),
            queued: waiting as u64,
            running: state.running.len() as u64,
            failing: state.failures.len() as u64,
            reconciles: state.tally.reconciles,
            failures: state.tally.failures,
            last_reconcile_at: state.tally.last_reconcile.map(rfc3339),
            last_failure: state.tally.last_failure.as_ref().map(failure_view),
        }
    }
}

pub struct Runner<R: Reconciler> {
    reconciler: Arc<R>,
    settings: RunnerSettings,
    leadership: Option<Arc<Leadership>>,
    queue: Arc<Queue<R::Key>>,
}

impl<R: Reconciler> Runner<R> {
    pub fn new(reconciler: R, settings: RunnerSettings) -> Self {
        let name = reconciler.name();
        Runner {
            reconciler: Arc::new(reconciler),
            settings,
            leadership: None,
            queue: Arc::new(Queue {
                state: Mutex::new(QueueState {
                    due: HashMap::new(),
                    running: HashSet::new(),
                    dirty: HashSet::new(),
                    failures: HashMap::new(),
                    resync_now: true,
                    tally: Tally::default(),
                }),
                wake: Notify::new(),
                name,
                leadership: OnceLock::new(),
            }),
        }
    }

    /// Acts only while this replica leads (see `leader.rs`).
    pub fn with_leadership(mut self, leadership: Arc<Leadership>) -> Self {
        let _ = self.queue.leadership.set(leadership.clone());
        self.leadership = Some(leadership);
        self
    }

    pub fn settings_mut(&mut self) -> &mut RunnerSettings {
        &mut self.settings
    }

    pub fn reconciler(&self) -> &R {
        &self.reconciler
    }

    /// The reconciler, while the runner is being set up (before it runs).
    ///
    /// # Panics
    /// Never in practice: only the runner holds the reconciler before `run`
    /// or `pass` hand clones of it to tasks, which end with them.
    pub fn reconciler_mut(&mut self) -> &mut R {
        #[allow(clippy::expect_used)] // set-up happens before any task holds a clone
        Arc::get_mut(&mut self.reconciler).expect("the runner is being set up, not running")
    }

    pub fn handle(&self) -> Handle<R::Key> {
        Handle {
            queue: self.queue.clone(),
        }
    }

    /// The term to act under now; `None` while another replica leads.
    pub fn term(&self) -> Option<Term> {
        match &self.leadership {
            None => Some(Term::unfenced()),
            Some(leadership) => leadership.current().map(|fence| Term {
                fence: Some(fence),
                leadership: Some(leadership.clone()),
            }),
        }
    }

    fn backoff(&self, failures: u32) -> Duration {
        self.settings
            .first_backoff
            .saturating_mul(1 << failures.min(8))
            .min(self.settings.max_backoff)
    }

    async fn reconcile_once(
        reconciler: Arc<R>,
        key: R::Key,
        term: Term,
        attempt: u32,
        timeout: Duration,
    ) -> Reconciled<R::Key> {
        let started = std::time::Instant::now();
        // Every line logged while reconciling names the engine and the item.
        let span = tracing::info_span!("reconcile", engine = reconciler.name(), item = ?key);
        let reconcile =
            tracing::Instrument::instrument(reconciler.reconcile(&key, &term, attempt), span);
        let outcome = match tokio::time::timeout(timeout, reconcile).await {
            Ok(outcome) => outcome,
            Err(_) => Err(Failure::Retry(format!(
                "the reconcile took longer than {timeout:?}"
            ))),
        };
        let failed = matches!(outcome, Err(Failure::Retry(_)));
        crate::metrics::reconciled(reconciler.name(), started.elapsed(), failed);
        (key, outcome)
    }

    /// Records how a reconcile ended and when the item is due again.
    fn finished(&self, key: R::Key, outcome: Result<Next, Failure>) {
        let name = self.reconciler.name();
        let mut state = self.queue.lock();
        state.running.remove(&key);
        let woken = state.dirty.remove(&key);
        let now = Instant::now();
        match outcome {
            Ok(next) => {
                state.tally.succeeded();
                state.failures.remove(&key);
                let at = match next {
                    Next::Done if !woken => None,
                    Next::After(delay) if !woken => Some(now + delay),
                    _ => Some(now),
                };
                match at {
                    Some(at) => {
                        state.due.insert(key, at);
                    }
                    None => {
                        state.due.remove(&key);
                    }
                }
            }
            Err(Failure::Deposed(message)) => {
                tracing::warn!(engine = name, item = ?key, %message, "another replica leads now; this one stops acting");
                if let Some(leadership) = &self.leadership {
                    leadership.lost();
                }
                state.due.insert(key, now);
            }
            Err(Failure::Retry(message)) => {
                state.tally.failed(format!("{key:?}"), &message);
                let failures = state.failures.entry(key.clone()).or_insert(0);
                *failures += 1;
                let attempt = *failures;
                let delay = self.backoff(attempt);
                tracing::warn!(engine = name, item = ?key, %message, attempt, "reconcile failed; retrying in {delay:?}");
                state.due.insert(key, now + delay);
            }
        }
    }

    /// Reconciles every unfinished item once, at most `concurrency` at a
    /// time, skipping those backing off; returns how many it reconciled.
    /// The running loop does not need it; tests and benchmarks step with it.
    pub async fn pass(&self) -> Result<usize, Failure> {
        let Some(term) = self.term() else {
            return Ok(0);
        };
        let keys = self.reconciler.pending().await?;
        let now = Instant::now();
        let due: Vec<(R::Key, u32)> = {
            let mut state = self.queue.lock();
            let due: Vec<(R::Key, u32)> = keys
                .into_iter()
                .filter(|key| {
                    let backing_off = state.failures.contains_key(key)
                        && state.due.get(key).is_some_and(|at| *at > now);
                    !state.running.contains(key) && !backing_off
                })
                .map(|key| {
                    let failures = state.failures.get(&key).copied().unwrap_or(0);
                    (key, failures)
                })
                .collect();
            state.running.extend(due.iter().map(|(key, _)| key.clone()));
            due
        };
        let count = due.len();
        let timeout = self.settings.reconcile_timeout;
        let mut work = futures_util::stream::iter(due.into_iter().map(|(key, attempt)| {
            Self::reconcile_once(self.reconciler.clone(), key, term.clone(), attempt, timeout)
        }))
        .buffer_unordered(self.settings.concurrency.max(1));
        while let Some((key, outcome)) = work.next().await {
            self.finished(key, outcome);
        }
        Ok(count)
    }

    /// Takes the items due now, earliest first, up to `room`.
    fn take_due(&self, room: usize) -> (Vec<(R::Key, u32)>, Option<Instant>) {
        let now = Instant::now();
        let mut state = self.queue.lock();
        let mut ready: Vec<(Instant, R::Key)> = state
            .due
            .iter()
            .filter(|(key, at)| **at <= now && !state.running.contains(*key))
            .map(|(key, at)| (*at, key.clone()))
            .collect();
        ready.sort_by_key(|(at, _)| *at);
        ready.truncate(room);
        for (_, key) in &ready {
            state.due.remove(key);
            state.running.insert(key.clone());
        }
        let next = state
            .due
            .iter()
            .filter(|(key, _)| !state.running.contains(*key))
            .map(|(_, at)| *at)
            .min();
        let ready = ready
            .into_iter()
            .map(|(_, key)| {
                let failures = state.failures.get(&key).copied().unwrap_or(0);
                (key, failures)
            })
            .collect();
        (ready, next)
    }

    async fn resync(&self) {
        match self.reconciler.pending().await {
            Ok(keys) => {
                for key in keys {
                    self.queue.schedule(key);
                }
            }
            Err(error) => {
                tracing::warn!(engine = self.reconciler.name(), %error, "cannot list unfinished items; trying again");
            }
        }
    }

    /// Works until `stop` resolves; reconciles in flight then finish.
    pub async fn run(&self, stop: impl Future<Output = ()>) {
        tokio::pin!(stop);
        let mut tasks: JoinSet<Reconciled<R::Key>> = JoinSet::new();
        // Which item each task reconciles, for a task that panics.
        let mut items: HashMap<tokio::task::Id, R::Key> = HashMap::new();
        let mut next_resync = Instant::now();
        loop {
            let term = self.term();
            let mut next_due = None;
            if let Some(term) = &term {
                let asked = std::mem::take(&mut self.queue.lock().resync_now);
                if asked || Instant::now() >= next_resync {
                    self.resync().await;
                    next_resync = Instant::now() + self.settings.resync;
                }
                let room = self.settings.concurrency.saturating_sub(tasks.len());
                let (ready, next) = self.take_due(room);
                next_due = next;
                for (key, attempt) in ready {
                    let task = tasks.spawn(Self::reconcile_once(
                        self.reconciler.clone(),
                        key.clone(),
                        term.clone(),
                        attempt,
                        self.settings.reconcile_timeout,
                    ));
                    items.insert(task.id(), key);
                }
            }
            let mut wake_at = next_resync;
            if let Some(due) = next_due {
                wake_at = wake_at.min(due);
            }
            if term.is_none() {
                // Following: look again when leadership may have changed.
                wake_at = Instant::now() + Duration::from_millis(500);
            }
            let leadership_gained = async {
                match &self.leadership {
                    Some(leadership) => leadership.gained().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = &mut stop => break,
                Some(joined) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                    self.joined(joined, &mut items);
                }
                () = self.queue.wake.notified() => {}
                () = leadership_gained => {
                    self.queue.lock().resync_now = true;
                }
                () = tokio::time::sleep_until(wake_at) => {}
            }
        }
        while let Some(joined) = tasks.join_next_with_id().await {
            self.joined(joined, &mut items);
        }
    }

    fn joined(
        &self,
        joined: Result<(tokio::task::Id, Reconciled<R::Key>), tokio::task::JoinError>,
        items: &mut HashMap<tokio::task::Id, R::Key>,
    ) {
        match joined {
            Ok((id, (key, outcome))) => {
                items.remove(&id);
                self.finished(key, outcome);
            }
            Err(error) => {
                if let Some(key) = items.remove(&error.id()) {
                    self.finished(
                        key,
                        Err(Failure::Retry(format!("the reconcile panicked: {error}"))),
                    );
                }
            }
        }
    }
}

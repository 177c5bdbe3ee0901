//! "A database's page may show something new": the signal that wakes the
//! change feed (`databases::feed`) at once instead of at its next tick.
//!
//! Every write of the databases domain (a row or a provisioning step)
//! bumps it after its commit, in this process. On PostgreSQL a trigger
//! also sends `NOTIFY dscloud_database_changes` when such a write commits,
//! and a listener bumps the signal here for writes made by other replicas
//! (`listen_for_other_replicas`). The signal says only *that* something
//! changed; the feed asks the store *what*, so a lost or doubled signal
//! costs a query, never a wrong page.

use std::sync::{Arc, Mutex};

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The channel the PostgreSQL trigger notifies (migration 0015).
pub const CHANNEL: &str = "dscloud_database_changes";

/// The signal: a counter that moves on every change.
pub struct DatabaseChanges {
    counter: watch::Sender<u64>,
    /// The PostgreSQL listener, started by the first subscriber and
    /// stopped with the store.
    listener: Mutex<Option<JoinHandle<()>>>,
}

impl DatabaseChanges {
    pub fn new() -> DatabaseChanges {
        DatabaseChanges {
            counter: watch::channel(0).0,
            listener: Mutex::new(None),
        }
    }

    /// Something changed (called after the write committed).
    pub fn bump(&self) {
        self.counter
            .send_modify(|count| *count = count.wrapping_add(1));
    }

    /// A receiver whose `changed()` resolves after the next bump.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.counter.subscribe()
    }

    /// Starts (once) a task that bumps the signal for every notification
    /// on [`CHANNEL`], so that writes committed by other replicas wake this
    /// one's pages. Needs a Tokio runtime; without one (never in the
    /// portal) the feed's own tick is the only wake-up.
    pub fn listen_for_other_replicas(self: &Arc<Self>, pool: &PgPool) {
        let mut listener = self
            .listener
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if listener.is_some() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let changes = Arc::downgrade(self);
        let pool = pool.clone();
        *listener = Some(runtime.spawn(async move {
            let mut subscribed = match subscribe(&pool).await {
                Ok(subscribed) => subscribed,
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for other replicas' database changes; pages learn of them at the feed's next tick");
                    return;
                }
            };
            loop {
                // `try_recv` gives `None` when the connection was lost (and
                // is already re-established): a change may have been missed,
                // so the feed is woken either way.
                let received = subscribed.try_recv().await;
                let Some(changes) = changes.upgrade() else {
                    return;
                };
                changes.bump();
                if let Err(error) = received {
                    tracing::warn!(%error, "listening for other replicas' database changes failed; retrying");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }));
    }
}

impl Default for DatabaseChanges {
    fn default() -> Self {
        DatabaseChanges::new()
    }
}

impl Drop for DatabaseChanges {
    fn drop(&mut self) {
        let listener = self
            .listener
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(task) = listener.take() {
            task.abort();
        }
    }
}

async fn subscribe(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

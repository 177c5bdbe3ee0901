//! The repository poller: a reconciler on the shared runner whose items are
//! the apps due for a look. One look asks the remote for the tracked
//! branch's head (`ls-remote`, cheap); only when it moved does it fetch and
//! record a release. Failures back the app off (up to an hour) and say why
//! on its page. A push webhook only makes the app due now.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use uuid::Uuid;

use super::open_credentials;
use super::release::release_of;
use crate::crypto::Keyring;
use crate::engine::{Failure, Next, Reconciler, Runner, RunnerSettings, Term};
use crate::git::{Git, GitError, Remote};
use crate::store::{AppRecord, PollOutcome, Store, StoreError};

/// The longest pause after repeated failures.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// Called with the app's id when a poll records a new release.
pub type OnRelease = Arc<dyn Fn(Uuid) + Send + Sync>;

pub struct Poller {
    store: Arc<dyn Store>,
    keyring: Arc<Keyring>,
    git: Git,
    on_release: Option<OnRelease>,
}

impl Poller {
    pub fn new(store: Arc<dyn Store>, keyring: Arc<Keyring>, git: Git) -> Self {
        Poller {
            store,
            keyring,
            git,
            on_release: None,
        }
    }

    /// Tells `on_release` of every new release (the deploy engine takes it).
    pub fn on_release(mut self, on_release: Option<OnRelease>) -> Self {
        self.on_release = on_release;
        self
    }

    /// On the shared runner, polling up to `concurrency` repositories at once.
    pub fn runner(self, concurrency: usize) -> Runner<Poller> {
        Runner::new(
            self,
            RunnerSettings {
                concurrency,
                resync: Duration::from_secs(1),
                ..RunnerSettings::default()
            },
        )
    }

    /// One look at the repository: what the store should record.
    pub async fn look(&self, app: &AppRecord) -> PollOutcome {
        let credentials = match open_credentials(&self.keyring, app) {
            Ok(credentials) => credentials,
            Err(error) => {
                return PollOutcome::Failed(format!(
                    "the repository's credentials cannot be opened: {error}"
                ));
            }
        };
        let remote = Remote {
            url: &app.repository_url,
            credentials: credentials.as_ref(),
        };
        let head = match self.git.head(&remote, &app.branch).await {
            Ok(Some(head)) => head,
            Ok(None) => {
                return PollOutcome::Failed(format!(
                    "the branch {:?} no longer exists in the repository; its releases stay as records",
                    app.branch
                ));
            }
            Err(error) => return PollOutcome::Failed(error.to_string()),
        };
        if app.head_sha.as_deref() == Some(head.as_str()) {
            return PollOutcome::Unchanged;
        }
        let mirror = self.git.mirror(app.id);
        let fetched = async {
            self.git.fetch(&mirror, &remote, &app.branch).await?;
            release_of(&self.git, &mirror, app.head_sha.as_deref(), &head).await
        };
        // A push received since the last look is what made this one happen now.
        let by_webhook = app
            .last_webhook_at
            .is_some_and(|pushed| app.last_polled_at.is_none_or(|polled| pushed >= polled));
        match fetched.await {
            Ok(mut release) => {
                release.found_by_webhook = by_webhook;
                PollOutcome::NewRelease(Box::new(release))
            }
            Err(GitError::NoCommits) => PollOutcome::Failed("the branch has no commits".into()),
            Err(error) => PollOutcome::Failed(error.to_string()),
        }
    }
}

/// How the poller is known in the cluster: its Lease (it creates no objects).
pub const LEASE: &str = "dscloud-git-poller";

/// Starts the poller, acting only while this replica holds its Lease in
/// `client`'s cluster; returns its wake-up and the elector (released at
/// shutdown).
pub fn start(
    store: Arc<dyn Store>,
    keyring: Arc<Keyring>,
    git: Git,
    client: kube::Client,
    on_release: Option<OnRelease>,
) -> (
    crate::engine::Handle<Uuid>,
    Arc<crate::engine::LeaderElector>,
) {
    use crate::engine::{LeaderElector, Leadership, leader};
    let leadership = Leadership::new("git-poller");
    let elector = Arc::new(LeaderElector::new(
        client,
        &leader::namespace(),
        LEASE,
        leader::identity(),
        store.clone(),
        leadership.clone(),
    ));
    let runner = Arc::new(
        Poller::new(store, keyring, git)
            .on_release(on_release)
            .runner(8)
            .with_leadership(leadership),
    );
    crate::supervise::spawn("git poller leader election", {
        let elector = elector.clone();
        move || elector.clone().run()
    });
    let handle = runner.handle();
    crate::supervise::spawn("git poller", move || {
        let runner = runner.clone();
        async move { runner.run(std::future::pending()).await }
    });
    (handle, elector)
}

/// When to look next: the interval with up to 10% jitter (so apps
/// registered together do not poll together), longer after failures.
fn next_poll(app: &AppRecord, failed: bool) -> chrono::DateTime<Utc> {
    let interval = Duration::from_secs(u64::from(app.poll_interval_seconds.max(1)));
    let pause = if failed {
        interval
            .saturating_mul(1 << app.failures.min(10))
            .min(MAX_BACKOFF.max(interval))
    } else {
        interval
    };
    let jitter_millis = u64::try_from(pause.as_millis() / 10).unwrap_or(0);
    let jitter = if jitter_millis == 0 {
        0
    } else {
        u64::from(uuid::Uuid::new_v4().as_u128() as u32) % jitter_millis
    };
    let pause = pause + Duration::from_millis(jitter);
    Utc::now() + chrono::Duration::from_std(pause).unwrap_or(chrono::Duration::hours(1))
}

#[async_trait]
impl Reconciler for Poller {
    type Key = Uuid;

    fn name(&self) -> &'static str {
        "git-poller"
    }

    async fn pending(&self) -> Result<Vec<Uuid>, Failure> {
        self.store
            .apps_due(Utc::now(), 10_000)
            .await
            .map_err(|error| Failure::Retry(format!("store: {error}")))
    }

    async fn reconcile(&self, id: &Uuid, _term: &Term, _attempt: u32) -> Result<Next, Failure> {
        let app = match self.store.app(*id).await {
            Ok(app) => app,
            Err(StoreError::NotFound) => return Ok(Next::Done),
            Err(error) => return Err(Failure::Retry(format!("store: {error}"))),
        };
        if app.next_poll_at > Utc::now() {
            return Ok(Next::Done);
        }
        let outcome = self.look(&app).await;
        let failed = matches!(outcome, PollOutcome::Failed(_));
        let released = matches!(outcome, PollOutcome::NewRelease(ref release) if release.accepted);
        if let PollOutcome::Failed(reason) = &outcome {
            tracing::warn!(app = %app.name, %reason, "polling the repository failed");
        }
        if let PollOutcome::NewRelease(release) = &outcome {
            tracing::info!(app = %app.name, sha = %release.sha, accepted = release.accepted, "new release");
        }
        let next = next_poll(&app, failed);
        self.store
            .record_poll(app.id, app.head_sha.as_deref(), outcome, next)
            .await
            .map_err(|error| Failure::Retry(format!("store: {error}")))?;
        if released && let Some(on_release) = &self.on_release {
            on_release(app.id);
        }
        Ok(Next::Done)
    }
}

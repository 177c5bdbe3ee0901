//! Background tasks that must outlive any one failure (the engines, their
//! leader electors, session housekeeping) run under a supervisor: when one
//! ends, by a panic or by returning, the supervisor logs how and starts it
//! again after a pause that doubles from 1 s up to a minute (back to 1 s
//! after an hour without trouble). The tasks are level-triggered or
//! stateless, so starting one again is always safe.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

const FIRST_PAUSE: Duration = Duration::from_secs(1);
const LONGEST_PAUSE: Duration = Duration::from_secs(60);
/// A run this long counts as healthy: the next failure pauses 1 s again.
const HEALTHY_RUN: Duration = Duration::from_secs(3600);

/// Runs `start()` for ever, starting it again whenever it ends.
pub fn spawn<F, Fut>(name: &'static str, start: F) -> tokio::task::JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        let mut pause = FIRST_PAUSE;
        loop {
            let began = Instant::now();
            match tokio::spawn(start()).await {
                Ok(()) => {
                    tracing::error!(task = name, "a background task ended; starting it again")
                }
                Err(error) if error.is_panic() => {
                    let panic = error.into_panic();
                    let text = panic
                        .downcast_ref::<&str>()
                        .map(|text| text.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    tracing::error!(task = name, panic = %text, "a background task panicked; starting it again");
                }
                // Cancelled: the runtime is shutting down.
                Err(_) => return,
            }
            if began.elapsed() >= HEALTHY_RUN {
                pause = FIRST_PAUSE;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(LONGEST_PAUSE);
        }
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    /// Paused time: the pauses pass at once, and their lengths are exact.
    #[tokio::test(start_paused = true)]
    async fn a_task_that_panics_or_ends_is_started_again_with_growing_pauses() {
        let starts = Arc::new(AtomicU32::new(0));
        let began = Instant::now();
        let (ran_for_good, mut settled) = tokio::sync::watch::channel(None);
        let ran_for_good = Arc::new(ran_for_good);
        spawn("test", {
            let starts = starts.clone();
            move || {
                let starts = starts.clone();
                let ran_for_good = ran_for_good.clone();
                async move {
                    match starts.fetch_add(1, Ordering::SeqCst) {
                        0 => panic!("first run fails"),
                        1 => {}
                        _ => {
                            ran_for_good.send_replace(Some(began.elapsed()));
                            std::future::pending::<()>().await;
                        }
                    }
                }
            }
        });
        let waited = settled
            .wait_for(Option::is_some)
            .await
            .map(|elapsed| *elapsed)
            .ok()
            .flatten();
        assert_eq!(starts.load(Ordering::SeqCst), 3);
        // A panic, then an end: 1 s, then 2 s.
        assert_eq!(waited, Some(Duration::from_secs(3)));
    }
}

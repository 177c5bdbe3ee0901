//! The process is stopping (SIGTERM): what should end at once rather than
//! run out the shutdown grace period listens here. A live view is the case:
//! it streams for minutes, and ended now its browser reconnects (in 1 s,
//! the stream's `retry`) to a replica that is not stopping.

use std::sync::OnceLock;

use tokio::sync::watch;

fn signal() -> &'static watch::Sender<bool> {
    static STOPPING: OnceLock<watch::Sender<bool>> = OnceLock::new();
    STOPPING.get_or_init(|| watch::channel(false).0)
}

/// Called once the signal to stop arrived.
pub fn begin() {
    signal().send_replace(true);
}

/// Resolves when the process begins stopping (at once if it has).
pub async fn begun() {
    let mut receiver = signal().subscribe();
    // The sender lives in a static, so the channel never closes.
    let _ = receiver.wait_for(|stopping| *stopping).await;
}

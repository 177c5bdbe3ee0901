//! A Job as the engine's planner sees it: missing, running, or ended with
//! its exit code, the last lines of its log and (for a build) the digest.

use crate::cluster::{Cluster, ClusterError, Kind};
use crate::deploy::build;
use crate::deploy::health::{self, JobEnd};
use crate::deploy::plan::{self, RunState};

/// A Job as a run: missing, running, or ended with its exit code, log
/// tail and (for a build) digest.
pub(super) async fn observe_job(
    cluster: &Cluster,
    namespace: &str,
    name: &str,
    build: bool,
) -> Result<RunState, ClusterError> {
    let Some(job) = cluster.get(Kind::JOB, Some(namespace), name).await? else {
        return Ok(RunState::Missing);
    };
    let end = health::job(&job);
    if end == JobEnd::Running {
        return Ok(RunState::Running);
    }
    let pod = cluster
        .list(Kind::POD, namespace, &format!("job-name={name}"))
        .await?
        .into_iter()
        .next();
    let (exit_code, message) = pod
        .as_ref()
        .and_then(health::terminated)
        .map_or((None, None), |(code, message)| (Some(code), message));
    let log = match pod
        .as_ref()
        .and_then(|pod| pod["metadata"]["name"].as_str())
    {
        Some(pod) => cluster
            .log_tail(namespace, pod, plan::LOG_TAIL_LINES as i64)
            .await
            .unwrap_or_default(),
        None => String::new(),
    };
    Ok(match end {
        JobEnd::Complete => RunState::Succeeded {
            digest: message
                .filter(|_| build)
                .as_deref()
                .and_then(build::digest_of),
            log,
        },
        JobEnd::Failed(reason) => RunState::Failed {
            exit_code,
            reason,
            log,
        },
        JobEnd::Running => RunState::Running,
    })
}

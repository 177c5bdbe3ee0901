//! A release from a new head: the commits it brings since the previous
//! head, whether history was rewritten, and its `dscloud.yaml` with the
//! verdict of the portal's checks (the same as the validate page's).

use std::path::Path;

use app::dscloud::{Severity, check};
use serde_json::json;

use crate::git::{FileAt, Git, GitError, MAX_FILE_BYTES};
use crate::store::NewRelease;

pub const FILE: &str = "dscloud.yaml";

/// Builds the release of `head` from the mirror (already fetched).
pub async fn release_of(
    git: &Git,
    mirror: &Path,
    previous: Option<&str>,
    head: &str,
) -> Result<NewRelease, GitError> {
    // After a force-push the old head may be gone from the mirror: list the
    // new head's own history then, and say so.
    let force_pushed = match previous {
        Some(previous) => !git.is_ancestor(mirror, previous, head).await,
        None => false,
    };
    let from = previous.filter(|_| !force_pushed);
    let (commits, truncated) = git.commits(mirror, from, head).await?;
    let newest = match commits.first() {
        Some(commit) => commit.clone(),
        None => git
            .commits(mirror, None, head)
            .await?
            .0
            .into_iter()
            .next()
            .ok_or(GitError::NoCommits)?,
    };
    let (text, problems) = match git.file_at(mirror, head, FILE).await? {
        None => (
            None,
            vec![problem(format!(
                "there is no {FILE} at the root of the repository at this commit"
            ))],
        ),
        Some(FileAt::TooLarge(size)) => (
            None,
            vec![problem(format!(
                "{FILE} is {size} bytes; the portal reads at most {MAX_FILE_BYTES}"
            ))],
        ),
        Some(FileAt::Text(text)) => {
            let checked = check(&text);
            let problems = checked
                .problems
                .iter()
                .map(|problem| {
                    json!({
                        "line": problem.position.line,
                        "column": problem.position.column,
                        "path": problem.path,
                        "message": problem.message,
                        "severity": if problem.severity == Severity::Error { "error" } else { "warning" },
                    })
                })
                .collect();
            (Some(text), problems)
        }
    };
    let accepted = text.is_some()
        && !problems
            .iter()
            .any(|problem| problem["severity"] == "error");
    Ok(NewRelease {
        sha: head.to_string(),
        subject: newest.subject,
        author: newest.author,
        author_email: newest.author_email,
        committed_at: newest.committed_at,
        previous_sha: previous.map(str::to_string),
        force_pushed,
        commits: serde_json::to_value(&commits).unwrap_or_default(),
        commits_truncated: truncated,
        dscloud_yaml: text,
        accepted,
        problems: serde_json::Value::Array(problems),
        found_by_webhook: false,
    })
}

fn problem(message: String) -> serde_json::Value {
    json!({"line": 0, "column": 0, "path": "", "message": message, "severity": "error"})
}

/// The problems of a rejected release, one per line, as people read them.
pub fn describe_problems(release: &NewRelease) -> String {
    release
        .problems
        .as_array()
        .into_iter()
        .flatten()
        .filter(|problem| problem["severity"] == "error")
        .map(|problem| {
            let line = problem["line"].as_u64().unwrap_or(0);
            let message = problem["message"].as_str().unwrap_or_default();
            if line == 0 {
                message.to_string()
            } else {
                format!(
                    "line {line}, column {}: {} {message}",
                    problem["column"].as_u64().unwrap_or(0),
                    problem["path"].as_str().unwrap_or_default()
                )
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

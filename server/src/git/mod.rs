//! Git through the `git` CLI: `ls-remote` to poll cheaply, `fetch` into a
//! bare mirror per app under the data directory, and `log` / `cat-file` to
//! read commits and files from that mirror. Every call runs as a child
//! process (never on the async workers), with a deadline, a clean
//! environment (no user or system configuration, no prompts, no credential
//! helpers) and only the protocols the portal accepts.
//!
//! Why the CLI for reading too, not `gix`: the CLI is needed anyway (gix's
//! `file://` transport spawns `git-upload-pack`, and its HTTPS support pulls
//! a heavy C build), reads here are a few small files per new commit, and
//! one tool means one set of behaviours to test.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use tokio::io::AsyncReadExt as _;
use tokio::process::Command;

/// The longest a `dscloud.yaml` may be.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// How many commits a release lists at most (a huge push is cut, and says so).
pub const MAX_COMMITS: usize = 200;
const OUTPUT_LIMIT: usize = 8 * 1024 * 1024;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GitError {
    #[error("the repository cannot be reached: {0}")]
    Unreachable(String),
    #[error("the repository refused the credentials (or needs some): {0}")]
    AuthenticationRefused(String),
    #[error("the repository has no branch {0:?}")]
    NoSuchBranch(String),
    #[error("the repository has no commits yet")]
    NoCommits,
    #[error("git did not finish within {0:?}")]
    Timeout(Duration),
    #[error("git failed: {0}")]
    Failed(String),
}

/// How the portal proves itself to a repository.
pub enum Credentials {
    /// An HTTPS token (GitHub, GitLab, Gitea and Forgejo accept one as the password).
    Token(SecretString),
    /// An SSH deploy key (OpenSSH private key).
    SshKey(SecretString),
}

/// A repository and how to reach it.
pub struct Remote<'a> {
    pub url: &'a str,
    pub credentials: Option<&'a Credentials>,
}

/// One commit, as a release lists it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CommitInfo {
    pub sha: String,
    pub subject: String,
    pub author: String,
    pub author_email: String,
    /// RFC 3339.
    pub committed_at: String,
}

/// What a repository URL may be: `https://`, `ssh://`, `git@host:path`,
/// `file://` (a repository on the portal's machine), and `http://` only to
/// this machine (a token never crosses a network in the clear).
pub fn check_url(url: &str) -> Result<(), String> {
    let url = url.trim();
    if url.is_empty() {
        return Err("give the repository's URL".to_string());
    }
    if url.len() > 2048 || url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(
            "a repository URL has no spaces or control characters and at most 2048 characters"
                .to_string(),
        );
    }
    if url.starts_with('-') {
        return Err("a repository URL cannot start with '-'".to_string());
    }
    let scp_like = !url.contains("://")
        && url
            .split_once(':')
            .is_some_and(|(host, path)| host.contains('@') && !path.is_empty());
    let allowed = url.starts_with("https://")
        || url.starts_with("ssh://")
        || url.starts_with("file:///")
        || scp_like
        || ["http://127.0.0.1", "http://localhost", "http://[::1]"]
            .iter()
            .any(|local| {
                url.starts_with(&format!("{local}:")) || url.starts_with(&format!("{local}/"))
            });
    if allowed {
        Ok(())
    } else {
        Err(format!(
            "{url:?}: use https://, ssh://, git@host:path or file:///path (http:// only for a repository on this machine)"
        ))
    }
}

/// A branch name git accepts, without anything a command line could misread.
pub fn check_branch(branch: &str) -> Result<(), String> {
    let valid = !branch.is_empty()
        && branch.len() <= 255
        && !branch.starts_with('-')
        && !branch.starts_with('/')
        && !branch.ends_with('/')
        && !branch.ends_with(".lock")
        && !branch.contains("..")
        && !branch.contains("//")
        && !branch.contains("@{")
        && branch
            .chars()
            .all(|c| !c.is_control() && !" ~^:?*[\\".contains(c));
    if valid {
        Ok(())
    } else {
        Err(format!("{branch:?} is not a branch name git accepts"))
    }
}

#[derive(Clone)]
pub struct Git {
    /// Where the bare mirrors live (`<data-dir>/git`).
    root: PathBuf,
    timeout: Duration,
}

impl Git {
    pub fn new(root: PathBuf) -> Self {
        Git {
            root,
            timeout: Duration::from_secs(60),
        }
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The bare mirror of one app.
    pub fn mirror(&self, app: uuid::Uuid) -> PathBuf {
        self.root.join(format!("{}.git", app.simple()))
    }

    /// The branch the repository's HEAD points to.
    pub async fn default_branch(&self, remote: &Remote<'_>) -> Result<String, GitError> {
        let out = self
            .remote_command(remote, &["ls-remote", "--symref", "--", remote.url, "HEAD"])
            .await?;
        out.lines()
            .find_map(|line| {
                line.strip_prefix("ref: refs/heads/")
                    .and_then(|rest| rest.split('\t').next())
                    .map(str::to_string)
            })
            .ok_or(GitError::NoCommits)
    }

    /// The commit the branch points to; `None` if there is no such branch.
    pub async fn head(
        &self,
        remote: &Remote<'_>,
        branch: &str,
    ) -> Result<Option<String>, GitError> {
        let reference = format!("refs/heads/{branch}");
        let out = self
            .remote_command(remote, &["ls-remote", "--", remote.url, &reference])
            .await?;
        Ok(out.lines().find_map(|line| {
            let (sha, name) = line.split_once('\t')?;
            (name == reference).then(|| sha.to_string())
        }))
    }

    /// Brings the app's mirror up to date with the branch (a failure is
    /// counted: `dscloud_git_fetch_fail_total`).
    pub async fn fetch(
        &self,
        mirror: &Path,
        remote: &Remote<'_>,
        branch: &str,
    ) -> Result<(), GitError> {
        let fetched = self.fetch_into(mirror, remote, branch).await;
        if fetched.is_err() {
            crate::metrics::git_fetch_failed();
        }
        fetched
    }

    async fn fetch_into(
        &self,
        mirror: &Path,
        remote: &Remote<'_>,
        branch: &str,
    ) -> Result<(), GitError> {
        if !mirror.join("HEAD").exists() {
            tokio::fs::create_dir_all(mirror)
                .await
                .map_err(|error| GitError::Failed(format!("cannot create the mirror: {error}")))?;
            self.local(mirror, &["init", "--bare", "--quiet"]).await?;
        }
        let refspec = format!("+refs/heads/{branch}:refs/heads/{branch}");
        let directory = mirror.display().to_string();
        self.remote_command(
            remote,
            &[
                "--git-dir",
                &directory,
                "fetch",
                "--quiet",
                "--no-tags",
                "--prune",
                "--",
                remote.url,
                &refspec,
            ],
        )
        .await?;
        Ok(())
    }

    /// The commits reachable from `to` but not from `from`, newest first, at
    /// most `MAX_COMMITS` (and whether there were more).
    pub async fn commits(
        &self,
        mirror: &Path,
        from: Option<&str>,
        to: &str,
    ) -> Result<(Vec<CommitInfo>, bool), GitError> {
        let range = match from {
            Some(from) => format!("{from}..{to}"),
            None => to.to_string(),
        };
        let limit = format!("--max-count={}", MAX_COMMITS + 1);
        let out = self
            .local(
                mirror,
                &[
                    "log",
                    &limit,
                    "--format=%H%x1f%s%x1f%an%x1f%ae%x1f%cI%x1e",
                    &range,
                    "--",
                ],
            )
            .await?;
        let mut commits: Vec<CommitInfo> = out
            .split('\u{1e}')
            .filter_map(|record| {
                let mut fields = record.trim_start_matches('\n').split('\u{1f}');
                Some(CommitInfo {
                    sha: fields.next().filter(|sha| !sha.is_empty())?.to_string(),
                    subject: fields.next()?.to_string(),
                    author: fields.next()?.to_string(),
                    author_email: fields.next()?.to_string(),
                    committed_at: fields.next()?.trim().to_string(),
                })
            })
            .collect();
        let more = commits.len() > MAX_COMMITS;
        commits.truncate(MAX_COMMITS);
        Ok((commits, more))
    }

    /// Whether `ancestor` is in `descendant`'s history (false when either is unknown).
    pub async fn is_ancestor(&self, mirror: &Path, ancestor: &str, descendant: &str) -> bool {
        self.local(
            mirror,
            &["merge-base", "--is-ancestor", ancestor, descendant],
        )
        .await
        .is_ok()
    }

    /// A file's text at a commit; `Ok(None)` when the commit has no such file.
    pub async fn file_at(
        &self,
        mirror: &Path,
        commit: &str,
        path: &str,
    ) -> Result<Option<FileAt>, GitError> {
        let object = format!("{commit}:{path}");
        let size = match self.local(mirror, &["cat-file", "-s", &object]).await {
            Ok(size) => size.trim().parse::<u64>().unwrap_or(u64::MAX),
            Err(GitError::Failed(_)) => return Ok(None),
            Err(other) => return Err(other),
        };
        if size > MAX_FILE_BYTES {
            return Ok(Some(FileAt::TooLarge(size)));
        }
        let text = self.local(mirror, &["cat-file", "blob", &object]).await?;
        Ok(Some(FileAt::Text(text)))
    }

    /// A command against a remote: credentials given through the
    /// environment, never on the command line.
    async fn remote_command(&self, remote: &Remote<'_>, args: &[&str]) -> Result<String, GitError> {
        let mut command = self.command();
        let _key_file;
        match remote.credentials {
            Some(Credentials::Token(token)) => {
                let basic = base64::engine::general_purpose::STANDARD
                    .encode(format!("x-access-token:{}", token.expose_secret()));
                command
                    .env("GIT_CONFIG_COUNT", "1")
                    .env("GIT_CONFIG_KEY_0", "http.extraHeader")
                    .env(
                        "GIT_CONFIG_VALUE_0",
                        format!("Authorization: Basic {basic}"),
                    );
            }
            Some(Credentials::SshKey(key)) => {
                let file = private_key_file(&self.root, key).map_err(|error| {
                    GitError::Failed(format!("cannot hold the SSH key: {error}"))
                })?;
                command.env(
                    "GIT_SSH_COMMAND",
                    format!(
                        "ssh -i '{}' -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile='{}'",
                        file.path().display(),
                        self.root.join("known_hosts").display()
                    ),
                );
                _key_file = file;
            }
            None => {}
        }
        command.args(args);
        self.run(command).await.map_err(classify)
    }

    async fn local(&self, mirror: &Path, args: &[&str]) -> Result<String, GitError> {
        let mut command = self.command();
        command.arg("--git-dir").arg(mirror).args(args);
        self.run(command).await
    }

    fn command(&self) -> Command {
        let mut command = Command::new("git");
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.root)
            .env("LANG", "C")
            .env("LC_ALL", "C")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_ASKPASS", "true")
            .env("SSH_ASKPASS", "true")
            .args(["-c", "credential.helper=", "-c", "protocol.allow=never"])
            .args([
                "-c",
                "protocol.https.allow=always",
                "-c",
                "protocol.http.allow=always",
            ])
            .args([
                "-c",
                "protocol.ssh.allow=always",
                "-c",
                "protocol.file.allow=always",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    /// Runs git to its end, or kills it at the deadline.
    async fn run(&self, mut command: Command) -> Result<String, GitError> {
        let mut child = command
            .spawn()
            .map_err(|error| GitError::Failed(format!("cannot run git: {error}")))?;
        let mut stdout = child.stdout.take();
        let mut stderr = child.stderr.take();
        let work = async {
            let mut out = Vec::new();
            let mut err = Vec::new();
            let read_out = async {
                if let Some(pipe) = stdout.as_mut() {
                    let _ = pipe.take(OUTPUT_LIMIT as u64).read_to_end(&mut out).await;
                }
            };
            let read_err = async {
                if let Some(pipe) = stderr.as_mut() {
                    let _ = pipe.take(64 * 1024).read_to_end(&mut err).await;
                }
            };
            tokio::join!(read_out, read_err);
            let status = child.wait().await;
            (status, out, err)
        };
        let (status, out, err) = tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| GitError::Timeout(self.timeout))?;
        let status = status.map_err(|error| GitError::Failed(error.to_string()))?;
        if status.success() {
            Ok(String::from_utf8_lossy(&out).into_owned())
        } else {
            Err(GitError::Failed(explain(&String::from_utf8_lossy(&err))))
        }
    }
}

/// git's own words, for people: its first `fatal:` or `error:` line (the
/// one that says what happened), else its last line.
fn explain(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    let line = lines
        .iter()
        .find(|line| line.starts_with("fatal:") || line.starts_with("error:"))
        .or(lines.last())
        .copied()
        .unwrap_or("it said nothing");
    line.trim_start_matches("fatal:")
        .trim_start_matches("error:")
        .trim()
        .chars()
        .take(500)
        .collect()
}

/// A file read at a commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileAt {
    Text(String),
    /// Too large to read: its size in bytes.
    TooLarge(u64),
}

/// Turns git's last words into what people can act on.
fn classify(error: GitError) -> GitError {
    let GitError::Failed(message) = &error else {
        return error;
    };
    let lower = message.to_lowercase();
    if [
        "authentication failed",
        "could not read username",
        "permission denied",
        "401",
        "403",
        "terminal prompts disabled",
    ]
    .iter()
    .any(|sign| lower.contains(sign))
    {
        GitError::AuthenticationRefused(message.clone())
    } else if [
        "could not resolve host",
        "connection refused",
        "couldn't connect",
        "failed to connect",
        "does not appear to be a git repository",
        "not found",
        "no such file",
        "network is unreachable",
        "timed out",
    ]
    .iter()
    .any(|sign| lower.contains(sign))
    {
        GitError::Unreachable(message.clone())
    } else {
        error
    }
}

/// The SSH key in a 0600 file for one command, removed when dropped.
fn private_key_file(root: &Path, key: &SecretString) -> std::io::Result<tempfile::NamedTempFile> {
    use std::io::Write as _;
    std::fs::create_dir_all(root)?;
    let mut file = tempfile::Builder::new().prefix(".key-").tempfile_in(root)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(key.expose_secret().as_bytes())?;
    if !key.expose_secret().ends_with('\n') {
        file.write_all(b"\n")?;
    }
    file.flush()?;
    Ok(file)
}

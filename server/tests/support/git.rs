//! Real git repositories for tests: a working copy that commits and pushes
//! to a bare repository, served as `file://` and over HTTP by git's own
//! `git http-backend` (a CGI program, run here per request), optionally
//! behind a token.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use tokio::io::AsyncWriteExt as _;

/// Runs git in `dir`; panics with its output when it fails.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = std::process::Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// A repository: a bare one (the "remote") and a working copy pushing to it.
pub struct Repository {
    pub root: tempfile::TempDir,
    pub bare: PathBuf,
    pub work: PathBuf,
}

impl Repository {
    /// An empty repository whose default branch is `main`.
    pub fn new() -> Repository {
        let root = tempfile::tempdir().unwrap();
        let bare = root.path().join("app.git");
        let work = root.path().join("work");
        std::fs::create_dir_all(&work).unwrap();
        git(
            root.path(),
            &[
                "init",
                "--quiet",
                "--bare",
                "--initial-branch=main",
                "app.git",
            ],
        );
        // Like a forge: a branch may be deleted even when it is the default.
        git(&bare, &["config", "receive.denyDeleteCurrent", "ignore"]);
        git(&work, &["init", "--quiet", "--initial-branch=main"]);
        git(&work, &["config", "user.name", "Dana Developer"]);
        git(&work, &["config", "user.email", "dana@example.test"]);
        git(&work, &["remote", "add", "origin", bare.to_str().unwrap()]);
        Repository { root, bare, work }
    }

    /// `file:///…/app.git`
    pub fn url(&self) -> String {
        format!("file://{}", self.bare.display())
    }

    /// Writes the files and commits them; returns the commit's SHA.
    pub fn commit(&self, files: &[(&str, &str)], message: &str) -> String {
        for (path, content) in files {
            let path = self.work.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
        git(&self.work, &["add", "--all"]);
        git(
            &self.work,
            &["commit", "--quiet", "--allow-empty", "-m", message],
        );
        git(&self.work, &["rev-parse", "HEAD"])
    }

    pub fn push(&self, branch: &str) {
        git(
            &self.work,
            &[
                "push",
                "--quiet",
                "--force",
                "origin",
                &format!("HEAD:refs/heads/{branch}"),
            ],
        );
    }

    /// Rewrites history: the last commit replaced by another.
    pub fn amend(&self, message: &str) -> String {
        git(
            &self.work,
            &[
                "commit",
                "--quiet",
                "--amend",
                "--allow-empty",
                "-m",
                message,
            ],
        );
        git(&self.work, &["rev-parse", "HEAD"])
    }

    pub fn delete_branch(&self, branch: &str) {
        git(
            &self.work,
            &[
                "push",
                "--quiet",
                "origin",
                &format!(":refs/heads/{branch}"),
            ],
        );
    }
}

/// A valid `dscloud.yaml` with one microservice.
pub const VALID_FILE: &str = "microservices:\n  orders-api:\n    description: Orders\n    environmentConfiguration:\n      dev:\n        LOG_LEVEL: debug\n";

/// A `dscloud.yaml` with a typo the checks name at line 3.
pub const BROKEN_FILE: &str = "microservices:\n  orders-api:\n    secretValue:\n      - TOKEN\n";

#[derive(Clone)]
struct Served {
    root: PathBuf,
    token: Option<String>,
}

/// Serves the bare repositories under `root` over HTTP on loopback; with a
/// token, only to requests that carry it (as a Basic password).
pub async fn serve_http(root: &Path, token: Option<&str>) -> String {
    let served = Served {
        root: root.to_path_buf(),
        token: token.map(str::to_string),
    };
    let app = axum::Router::new().fallback(cgi).with_state(served);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{address}")
}

async fn cgi(State(served): State<Served>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    if let Some(token) = &served.token
        && !authorized(&parts.headers, token)
    {
        return (
            StatusCode::UNAUTHORIZED,
            [("www-authenticate", "Basic realm=\"git\"")],
            "authentication required",
        )
            .into_response();
    }
    let body: Bytes = axum::body::to_bytes(body, 64 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let mut child = tokio::process::Command::new("git")
        .arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_PROJECT_ROOT", &served.root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("PATH_INFO", parts.uri.path())
        .env("QUERY_STRING", parts.uri.query().unwrap_or(""))
        .env("REQUEST_METHOD", parts.method.as_str())
        .env(
            "CONTENT_TYPE",
            parts
                .headers
                .get("content-type")
                .and_then(|value| value.to_str().ok())
                .unwrap_or(""),
        )
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("REMOTE_USER", "tester")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&body).await.unwrap();
    drop(stdin);
    let output = child.wait_with_output().await.unwrap();
    let text = output.stdout;
    let split = text
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map(|at| (at, 4))
        .or_else(|| {
            text.windows(2)
                .position(|window| window == b"\n\n")
                .map(|at| (at, 2))
        });
    let Some((at, gap)) = split else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let head = String::from_utf8_lossy(&text[..at]).to_string();
    let mut response = Response::builder().status(StatusCode::OK);
    for line in head.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code = value
                .split_whitespace()
                .next()
                .and_then(|code| code.parse().ok())
                .unwrap_or(200);
            response = response.status(code);
        } else {
            response = response.header(name, value);
        }
    }
    response
        .body(Body::from(text[at + gap..].to_vec()))
        .unwrap()
}

fn authorized(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
        .and_then(|encoded| {
            base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()
        })
        .and_then(|decoded| String::from_utf8(decoded).ok())
        .is_some_and(|pair| {
            pair.split_once(':')
                .is_some_and(|(_, password)| password == token)
        })
}

//! What the kubectl suites share: a sandbox served on loopback, the real
//! kubectl (`/usr/bin/kubectl`, on every machine of this kind) pointed at it,
//! and the operator CRDs from `../shared/crds`.

#![allow(dead_code)] // each suite uses its part

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use sandbox::Sandbox;
use tokio::io::{AsyncBufReadExt, BufReader};

/// The served sandbox's bearer token, in every kubeconfig here.
pub const TOKEN: &str = "kubectl-test-token";
const KUBECTL: &str = "/usr/bin/kubectl";

pub struct Kubectl {
    pub kubeconfig: PathBuf,
    directory: tempfile::TempDir,
}

impl Kubectl {
    /// A sandbox without controllers, served.
    pub async fn start() -> Kubectl {
        Kubectl::serving(Sandbox::new()).await
    }

    pub async fn serving(sandbox: Sandbox) -> Kubectl {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let served = sandbox.serve(listener, TOKEN).await.unwrap();
        let directory = tempfile::tempdir().unwrap();
        let kubeconfig = directory.path().join("kubeconfig");
        std::fs::write(&kubeconfig, served.kubeconfig()).unwrap();
        Kubectl {
            kubeconfig,
            directory,
        }
    }

    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.directory.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn command(&self, arguments: &[&str]) -> tokio::process::Command {
        assert!(
            Path::new(KUBECTL).exists(),
            "kubectl is part of this machine kind; it must be at {KUBECTL}"
        );
        let mut command = tokio::process::Command::new(KUBECTL);
        command
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(arguments)
            .kill_on_drop(true);
        command
    }

    /// Runs to the end, within 60 s: a command that hangs fails the test.
    pub async fn run(&self, arguments: &[&str]) -> Output {
        self.run_with(arguments, &[]).await
    }

    pub async fn run_with(&self, arguments: &[&str], environment: &[(&str, &str)]) -> Output {
        let mut command = self.command(arguments);
        command.envs(environment.iter().copied());
        tokio::time::timeout(Duration::from_secs(60), command.output())
            .await
            .unwrap_or_else(|_| panic!("kubectl {arguments:?} did not end within 60 s"))
            .unwrap()
    }

    /// Runs and expects success; returns standard output.
    pub async fn ok(&self, arguments: &[&str]) -> String {
        let output = self.run(arguments).await;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "kubectl {arguments:?} failed:\n{stdout}\n{stderr}"
        );
        stdout
    }

    /// Runs and expects failure; returns standard error.
    pub async fn fails(&self, arguments: &[&str]) -> String {
        let output = self.run(arguments).await;
        assert!(
            !output.status.success(),
            "kubectl {arguments:?} should have failed:\n{}",
            String::from_utf8_lossy(&output.stdout)
        );
        String::from_utf8_lossy(&output.stderr).into_owned()
    }

    /// An object as JSON.
    pub async fn json(&self, arguments: &[&str]) -> serde_json::Value {
        let mut arguments = arguments.to_vec();
        arguments.extend(["-o", "json"]);
        serde_json::from_str(&self.ok(&arguments).await).unwrap()
    }

    /// Polls `kubectl get … -o json` until `done` holds, for at most 20 s.
    pub async fn eventually(
        &self,
        arguments: &[&str],
        what: &str,
        done: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let object = self.json(arguments).await;
            if done(&object) {
                return object;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what}: not within 20 s; last seen {object:#}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Starts a command that keeps running (`get -w`, `logs -f`) and
    /// returns its output lines as they come; it is killed when dropped.
    pub fn stream(&self, arguments: &[&str]) -> Streaming {
        let mut child = self
            .command(arguments)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        Streaming {
            lines: BufReader::new(stdout).lines(),
            log: BufReader::new(stderr).lines(),
            child,
        }
    }
}

pub struct Streaming {
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    /// kubectl's own log (stderr), where `-v=6` names every request it makes.
    log: tokio::io::Lines<BufReader<tokio::process::ChildStderr>>,
    pub child: tokio::process::Child,
}

impl Streaming {
    /// Reads lines until one contains `text`, for at most 20 s; returns the lines read.
    pub async fn until(&mut self, text: &str) -> Vec<String> {
        until_in(&mut self.lines, text).await
    }

    /// Reads kubectl's log until a line contains `text` (at most 20 s), e.g.
    /// with `-v=6`, the request that opened a watch.
    pub async fn until_logged(&mut self, text: &str) -> Vec<String> {
        until_in(&mut self.log, text).await
    }

    /// Reads to the end, for at most 20 s; returns the remaining lines.
    pub async fn rest(&mut self) -> Vec<String> {
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while let Some(line) = tokio::time::timeout_at(deadline, self.lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("still running after 20 s; saw {seen:#?}"))
            .unwrap()
        {
            seen.push(line);
        }
        seen
    }
}

/// Reads `lines` until one contains `text`, for at most 20 s; returns the lines read.
async fn until_in<R: tokio::io::AsyncBufRead + Unpin>(
    lines: &mut tokio::io::Lines<R>,
    text: &str,
) -> Vec<String> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let line = tokio::time::timeout_at(deadline, lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("no line with {text:?} within 20 s; saw {seen:#?}"))
            .unwrap();
        let Some(line) = line else {
            panic!("the output ended without {text:?}; saw {seen:#?}");
        };
        let found = line.contains(text);
        seen.push(line);
        if found {
            return seen;
        }
    }
}

/// A CRD from `../shared/crds` (test data, not optional).
pub fn crd_file(name: &str) -> PathBuf {
    let directory = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/crds");
    assert!(
        directory.is_dir(),
        "the operator CRDs must be at {} (../shared/crds from the project root); they are test data, not optional",
        directory.display()
    );
    directory.join(name)
}

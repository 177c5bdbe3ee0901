//! The `portal` binary run as an operator runs it, for the suites that
//! need the real process: started on a free port, its log read, stopped
//! with SIGTERM, and killed when a test fails half-way.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

pub fn portal() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_portal"));
    command
        .env_remove("DATABASE_URL")
        .env_remove("PORTAL_DATA_DIR");
    command
}

/// Creates a local user with `portal admin create-user`, the password on
/// standard input, as an operator would before the first start.
pub fn create_user(data_dir: &std::path::Path, username: &str, role: &str, password: &str) {
    use std::io::Write as _;
    let mut create = portal()
        .arg("--data-dir")
        .arg(data_dir)
        .args([
            "admin",
            "create-user",
            username,
            "--role",
            role,
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    writeln!(create.stdin.take().unwrap(), "{password}").unwrap();
    assert!(
        create.wait().unwrap().success(),
        "admin create-user {username}"
    );
}

pub struct Running {
    pub child: Child,
    pub lines: mpsc::Receiver<String>,
    pub log: Vec<String>,
}

/// A test that fails half-way must not leave its portal running.
impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Running {
    pub fn start(extra: &[&str]) -> (Running, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        (Running::start_in(dir.path(), extra), dir)
    }

    pub fn start_in(data_dir: &std::path::Path, extra: &[&str]) -> Running {
        Running::start_with(data_dir, extra, &[])
    }

    /// As [`Running::start_in`], with these environment variables set.
    pub fn start_with(
        data_dir: &std::path::Path,
        extra: &[&str],
        environment: &[(&str, &str)],
    ) -> Running {
        let mut child = portal()
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .envs(environment.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            lines,
            log: Vec::new(),
        }
    }

    /// Reads log lines until one contains `needle`.
    pub fn wait_for(&mut self, needle: &str) -> String {
        loop {
            match self.lines.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => {
                    self.log.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!("no log line with {needle:?}; log so far:\n{:#?}", self.log),
            }
        }
    }

    pub fn address(&mut self) -> String {
        let line = self.wait_for("serving on http://");
        let start = line.find("http://").unwrap();
        line[start..]
            .split_whitespace()
            .next()
            .unwrap()
            .trim_matches('"')
            .to_string()
    }

    pub fn terminate(&mut self) -> std::process::ExitStatus {
        sigterm(&self.child);
        for _ in 0..100 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        panic!("the portal did not stop within 10 s of SIGTERM");
    }
}

/// Sends SIGTERM, as an operator or Kubernetes stops the portal.
pub fn sigterm(child: &Child) {
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
}

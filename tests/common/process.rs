//! The real `tsapi serve` binary in a process of its own, for what only a process shows:
//! signals, exit codes, logs on stderr, peak memory.

use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// The database settings a test's environment might carry in; a spawned server gets only
/// what the test gives it.
const DATABASE_VARIABLES: [&str; 7] = [
    "DATABASE_URL",
    "DB_HOST",
    "DB_PORT",
    "DB_NAME",
    "DB_USER",
    "DB_PASS",
    "DB_SSLMODE",
];

/// The `tsapi` binary, with no database setting from the test's own environment.
pub fn tsapi_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tsapi"));
    for variable in DATABASE_VARIABLES {
        command.env_remove(variable);
    }
    command
}

/// A free loopback address, e.g. `127.0.0.1:40123`.
/// Runs `tsapi ARGS` against `database_url`: its standard output, or a panic that shows
/// its standard error.
pub fn run_ok(args: &[&str], database_url: &str) -> String {
    let out = tsapi_command()
        .args(args)
        .env("DATABASE_URL", database_url)
        .output();
    let out = out.expect("run tsapi");
    match out.status.success() {
        true => String::from_utf8_lossy(&out.stdout).into_owned(),
        false => panic!(
            "tsapi {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

pub fn free_address() -> String {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    probe.local_addr().expect("local address").to_string()
}

/// A running `tsapi serve`; killed when dropped, unless [`ServerProcess::finish`] ran.
pub struct ServerProcess {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    child: Option<Child>,
}

impl ServerProcess {
    /// Starts `tsapi serve` over `database_url` with `env` on a free port (stderr kept for
    /// [`ServerProcess::finish`]), and waits until `/healthz` answers.
    pub async fn start(database_url: &str, env: &[(&str, &str)]) -> Self {
        let listen = free_address();
        let child = tsapi_command()
            .arg("serve")
            .env("DATABASE_URL", database_url)
            .env("TSAPI_LISTEN", &listen)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tsapi serve");
        let server = Self {
            base: format!("http://{listen}"),
            child: Some(child),
        };
        server.wait_until_live().await;
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    async fn wait_until_live(&self) {
        let http = reqwest::Client::new();
        let started = Instant::now();
        while http.get(self.url("/healthz")).send().await.is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "tsapi serve did not start within 20 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends a signal by name (`TERM`, `HUP`, ...).
    pub fn signal(&self, name: &str) {
        let sent = Command::new("kill")
            .args([&format!("-{name}"), &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -{name} failed");
    }

    /// A line of `/proc/PID/status`, in kB: `VmHWM` is the peak resident memory.
    pub fn memory_kb(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("read /proc/PID/status");
        status
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc/PID/status"))
    }

    /// How the process exited, if it has.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .expect("running")
            .try_wait()
            .expect("poll tsapi")
    }

    /// Waits until the process exits by itself, at most `limit`; `None` if it did not.
    pub async fn exit_within(&mut self, limit: Duration) -> Option<ExitStatus> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self.try_wait() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    /// Stops the server with SIGTERM and returns how it exited, with its stderr.
    pub fn finish(mut self) -> Output {
        self.signal("TERM");
        self.child
            .take()
            .expect("running")
            .wait_with_output()
            .expect("wait for tsapi")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

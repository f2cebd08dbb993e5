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

/// Runs `command` to its end, which must succeed; returns what it wrote.
pub fn run_ok(command: &mut Command) -> Output {
    let out = command.output().expect("run the command");
    assert!(
        out.status.success(),
        "{command:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `tsapi ARGS` over `database_url`, which must succeed; returns its standard output.
pub fn tsapi_ok(args: &[&str], database_url: &str) -> String {
    let out = run_ok(tsapi_command().args(args).env("DATABASE_URL", database_url));
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Runs `tsapi keygen` and returns (key, configuration entry): two lines, nothing else.
pub fn keygen(name: &str, scopes: &str) -> (String, String) {
    let out = run_ok(tsapi_command().args(["keygen", "--name", name, "--scopes", scopes]));
    let stdout = String::from_utf8(out.stdout).expect("UTF-8 output");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    (lines[0].to_owned(), lines[1].to_owned())
}

/// `tsapi demo-data` for two days of AAPL and MSFT from Thursday 2021-11-11: 1,560 bars.
pub const DEMO_TWO_DAYS: [&str; 7] = [
    "demo-data",
    "--symbols",
    "AAPL,MSFT",
    "--days",
    "2",
    "--from",
    "2021-11-11",
];

/// A free loopback address, e.g. `127.0.0.1:40123`.
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
        Self::start_with(database_url, env, |_| {}).await
    }

    /// [`ServerProcess::start`], with the command changed by `adjust` first (a working
    /// directory, a variable removed, stderr elsewhere).
    pub async fn start_with(
        database_url: &str,
        env: &[(&str, &str)],
        adjust: impl FnOnce(&mut Command),
    ) -> Self {
        let listen = free_address();
        let mut command = tsapi_command();
        command
            .arg("serve")
            .env("DATABASE_URL", database_url)
            .env("TSAPI_LISTEN", &listen)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        adjust(&mut command);
        let child = command.spawn().expect("start tsapi serve");
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

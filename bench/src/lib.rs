//! Workloads for wsduplex's benchmarks (`cargo bench -p wsduplex-bench`), each with the
//! baselines it is compared against in the same run: a plain copy, raw TCP, tungstenite,
//! tokio-tungstenite.
//!
//! Every workload checks its own result (bytes acknowledged, echoes counted), so a benchmark
//! that stops doing the work fails instead of getting faster. See BENCHMARKS.md for the
//! figures and how to reproduce them.

pub mod echo;
pub mod echo_pair;
pub mod many;
pub mod raw;
pub mod rss;
pub mod runtime;
pub mod seed;
pub mod text_stream;
pub mod tokio_pair;

/// A failed workload: what went wrong, for the benchmark's panic message.
pub type Failure = String;

/// Turns any error into a [`Failure`] that says where it happened.
pub fn fail<E: std::fmt::Display>(what: &'static str) -> impl FnOnce(E) -> Failure {
    move |e| format!("{what}: {e}")
}

/// Raises this process's soft limit on open files to its hard limit: the benchmarks that hold
/// 10 000 connections need more than the 1 024 many systems start a process with. A child
/// process inherits it.
pub fn raise_fd_limit() -> Result<(), Failure> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        setrlimit(Resource::Nofile, rustix::process::Rlimit { current: limit.maximum, ..limit })
            .map_err(fail("raising the open files limit"))?;
    }
    Ok(())
}

/// The `main` of a benchmark whose servers run in child processes (this binary, re-executed
/// with `role_var` set): `child` with the role in a child, `parent` otherwise, after raising
/// the open-files limit. A failure is printed under `name` and exits 1.
pub fn main_with_children(
    name: &str,
    role_var: &str,
    child: impl FnOnce(&str) -> Result<(), Failure>,
    parent: impl FnOnce() -> Result<(), Failure>,
) {
    let result = raise_fd_limit().and_then(|()| match std::env::var(role_var) {
        Ok(role) => child(&role),
        Err(_) => parent(),
    });
    if let Err(e) = result {
        eprintln!("{name}: {e}");
        std::process::exit(1);
    }
}

/// A server in a child process: this binary re-executed with `envs` (its role among them),
/// which prints `listening ADDR [WORDS...]` first on its stdout. Its stdin is a pipe nobody
/// writes to: it ends when this process does, which a child can watch to end with it.
pub struct ServerChild {
    /// The process.
    pub child: std::process::Child,
    /// The rest of its stdout.
    pub out: std::io::BufReader<std::process::ChildStdout>,
    /// Where it listens.
    pub addr: std::net::SocketAddr,
    /// The words after the address on its first line.
    pub words: Vec<String>,
}

impl ServerChild {
    /// Starts the child and reads its first line; its stderr goes to `stderr`.
    pub fn start(envs: &[(&str, String)], stderr: std::process::Stdio) -> Result<ServerChild, Failure> {
        let exe = std::env::current_exe().map_err(fail("current_exe"))?;
        ServerChild::start_exe(&exe, envs, stderr)
    }

    /// The same with another build of this benchmark (`exe`): an A/B of two builds.
    pub fn start_exe(
        exe: &std::path::Path,
        envs: &[(&str, String)],
        stderr: std::process::Stdio,
    ) -> Result<ServerChild, Failure> {
        use std::io::BufRead;
        let mut child = std::process::Command::new(exe)
            .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(fail("spawn server"))?;
        let mut out = std::io::BufReader::new(child.stdout.take().ok_or("no child stdout")?);
        let mut line = String::new();
        out.read_line(&mut line).map_err(fail("child stdout"))?;
        let rest = line.trim().strip_prefix("listening ").ok_or_else(|| format!("bad first line {line:?}"))?;
        let mut words = rest.split_whitespace().map(str::to_owned);
        let addr = words.next().and_then(|a| a.parse().ok()).ok_or_else(|| format!("bad first line {line:?}"))?;
        Ok(ServerChild { child, out, addr, words: words.collect() })
    }

    /// The next line of its stdout (its whole lines come in one write each), within `bound`.
    pub fn next_line(&mut self, bound: std::time::Duration) -> Result<String, Failure> {
        use rustix::event::{PollFd, PollFlags, Timespec, poll};
        use std::io::BufRead;
        if self.out.buffer().is_empty() {
            let timeout = Timespec { tv_sec: bound.as_secs() as i64, tv_nsec: bound.subsec_nanos() as _ };
            let mut fds = [PollFd::new(self.out.get_ref(), PollFlags::IN)];
            if poll(&mut fds, Some(&timeout)).map_err(fail("poll child stdout"))? == 0 {
                return Err(format!("no word from the server within {bound:?}"));
            }
        }
        let mut line = String::new();
        self.out.read_line(&mut line).map_err(fail("child stdout"))?;
        if line.is_empty() {
            return Err("the server process ended".into());
        }
        Ok(line)
    }

    /// The first word after the address, parsed.
    pub fn word<T: std::str::FromStr>(&self) -> Result<T, Failure> {
        self.words.first().and_then(|w| w.parse().ok()).ok_or_else(|| format!("bad words {:?}", self.words))
    }
}

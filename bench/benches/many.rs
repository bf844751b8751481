//! Many connections, one message in flight on each (issue 17, item 2): N = 100 and 1 000
//! connections to each server, payloads of 20 B, 1 KiB and 16 KiB, echoes per second.
//!
//! `cargo bench -p wsduplex-bench --bench many` (`MANY_ROUNDS=R`, default 5; `MANY_N=100,1000`;
//! `MANY_SIZES=20,1024,16384` to choose; `MANY_M`, echoes per run; `MANY_BASELINE=PATH`, a copy of an earlier build of this
//! benchmark's binary, runs each wsduplex server of that build too, as `NAME@baseline`: a
//! change measured side by side with the build before it).
//!
//! Not a criterion benchmark: criterion measures one function after another, and this machine's
//! speed drifts between them. Here every server runs at once in a child process of its own (this
//! binary, re-executed) pinned to one core, the load generator ([`Load`]: raw epoll, one thread)
//! pinned to the other, and the servers take turns within each round, so that each ratio is
//! between runs made side by side. The table gives, per server: the median rate over the
//! rounds; its ratio to fastwebsockets and to tokio-tungstenite as the median of the per-round
//! ratios (with their range); the server's CPU per echo; the client's CPU as a share of the wall
//! time (near 100%, the client was the bottleneck and the ratios say nothing); the server's RSS
//! per connection at the end (what it grew by since it started listening, divided by N).

use std::io::Write;
use std::net::SocketAddr;
use std::process::{Child, Stdio};

use rustix::thread::{CpuSet, sched_setaffinity};
use wsduplex_bench::many::{Load, Run, Server};
use wsduplex_bench::{Failure, ServerChild, fail, rss};

const ROLE: &str = "WSDUPLEX_BENCH_MANY_SERVER";

fn main() {
    wsduplex_bench::main_with_children("many", ROLE, child, parent);
}

const CORE: &str = "WSDUPLEX_BENCH_MANY_CORE";

/// The core the servers run on, and the one the load generator runs on. Asked before the
/// parent pins itself: a child inherits the parent's one core, and would count only that.
fn cores() -> Option<(usize, usize)> {
    let n = std::thread::available_parallelism().map_or(1, |n| n.get());
    (n >= 2).then_some((1, 0))
}

fn pin(core: usize) -> Result<(), Failure> {
    let mut set = CpuSet::new();
    set.set(core);
    sched_setaffinity(None, &set).map_err(fail("sched_setaffinity"))
}

// ---- child: one server ------------------------------------------------------------------

fn child(role: &str) -> Result<(), Failure> {
    let server = Server::named(role).ok_or_else(|| format!("unknown server {role}"))?;
    // Before any runtime starts a thread: they inherit it, and size themselves by it.
    if let Some(core) = std::env::var(CORE).ok().and_then(|c| c.parse().ok()) {
        pin(core)?;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(fail("bind"))?;
    let addr = listener.local_addr().map_err(fail("local_addr"))?;
    let rss = rss::read(None)?;
    println!("listening {addr} {}", rss.current_kib);
    std::io::stdout().flush().map_err(fail("stdout"))?;
    server.serve(listener)
}

// ---- parent: the load and the table ------------------------------------------------------

struct Child_ {
    server: Server,
    /// Run from the `MANY_BASELINE` build.
    baseline: bool,
    child: Child,
    addr: SocketAddr,
    start_kib: u64,
}

impl Child_ {
    fn start(server: Server, core: Option<usize>, baseline: Option<&std::path::Path>) -> Result<Child_, Failure> {
        let mut envs = vec![(ROLE, server.name().to_owned())];
        envs.extend(core.map(|c| (CORE, c.to_string())));
        // Each server logs the connections dropped at the end: not worth showing.
        let s = match baseline {
            Some(exe) => ServerChild::start_exe(exe, &envs, Stdio::null())?,
            None => ServerChild::start(&envs, Stdio::null())?,
        };
        let start_kib = s.word()?;
        Ok(Child_ { server, baseline: baseline.is_some(), child: s.child, addr: s.addr, start_kib })
    }

    fn name(&self) -> String {
        if self.baseline { format!("{}@baseline", self.server.name()) } else { self.server.name().to_owned() }
    }

    /// User and system CPU time of the whole process so far, in seconds.
    fn cpu(&self) -> Result<(f64, f64), Failure> {
        let path = format!("/proc/{}/stat", self.child.id());
        let stat = std::fs::read_to_string(&path).map_err(fail("reading /proc stat"))?;
        // Fields after the command name (which may hold spaces), from field 3 on.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).ok_or_else(|| format!("{path}: {stat:?}"))?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).ok_or(format!("{path}: field {i}"));
        // utime and stime are fields 14 and 15; `rest` starts at field 3.
        let hz = rustix::param::clock_ticks_per_second() as f64;
        Ok((ticks(11)? as f64 / hz, ticks(12)? as f64 / hz))
    }
}

impl Drop for Child_ {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn list<T: std::str::FromStr + Clone>(var: &str, default: &[T]) -> Result<Vec<T>, Failure> {
    match std::env::var(var) {
        Ok(v) => v.split(',').map(|x| x.trim().parse().map_err(|_| format!("{var}: bad {x:?}"))).collect(),
        Err(_) => Ok(default.to_vec()),
    }
}

/// Echoes per run: enough for a run of about half a second at the rates these servers reach
/// (`MANY_M` sets it: small, for a server run under a profiler such as callgrind).
fn messages(size: usize) -> u64 {
    if let Some(m) = std::env::var("MANY_M").ok().and_then(|m| m.parse().ok()) {
        return m;
    }
    match size {
        0..=1024 => 100_000,
        _ => 40_000,
    }
}

struct Sample {
    run: Run,
    /// The server's user and system CPU time in the run, in seconds.
    server_cpu: (f64, f64),
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

fn parent() -> Result<(), Failure> {
    // `cargo bench` passes `--bench`; anything else this harness does not take.
    let rounds: usize = list("MANY_ROUNDS", &[5])?.first().copied().unwrap_or(5);
    let ns: Vec<usize> = list("MANY_N", &[100, 1000])?;
    let sizes: Vec<usize> = list("MANY_SIZES", &[20, 1024, 16384])?;
    // `MANY_SERVERS=wsduplex-smol` runs one alone: to profile it (`perf record -p`, `strace -c -p`).
    let names: Vec<String> = list("MANY_SERVERS", &Server::ALL.map(|s| s.name().to_owned()))?;
    let chosen: Vec<Server> = names
        .iter()
        .map(|n| Server::named(n).ok_or_else(|| format!("MANY_SERVERS: no server {n}")))
        .collect::<Result<_, _>>()?;
    let baseline = std::env::var_os("MANY_BASELINE").map(std::path::PathBuf::from);
    let mut runs: Vec<(Server, Option<&std::path::Path>)> = chosen.iter().map(|&s| (s, None)).collect();
    if let Some(exe) = &baseline {
        let ours = chosen.iter().filter(|&&s| s.name().starts_with("wsduplex") && s != Server::CoreByHand);
        runs.extend(ours.map(|&s| (s, Some(exe.as_path()))));
    }
    let cores = cores();
    if let Some((_, core)) = cores {
        pin(core)?;
    } else {
        println!("many: one CPU: the servers and the load share it");
    }
    println!("many: {rounds} rounds, servers on core 1, the load on core 0; M echoes per run");
    for &n in &ns {
        let mut servers = Vec::new();
        for &(server, exe) in &runs {
            let child = Child_::start(server, cores.map(|(server, _)| server), exe)?;
            let mut load = Load::connect(child.addr, n)?;
            // Warm: every connection has echoed, every runtime has grown its pools.
            load.run(20, 10 * n as u64).map_err(|e| format!("{} warm-up: {e}", server.name()))?;
            servers.push((child, load));
        }
        for &size in &sizes {
            let m = messages(size);
            let mut samples: Vec<Vec<Sample>> = servers.iter().map(|_| Vec::new()).collect();
            for round in 0..rounds {
                // A different server first in each round: none always runs after the same one.
                for k in 0..servers.len() {
                    let j = (k + round) % servers.len();
                    let (child, load) = &mut servers[j];
                    let before = child.cpu()?;
                    let run = load.run(size, m).map_err(|e| format!("{} N={n} {size} B: {e}", child.name()))?;
                    let after = child.cpu()?;
                    let server_cpu = (after.0 - before.0, after.1 - before.1);
                    samples[j].push(Sample { run, server_cpu });
                }
            }
            report(n, size, m, &servers, &samples);
        }
        println!("  RSS per connection after every size (grown since listening / N):");
        for (child, _) in &servers {
            let now = rss::read(Some(child.child.id()))?;
            let per = (now.current_kib.saturating_sub(child.start_kib)) as f64 / n as f64;
            println!(
                "    {:<24} {per:7.1} KiB  ({} KiB at start, {} KiB now)",
                child.name(),
                child.start_kib,
                now.current_kib
            );
        }
    }
    Ok(())
}

fn report(n: usize, size: usize, m: u64, servers: &[(Child_, Load)], samples: &[Vec<Sample>]) {
    let index = |s: Server| servers.iter().position(|(c, _)| c.server == s && !c.baseline);
    let fws = index(Server::Fastwebsockets);
    let tt = index(Server::TokioTungstenite);
    println!("N = {n}, {size} B, M = {m}:");
    println!(
        "  {:<24} {:>10} {:>22} {:>22} {:>24} {:>10}",
        "server", "echoes/s", "vs fastwebsockets", "vs tokio-tungstenite", "server µs/echo user+sys", "client CPU"
    );
    for (j, (child, _)) in servers.iter().enumerate() {
        let rate = median(samples[j].iter().map(|s| s.run.rate()).collect());
        let ratio = |k: Option<usize>| {
            let Some(k) = k else { return "-".to_owned() };
            let r: Vec<f64> = samples[j].iter().zip(&samples[k]).map(|(a, b)| a.run.rate() / b.run.rate()).collect();
            let (lo, hi) = r.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
            format!("{:.2}x ({lo:.2}-{hi:.2})", median(r))
        };
        let per_echo =
            |f: fn(&Sample) -> f64| median(samples[j].iter().map(|s| f(s) * 1e6 / s.run.messages as f64).collect());
        let (user, sys) = (per_echo(|s| s.server_cpu.0), per_echo(|s| s.server_cpu.1));
        let client =
            median(samples[j].iter().map(|s| s.run.client_cpu.as_secs_f64() / s.run.wall.as_secs_f64()).collect());
        println!(
            "  {:<24} {rate:>10.0} {:>22} {:>22} {:>24} {:>9.0}%",
            child.name(),
            ratio(fws),
            ratio(tt),
            format!("{:.2} ({user:.2}+{sys:.2})", user + sys),
            client * 100.0
        );
    }
}

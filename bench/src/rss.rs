//! Resident memory of a process, from `/proc/<pid>/status` (Linux).

use crate::{Failure, fail};

/// Current and peak resident set size, in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rss {
    /// `VmRSS`.
    pub current_kib: u64,
    /// `VmHWM`: the peak since the process started.
    pub peak_kib: u64,
}

/// Reads the RSS of `pid` (`None`: this process).
pub fn read(pid: Option<u32>) -> Result<Rss, Failure> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/status"),
        None => "/proc/self/status".into(),
    };
    let status = std::fs::read_to_string(&path).map_err(fail("reading /proc status"))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .ok_or_else(|| format!("{path}: no {name}"))
    };
    Ok(Rss { current_kib: field("VmRSS:")?, peak_kib: field("VmHWM:")? })
}

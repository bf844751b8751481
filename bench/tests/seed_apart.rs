//! The pinned-apart seed exchange (`Placement::Split`): the server runs in a process of its
//! own, one per server end, kept across exchanges, gone once `end_servers` returns; every
//! exchange is checked whole (all 128 MiB acknowledged) and its cost counts both processes.
//!
//! Not a libtest harness: the server processes are this binary re-executed, so its `main` must
//! hand them to `serve_if_child` before anything else.

use std::collections::BTreeSet;
use std::time::Duration;

use wsduplex_bench::seed::{End, Placement, TOTAL, end_servers, run_pair, serve_if_child};

/// This process's children, live or not yet reaped.
fn children() -> BTreeSet<u32> {
    let mut pids = BTreeSet::new();
    for task in std::fs::read_dir("/proc/self/task").expect("/proc/self/task").flatten() {
        let listed = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        pids.extend(listed.split_whitespace().filter_map(|p| p.parse::<u32>().ok()));
    }
    pids
}

fn main() {
    serve_if_child();
    if !Placement::Split.is_available() {
        println!("seed_apart: skipped, the split placement needs two CPUs");
        return;
    }
    let before = children();

    // Our async ends against each other: the pair that shared smol's one reactor when both
    // ran in one process.
    let first = run_pair(End::WsduplexAsync, End::WsduplexAsync, Placement::Split).expect("async pair");
    assert_eq!(first.acked, TOTAL);
    assert!(first.wall > Duration::ZERO && first.cpu > Duration::ZERO, "{first:?}");
    let servers: BTreeSet<u32> = children().difference(&before).copied().collect();
    assert_eq!(servers.len(), 1, "one server process: {servers:?}");

    // The same server end again: the same process serves it.
    run_pair(End::Tungstenite, End::WsduplexAsync, Placement::Split).expect("tungstenite client");
    assert_eq!(children().difference(&before).copied().collect::<BTreeSet<u32>>(), servers);

    // Another server end: a second process; the raw ends only against themselves.
    run_pair(End::RawTcpMasked, End::RawTcpMasked, Placement::Split).expect("raw pair");
    assert_eq!(children().difference(&before).count(), 2);
    let refused = run_pair(End::RawTcp, End::WsduplexAsync, Placement::Split).expect_err("raw against WebSocket");
    assert!(refused.contains("only against itself"), "{refused}");
    let refused = run_pair(End::FloorServer, End::WsduplexAsync, Placement::Split).expect_err("server-only client");
    assert!(refused.contains("a server only"), "{refused}");

    // Ended and reaped: none left behind, not even as a zombie.
    end_servers();
    assert_eq!(children(), before);
    println!("seed_apart: ok");
}

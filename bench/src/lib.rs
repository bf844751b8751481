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

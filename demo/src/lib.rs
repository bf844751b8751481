//! The seed application of wsduplex and its demo binaries (DESIGN.md "Demo binaries"): not
//! part of the library. [`seed`] is the application, sans-IO; [`cli`] its command lines and
//! the `main` of every binary; [`on_std`], [`on_smol`] and [`on_tokio`] carry it over each transport.
//!
//! ```sh
//! cargo run --release --bin blocking-demo      # the seed end to end over loopback
//! cargo run --release --bin async-server -- --listen 127.0.0.1:9001
//! cargo run --release --bin async-client -- --url ws://127.0.0.1:9001/ --json
//! ```

pub mod cli;
mod on_async;
pub mod on_smol;
pub mod on_std;
pub mod on_tokio;
pub mod output;
pub mod pki;
pub mod seed;
#[cfg(unix)]
pub mod sigpipe;

//! Blocking transport for [`wsduplex_core`] over `std::io::Read + Write`.
//!
//! Not built yet: the blocking-transport issue fills this crate.

pub use wsduplex_core as core;

//! Async transport for [`wsduplex_core`] over smol and async-net.
//!
//! Not built yet: the async-transport issue fills this crate.

pub use wsduplex_core as core;

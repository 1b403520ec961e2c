//! Server functions: the browser's (and plain HTML forms') way into Kith.
//! Each is a few lines: resolve who is acting from the session, call one
//! service method, map the error. Every one is a public endpoint, so each
//! checks the session itself; `tests/http.rs` calls them all without one.

mod auth;
mod record;
mod sharing;
#[cfg(feature = "ssr")]
pub mod ssr;
mod together;

pub use auth::*;
pub use record::*;
pub use sharing::*;
pub use together::*;

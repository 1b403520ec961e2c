//! Wiring: configuration, the HTTP router, and the command-line tools. The
//! `kith` binary (main.rs) and the HTTP tests both build the server from here.

pub mod cli;
pub mod config;
pub mod connect;
pub mod downloads;
pub mod events;
pub mod oidc;
pub mod server;
pub mod upload;

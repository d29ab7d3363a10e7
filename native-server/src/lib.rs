//! The `socket-lab` server as a library: demo servers, event bus, HTTP site.
//!
//! The binary (`main.rs`) only parses flags and signals; everything else is
//! here so tests can start a whole server on port 0 in-process:
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use native_server::{Config, Server};
//! let server = Server::bind(Config::for_tests("dist")).await?;
//! for service in server.services() {
//!     println!("{service}"); // e.g. "tcp-echo tcp://127.0.0.1:40123"
//! }
//! server.run(async { tokio::signal::ctrl_c().await.ok(); }).await?;
//! # Ok(()) }
//! ```

pub mod bridge;
pub mod check;
pub mod check_runs;
pub mod cli;
pub mod client;
pub mod config;
pub mod demos;
pub mod events;
pub mod fd_limit;
pub mod http;
pub mod http_serve;
pub mod kernel;
pub mod log_limit;
pub mod per_client;
pub mod server;
pub mod service;
pub mod testing;

pub use config::Config;
pub use events::EventBus;
pub use server::{Server, StartError};
pub use service::{Service, ServiceKind};

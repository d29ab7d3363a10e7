//! Socket Lab's sans-IO core.
//!
//! Everything here is bytes in, bytes and events out: no sockets, no clock, no
//! operating-system randomness. The native server drives these state machines
//! with tokio sockets, the browser drives them over a WebSocket bridge, and the
//! in-page simulation drives them over a modelled network, so all three agree
//! by construction. The crate builds natively and for `wasm32-unknown-unknown`.
//!
//! - [`frame`]: 4-byte big-endian length-prefixed framing, and JSON helpers.
//! - [`auth`]: HMAC-SHA256 challenge-response.
//! - [`chat`]: the chat room's texts and line splitting.
//! - [`tls`]: TLS record headers, and telling a TLS client from a plain one.
//! - [`demo`]: the demo servers' catalogue and replies.
//! - [`conversation`]: one demo connection as a sans-IO state machine that
//!   also gives out the server's events and its next deadline.
//! - [`events`]: what a demo server saw, for the event stream.
//! - [`bridge`]: the messages between a page and the WebSocket bridge.
//! - [`check`]: what a running `socket-lab check` publishes for the chapter's check view.
//! - [`hex`]: bytes as hex, for events and display.
//! - [`kernel`]: the kernel's view of the demo ports' TCP sockets (states,
//!   queues, timers, segment counts), as the server's watcher reports it.
//! - [`boundaries`]: where the sends' boundaries fell in the reads, and why.
//! - [`sim`]: the in-page network: a TCP stream, UDP datagrams and server
//!   concurrency, modelled deterministically in virtual time.
//! - [`sim_bridge`]: the bridge protocol answered in the page by the same
//!   conversations over that model, for labs with no server behind them.

pub mod auth;
pub mod boundaries;
pub mod bridge;
pub mod chat;
pub mod check;
pub mod conversation;
pub mod demo;
pub mod events;
pub mod frame;
pub mod hex;
pub mod kernel;
pub mod sim;
pub mod sim_bridge;
pub mod tls;

pub use demo::{Demo, Transport};
pub use frame::{FrameDecoder, FrameError};

//! The lessons `check` knows: their names, stages, demo and chapter, and
//! which file runs each stage. Adding a lesson is a variant here and a file
//! under `servers/` or `clients/`.

use protocol::Demo;

use super::failure::StageResult;
use super::{Ctx, clients, servers};

/// The lessons `check` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lesson {
    /// The learner's tcp-echo server.
    TcpEcho,
    /// The learner's udp-echo server.
    UdpEcho,
    /// The learner's (concurrent) uppercase server.
    Uppercase,
    /// The learner's length-prefixed JSON server.
    Framed,
    /// The learner's HMAC challenge-response server.
    Auth,
    /// The learner's tcp-echo client.
    TcpEchoClient,
    /// The learner's framed client.
    FramedClient,
    /// The learner's auth client.
    AuthClient,
}

impl Lesson {
    /// Every lesson, servers first.
    pub const ALL: [Lesson; 8] = [
        Lesson::TcpEcho,
        Lesson::UdpEcho,
        Lesson::Uppercase,
        Lesson::Framed,
        Lesson::Auth,
        Lesson::TcpEchoClient,
        Lesson::FramedClient,
        Lesson::AuthClient,
    ];

    /// The demo whose protocol the lesson checks.
    pub fn demo(self) -> Demo {
        match self {
            Lesson::TcpEcho | Lesson::TcpEchoClient => Demo::TcpEcho,
            Lesson::UdpEcho => Demo::UdpEcho,
            Lesson::Uppercase => Demo::Uppercase,
            Lesson::Framed | Lesson::FramedClient => Demo::Framed,
            Lesson::Auth | Lesson::AuthClient => Demo::Auth,
        }
    }

    /// Whether the learner wrote the client (and socket-lab plays the server).
    pub fn is_client(self) -> bool {
        matches!(
            self,
            Lesson::TcpEchoClient | Lesson::FramedClient | Lesson::AuthClient
        )
    }

    /// The name on the command line.
    pub fn name(self) -> String {
        let demo = self.demo().name();
        if self.is_client() {
            format!("{demo}-client")
        } else {
            demo.to_owned()
        }
    }

    /// The stages' names, in order.
    pub fn stages(self) -> &'static [&'static str] {
        match self {
            Lesson::TcpEcho => servers::tcp_echo::STAGES,
            Lesson::UdpEcho => servers::udp_echo::STAGES,
            Lesson::Uppercase => servers::uppercase::STAGES,
            Lesson::Framed => servers::framed::STAGES,
            Lesson::Auth => servers::auth::STAGES,
            Lesson::TcpEchoClient => clients::tcp_echo::STAGES,
            Lesson::FramedClient => clients::framed::STAGES,
            Lesson::AuthClient => clients::auth::STAGES,
        }
    }

    /// The environment variable the book's samples read the port from,
    /// e.g. `SOCKET_LAB_FRAMED_PORT`.
    pub fn port_var(self) -> String {
        format!(
            "SOCKET_LAB_{}_PORT",
            self.demo().name().to_uppercase().replace('-', "_")
        )
    }

    pub(crate) async fn run_stage(self, index: usize, ctx: &mut Ctx) -> StageResult {
        match self {
            Lesson::TcpEcho => servers::tcp_echo::stage(index, ctx).await,
            Lesson::UdpEcho => servers::udp_echo::stage(index, ctx).await,
            Lesson::Uppercase => servers::uppercase::stage(index, ctx).await,
            Lesson::Framed => servers::framed::stage(index, ctx).await,
            Lesson::Auth => servers::auth::stage(index, ctx).await,
            Lesson::TcpEchoClient => clients::tcp_echo::stage(index, ctx).await,
            Lesson::FramedClient => clients::framed::stage(index, ctx).await,
            Lesson::AuthClient => clients::auth::stage(index, ctx).await,
        }
    }

    pub(crate) fn names() -> String {
        Lesson::ALL.map(Lesson::name).join(", ")
    }
}

impl std::str::FromStr for Lesson {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Lesson::ALL
            .into_iter()
            .find(|l| l.name() == s)
            .ok_or_else(|| {
                format!(
                    "there is no lesson {s:?}; the lessons are {}",
                    Lesson::names()
                )
            })
    }
}

/// The chapter a lesson belongs to (its page under `book/`, without `.html`).
pub fn chapter(lesson: Lesson) -> &'static str {
    match lesson.demo() {
        Demo::TcpEcho => "tcp-echo",
        Demo::UdpEcho => "udp-echo",
        Demo::Uppercase => "concurrency",
        Demo::Framed => "framing",
        Demo::Auth => "hmac-auth",
        Demo::Sticky => "sticky-packets",
        Demo::Chat => "chat",
        Demo::TlsEcho => "tls",
    }
}

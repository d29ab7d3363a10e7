//! The bridge relay runs: socket-lab's `/ws`, websockify and the copy-only
//! floor, at 1 and 32 sessions, shared or with the bridge on CPUs of its own.

use std::path::PathBuf;

use anyhow::{Context, Result};

use super::procs::{self, Proc};
use super::websockify::start_websockify;
use super::{Runner, SocketLab, arg};

/// How the isolated relay runs split the CPUs this process may use.
pub(super) struct Isolation {
    /// The bridges' CPUs (`taskset -c` list): the first half.
    pub(super) bridge: String,
    /// loadgen's and the echo target's: the rest.
    pub(super) load: String,
}

impl Isolation {
    /// The split, if there are at least 2 CPUs and `taskset`.
    pub(super) fn detect() -> Option<Isolation> {
        let cpus = procs::allowed_cpus();
        if cpus.len() < 2 || procs::which("taskset").is_none() {
            return None;
        }
        let list = |c: &[u32]| c.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
        let (bridge, load) = cpus.split_at(cpus.len() / 2);
        Some(Isolation {
            bridge: list(bridge),
            load: list(load),
        })
    }
}

/// Fresh echo target, socket-lab and websockify, pinned as `iso` says, then
/// the relay rounds with loadgen pinned too.
pub(super) fn isolated_relay(
    run: &mut Runner,
    iso: &Isolation,
    websockify: Option<&PathBuf>,
) -> Result<()> {
    let logs = run.logs.clone();
    let (echo, echo_addr) =
        run.loadgen_server("echo-isolated", "echo-server", &[], Some(&iso.load))?;
    let lab = run.socket_lab_on("socket-lab-isolated", &echo_addr, Some(&iso.bridge))?;
    let ws = match websockify {
        Some(bin) => Some(start_websockify(
            &logs,
            "websockify-isolated",
            bin,
            &echo_addr,
            Some(&iso.bridge),
        )?),
        None => None,
    };
    let floor = start_relay_floor(run, "relay-floor-isolated", &echo_addr, Some(&iso.bridge))?;
    run.load_cpus = Some(iso.load.clone());
    relay_rounds(
        run,
        &lab,
        &peer_relays(ws.as_ref(), Some(&floor)),
        &echo_addr,
        "-isolated",
    );
    run.load_cpus = None;
    drop((lab, ws, floor, echo));
    Ok(())
}

/// A relay measured beside socket-lab's bridge with loadgen's websockify
/// client (binary frames of raw bytes): websockify itself, or the copy-only floor.
pub(super) struct PeerRelay<'a> {
    /// `websockify` or `relay-floor`; results are tagged `{name}{suffix}`.
    name: &'static str,
    proc: &'a Proc,
    port: u16,
}

/// The bridge relay at 1 and 32 sessions, socket-lab and each peer relay
/// alternating, all relaying to `echo`; results are tagged
/// `socket-lab{suffix}` and `{peer}{suffix}`.
pub(super) fn relay_rounds(
    run: &mut Runner,
    lab: &SocketLab,
    peers: &[PeerRelay<'_>],
    echo: &str,
    suffix: &str,
) {
    let secs = run.secs();
    let ours_name = format!("socket-lab{suffix}");
    let ours_pid = lab.proc.pid();
    for _ in 0..run.plan.rounds {
        for sessions in ["1", "32"] {
            let ours = relay_args(
                Bridge::SocketLab {
                    http: &lab.http,
                    echo,
                },
                sessions,
                &secs,
                ours_pid,
                &ours_name,
            );
            run.measure(&ours_name, Some(ours_pid), &ours);
            for peer in peers {
                let name = format!("{}{suffix}", peer.name);
                let pid = peer.proc.pid();
                let theirs = relay_args(Bridge::Websockify(peer.port), sessions, &secs, pid, &name);
                run.measure(&name, Some(pid), &theirs);
            }
        }
    }
}

/// The bridge a `loadgen relay` run drives.
pub(super) enum Bridge<'a> {
    /// socket-lab's `/ws` on `http`, relaying to the echo server `echo`.
    SocketLab { http: &'a str, echo: &'a str },
    /// websockify or the relay floor on this loopback port (its target is fixed).
    Websockify(u16),
}

/// The arguments of one `loadgen relay` run: `sessions` at once for `secs`
/// through `bridge`, whose server has process id `pid`, tagged `label`.
pub(super) fn relay_args(
    bridge: Bridge<'_>,
    sessions: &str,
    secs: &str,
    pid: u32,
    label: &str,
) -> Vec<String> {
    let mut args = vec![arg("relay"), arg("--bridge")];
    match bridge {
        Bridge::SocketLab { http, echo } => args.extend([
            arg("socket-lab"),
            arg("--url"),
            format!("ws://{http}/ws"),
            arg("--origin"),
            format!("http://{http}"),
            arg("--target"),
            arg(echo),
        ]),
        Bridge::Websockify(port) => args.extend([
            arg("websockify"),
            arg("--url"),
            format!("ws://127.0.0.1:{port}/"),
        ]),
    }
    args.extend([
        arg("--sessions"),
        arg(sessions),
        arg("--secs"),
        arg(secs),
        arg("--server-pid"),
        pid.to_string(),
        arg("--label"),
        arg(label),
    ]);
    args
}

/// The copy-only relay floor (`loadgen relay-floor`) to `echo`, on `cpus` if given.
pub(super) fn start_relay_floor(
    run: &Runner,
    name: &str,
    echo: &str,
    cpus: Option<&str>,
) -> Result<(Proc, u16)> {
    let (proc, addr) = run.loadgen_server(name, "relay-floor", &["--target", echo], cpus)?;
    let port = addr
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .with_context(|| format!("relay-floor printed {addr:?}, not HOST:PORT"))?;
    Ok((proc, port))
}

/// The peer relays that started, in the order they are measured.
pub(super) fn peer_relays<'a>(
    ws: Option<&'a (Proc, u16)>,
    floor: Option<&'a (Proc, u16)>,
) -> Vec<PeerRelay<'a>> {
    [("websockify", ws), ("relay-floor", floor)]
        .into_iter()
        .filter_map(|(name, p)| {
            p.map(|(proc, port)| PeerRelay {
                name,
                proc,
                port: *port,
            })
        })
        .collect()
}

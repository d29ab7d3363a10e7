//! The page's side of the bridge: one WebSocket per server, shared by every
//! lab on the page, speaking `protocol::bridge`.
//!
//! On load it tries `ws://<server>/ws`. If the welcome arrives, labs run
//! **live** on real sockets; if the connection fails (no server, a static
//! course page), they run **simulated**: the same messages go to
//! `protocol::sim_bridge`, which answers as the real bridge would, from the
//! demos' own conversations over a modelled network. Every message from
//! either goes through one dispatch, so a lab has one code path. Each lab
//! opens its own sockets through the shared connection and gets its sockets'
//! events by callback.
//!
//! A page on a public site that reaches the learner's machine needs the
//! browser's permission (Chrome's Local Network Access, see `access`); a
//! refused connection fails like one to a server that is not running. So
//! while that permission matters, the bridge watches it and reports a
//! [`Reach`] beside the mode: what the browser is doing, for the lab to
//! explain, and it tries again as soon as the learner allows. The learner may
//! also choose the simulation on purpose; that is remembered for the site
//! and stops the tries until they choose their machine again.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use crate::access::{self, Permission, PermissionStatus, Space};
use protocol::bridge::{self, ClientMsg, ClosedBy, DemoInfo, Limits, ServerMsg, SocketId};
use protocol::events::ServerEvent;
use protocol::kernel::{KernelMsg, TcpCounters};
use protocol::sim::Segment;
use protocol::sim_bridge::{Network, SimBridge, ToPage};
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{BinaryType, MessageEvent, WebSocket};

/// Whether labs talk to real sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Still finding out.
    Connecting,
    /// The bridge answered: real sockets on the learner's machine.
    Live,
    /// No bridge: the in-page simulation.
    Simulated,
}

/// What the browser did about reaching the server, when the page can tell:
/// the reason beside the mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Nothing to add: live, connecting, or no server answered.
    Plain,
    /// The browser is asking the learner whether this page may reach their
    /// machine (its permission prompt is up).
    Asking,
    /// The browser did not let this page reach the server; `insecure`: the
    /// page is plain http, which it never allows.
    Blocked {
        /// The page is not a secure context.
        insecure: bool,
    },
    /// The learner chose the simulation on this site.
    Chosen,
}

/// What happened on one bridged socket.
#[derive(Debug, Clone)]
pub enum SockEvent {
    /// Connected; `local` is the page's end (its ephemeral port).
    Opened {
        /// The bridge's end of the connection.
        local: String,
        /// The demo's end.
        peer: String,
    },
    /// One read returned these bytes.
    Read {
        /// Microseconds since the session started.
        at_us: u64,
        /// The bytes.
        data: Vec<u8>,
    },
    /// Bytes were handed to the socket.
    Sent {
        /// How many.
        size: usize,
    },
    /// The socket closed.
    Closed {
        /// Who closed it.
        by: ClosedBy,
        /// Why.
        reason: String,
    },
    /// Simulated only: the model sent some of the page's bytes as one
    /// segment; `held` when Nagle held it until the ACK of earlier data.
    Segment {
        /// The segment.
        segment: Segment,
        /// Nagle held it back.
        held: bool,
    },
    /// A request about this socket failed.
    Error {
        /// Why.
        message: String,
    },
    /// What the kernel's `TCP_INFO` says of the bridge's end (asked with
    /// [`Bridge::tcp_info`]).
    TcpInfo {
        /// The counters, when the kernel gave them.
        counters: Option<TcpCounters>,
        /// Why there are none.
        missing: Option<String>,
    },
}

type SockHandler = Rc<dyn Fn(SockEvent)>;
type EventHandler = Rc<dyn Fn(&ServerEvent, Option<SocketId>)>;
type ModeHandler = Rc<dyn Fn(Mode)>;
type KernelHandler = Rc<dyn Fn(&KernelMsg)>;

/// A pending wake-up: the timer's id, its callback, and when it is due
/// (`Date.now()` ms).
type Wakeup = (i32, Closure<dyn FnMut()>, f64);

/// The in-page bridge and the timer that drives it.
struct Sim {
    bridge: SimBridge,
    /// `Date.now()` when the simulation started: its time zero.
    epoch_ms: f64,
    /// The pending wake-up.
    timer: Option<Wakeup>,
}

impl Sim {
    fn now_us(&self) -> u64 {
        ((js_sys::Date::now() - self.epoch_ms).max(0.0) * 1000.0) as u64
    }
}

/// One WebSocket to the server and the handlers attached to it.
struct Conn {
    ws: WebSocket,
    /// Which attempt this is; handlers of older ones are ignored.
    generation: u32,
    _handlers: Vec<Closure<dyn FnMut(web_sys::Event)>>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        // Detach first: a handler must never run after its closure is gone.
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        self.ws.set_onerror(None);
        let _ = self.ws.close();
    }
}

/// The permission that gates reaching the server, watched for changes.
struct PermissionWatch {
    status: PermissionStatus,
    _on_change: Closure<dyn FnMut()>,
}

impl Drop for PermissionWatch {
    fn drop(&mut self) {
        self.status.on_change(None);
    }
}

/// How long the page waits between tries to get back to a server it lost.
const RETRY_MS: i32 = 5_000;

struct Inner {
    /// The server's URL, for reconnecting.
    server: String,
    ws: Option<Conn>,
    /// A try to get back to the server while the labs run simulated.
    trial: Option<Conn>,
    retry: Option<(i32, Closure<dyn FnMut()>)>,
    next_generation: u32,
    /// Whether a server ever answered: only then is it worth trying again.
    was_live: bool,
    sim: Option<Sim>,
    mode: Mode,
    demos: Vec<DemoInfo>,
    limits: Option<Limits>,
    next_sock: SocketId,
    sockets: HashMap<SocketId, SockHandler>,
    events: Vec<(u32, EventHandler)>,
    next_sub: u32,
    subscribed: bool,
    /// Who watches the kernel's view, and at what rate each asked.
    kernel: Vec<(u32, u32, KernelHandler)>,
    own_ports: Vec<String>,
    mode_handlers: Vec<(u32, ModeHandler)>,
    reach: Reach,
    /// The browser's permission to reach the server, while it matters.
    permission: Option<PermissionWatch>,
    /// The `pagehide` and `pageshow` listeners (see [`Bridge::watch_page`]).
    page_listeners: Vec<Closure<dyn FnMut(web_sys::Event)>>,
}

/// A handle on the page's bridge connection to one server. Cheap to clone.
#[derive(Clone)]
pub struct Bridge {
    inner: Rc<RefCell<Inner>>,
}

thread_local! {
    static BRIDGES: RefCell<HashMap<String, Bridge>> = RefCell::new(HashMap::new());
}

/// `http://host:port/…` → `http://host:port` (unchanged if it is not a URL).
pub fn site_of(server: &str) -> String {
    match server.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split('/').next().unwrap_or("");
            format!("{scheme}://{host}")
        }
        None => server.trim_end_matches('/').to_owned(),
    }
}

/// `http://host:port/…` → `ws://host:port/ws`.
pub fn ws_url(server: &str) -> Option<String> {
    let (scheme, rest) = server.split_once("://")?;
    let host = rest.split('/').next().filter(|h| !h.is_empty())?;
    let ws = match scheme {
        "https" => "wss",
        "http" => "ws",
        _ => return None,
    };
    Some(format!("{ws}://{host}/ws"))
}

impl Bridge {
    /// The shared connection to `server` (created on first use).
    pub fn get(server: &str) -> Bridge {
        BRIDGES.with(|b| {
            b.borrow_mut()
                .entry(server.to_owned())
                .or_insert_with(|| Bridge::connect(server))
                .clone()
        })
    }

    fn connect(server: &str) -> Bridge {
        let bridge = Bridge {
            inner: Rc::new(RefCell::new(Inner {
                server: server.to_owned(),
                ws: None,
                trial: None,
                retry: None,
                next_generation: 1,
                was_live: false,
                sim: None,
                mode: Mode::Connecting,
                demos: Vec::new(),
                limits: None,
                next_sock: 1,
                sockets: HashMap::new(),
                events: Vec::new(),
                next_sub: 1,
                subscribed: false,
                kernel: Vec::new(),
                own_ports: Vec::new(),
                mode_handlers: Vec::new(),
                reach: Reach::Plain,
                permission: None,
                page_listeners: Vec::new(),
            })),
        };
        if access::chose_simulation() {
            // No connection at all: not even a permission prompt.
            bridge.inner.borrow_mut().reach = Reach::Chosen;
            bridge.simulate();
            return bridge;
        }
        match bridge.dial() {
            Some(conn) => bridge.inner.borrow_mut().ws = Some(conn),
            None => bridge.simulate(),
        }
        bridge.watch_permission();
        bridge.watch_page();
        bridge
    }

    /// A page the learner leaves for another may live on in the browser's
    /// back-forward cache, WebSocket and all: the server would keep its
    /// sockets open, and an iterative demo (tcp-echo) would stay busy with a
    /// connection nobody uses. So leaving the page closes the connection to
    /// the server (and with it the page's sockets), and coming back to it
    /// reconnects at once.
    fn watch_page(&self) {
        let Some(window) = web_sys::window() else {
            return;
        };
        let hide = {
            let b = self.clone();
            Closure::<dyn FnMut(web_sys::Event)>::new(move |_| b.page_left())
        };
        let show = {
            let b = self.clone();
            Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
                let persisted = js_sys::Reflect::get(&e, &"persisted".into())
                    .ok()
                    .and_then(|v| v.as_bool())
                    .unwrap_or(false);
                if persisted {
                    b.page_back();
                }
            })
        };
        let _ = window.add_event_listener_with_callback("pagehide", hide.as_ref().unchecked_ref());
        let _ = window.add_event_listener_with_callback("pageshow", show.as_ref().unchecked_ref());
        self.inner.borrow_mut().page_listeners = vec![hide, show];
    }

    /// The page was left: its connection to the server closes now.
    fn page_left(&self) {
        let conn = self.inner.borrow_mut().ws.take();
        if let Some(conn) = conn {
            // Closed now, not deferred: timers stop while a page is cached.
            drop(conn);
            self.on_close_because(
                "this page was left, so its connections to the Socket Lab server were closed; \
                 run the lab again",
            );
        }
    }

    /// The page came back from the back-forward cache: try the server now
    /// rather than at the next retry.
    fn page_back(&self) {
        let waiting = {
            let inner = self.inner.borrow();
            inner.was_live && inner.ws.is_none() && inner.trial.is_none()
        };
        if !waiting {
            return;
        }
        let retry = self.inner.borrow_mut().retry.take();
        if let (Some((id, _)), Some(window)) = (retry, web_sys::window()) {
            window.clear_timeout_with_handle(id);
        }
        if let Some(conn) = self.dial() {
            self.inner.borrow_mut().trial = Some(conn);
        }
    }

    /// Starts watching the browser's permission to reach the server, if the
    /// server is on the learner's machine or local network (where the
    /// browser may ask for one).
    fn watch_permission(&self) {
        let target = access::space_of_url(&self.inner.borrow().server);
        if target == Space::Public || self.inner.borrow().permission.is_some() {
            return;
        }
        let b = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let Some(status) = access::permission_for(target).await else {
                return;
            };
            if b.inner.borrow().reach == Reach::Chosen {
                return;
            }
            let on_change = {
                let b = b.clone();
                Closure::<dyn FnMut()>::new(move || {
                    b.judge();
                    // Allowed just now: no need to reload, try at once.
                    if b.permission() == Some(Permission::Granted) {
                        b.try_again();
                    }
                })
            };
            status.on_change(Some(&on_change));
            b.inner.borrow_mut().permission = Some(PermissionWatch {
                status,
                _on_change: on_change,
            });
            b.judge();
        });
    }

    fn permission(&self) -> Option<Permission> {
        let inner = self.inner.borrow();
        inner.permission.as_ref().map(|w| w.status.permission())
    }

    /// Works out, from the permission's state and the connection, what the
    /// browser is doing about reaching the server, and reports it.
    fn judge(&self) {
        let Some(permission) = self.permission() else {
            return;
        };
        let (mode, trying, server) = {
            let inner = self.inner.borrow();
            if inner.reach == Reach::Chosen {
                return;
            }
            let trying =
                inner.trial.is_some() || (inner.ws.is_some() && inner.mode == Mode::Connecting);
            (inner.mode, trying, inner.server.clone())
        };
        let blocked = Reach::Blocked {
            insecure: !access::secure_page(),
        };
        // "prompt" is also the state on a page the browser does not gate at
        // all (the server's own); only the page's host name tells those apart.
        let gated = access::gated(
            access::space_of_url(&access::page_url()),
            access::space_of_url(&server),
        );
        let reach = match permission {
            _ if mode == Mode::Live => Reach::Plain,
            Permission::Granted => Reach::Plain,
            Permission::Denied => blocked,
            Permission::Prompt if !gated => Reach::Plain,
            Permission::Prompt if trying => Reach::Asking,
            Permission::Prompt => blocked,
        };
        self.set_reach(reach);
    }

    fn set_reach(&self, reach: Reach) {
        if std::mem::replace(&mut self.inner.borrow_mut().reach, reach) != reach {
            self.notify();
        }
    }

    /// What the browser did about reaching the server, when the page can tell.
    pub fn reach(&self) -> Reach {
        self.inner.borrow().reach
    }

    /// The server's URL (`http://127.0.0.1:8000/`).
    pub fn server(&self) -> String {
        self.inner.borrow().server.clone()
    }

    /// While simulated, one try to reach the server now (no repeats: a
    /// failure is judged, and waits for the learner or the permission).
    fn try_again(&self) {
        let idle = {
            let inner = self.inner.borrow();
            inner.reach != Reach::Chosen
                && inner.ws.is_none()
                && inner.trial.is_none()
                && inner.sim.is_some()
        };
        if idle && let Some(conn) = self.dial() {
            self.inner.borrow_mut().trial = Some(conn);
            self.judge();
        }
    }

    /// The learner chose the simulation: remembered for this site; every try
    /// to reach the server stops (a connection the browser is still asking
    /// about is given up).
    pub fn choose_simulation(&self) {
        access::remember_simulation(true);
        let (retry, trial, permission) = {
            let mut inner = self.inner.borrow_mut();
            inner.reach = Reach::Chosen;
            (
                inner.retry.take(),
                inner.trial.take(),
                inner.permission.take(),
            )
        };
        if let (Some((id, _)), Some(window)) = (&retry, web_sys::window()) {
            window.clear_timeout_with_handle(*id);
        }
        drop((retry, trial, permission));
        if self.inner.borrow().ws.is_some() && self.mode() != Mode::Live {
            self.on_close();
        }
        self.notify();
    }

    /// The learner wants their machine again: the choice is forgotten and
    /// the server tried at once.
    pub fn choose_machine(&self) {
        access::remember_simulation(false);
        self.set_reach(Reach::Plain);
        self.try_again();
        self.watch_permission();
    }

    /// Opens a WebSocket to the server with this bridge's handlers on it.
    fn dial(&self) -> Option<Conn> {
        let url = ws_url(&self.inner.borrow().server)?;
        let ws = WebSocket::new(&url).ok()?;
        ws.set_binary_type(BinaryType::Arraybuffer);
        let generation = {
            let mut inner = self.inner.borrow_mut();
            inner.next_generation += 1;
            inner.next_generation
        };
        let on_message = {
            let b = self.clone();
            Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
                if let Ok(msg) = e.dyn_into::<MessageEvent>() {
                    b.on_ws_message(generation, msg);
                }
            })
        };
        let on_close = {
            let b = self.clone();
            Closure::<dyn FnMut(web_sys::Event)>::new(move |_| b.on_ws_close(generation))
        };
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        ws.set_onerror(Some(on_close.as_ref().unchecked_ref()));
        Some(Conn {
            ws,
            generation,
            _handlers: vec![on_message, on_close],
        })
    }

    fn is_current(&self, generation: u32) -> bool {
        self.inner
            .borrow()
            .ws
            .as_ref()
            .is_some_and(|c| c.generation == generation)
    }

    fn is_trial(&self, generation: u32) -> bool {
        self.inner
            .borrow()
            .trial
            .as_ref()
            .is_some_and(|c| c.generation == generation)
    }

    fn on_ws_message(&self, generation: u32, msg: MessageEvent) {
        if self.is_trial(generation) {
            // The server is back: leave the simulation for it.
            self.go_live_again();
        }
        if self.is_current(generation) {
            self.on_message(msg);
        }
    }

    fn on_ws_close(&self, generation: u32) {
        if self.is_current(generation) {
            self.on_close();
        } else if self.is_trial(generation) {
            // Dropped from inside its own handler: defer, then try again later.
            let trial = self.inner.borrow_mut().trial.take();
            self.later(move || drop(trial));
            if self.inner.borrow().was_live {
                self.schedule_retry();
            } else {
                // A try after the browser's permission changed, or the
                // learner's: say why it failed, and wait for them.
                self.judge();
            }
        }
    }

    /// Runs `f` soon, outside the current handler.
    fn later(&self, f: impl FnOnce() + 'static) {
        if let Some(window) = web_sys::window() {
            let cb = Closure::once_into_js(f);
            let _ =
                window.set_timeout_with_callback_and_timeout_and_arguments_0(cb.unchecked_ref(), 0);
        }
    }

    /// In a while, try to reach the server again (the labs run simulated meanwhile).
    fn schedule_retry(&self) {
        let Some(window) = web_sys::window() else {
            return;
        };
        if self.reach() == Reach::Chosen {
            return;
        }
        let b = self.clone();
        let tick = Closure::<dyn FnMut()>::new(move || {
            b.inner.borrow_mut().retry = None;
            if let Some(conn) = b.dial() {
                b.inner.borrow_mut().trial = Some(conn);
            }
        });
        if let Ok(id) = window.set_timeout_with_callback_and_timeout_and_arguments_0(
            tick.as_ref().unchecked_ref(),
            RETRY_MS,
        ) {
            let old = self.inner.borrow_mut().retry.replace((id, tick));
            if let Some((old, _)) = old {
                window.clear_timeout_with_handle(old);
            }
        }
    }

    /// The trial connection got an answer: it becomes the connection, and the
    /// simulated sockets end (their labs can run again, live).
    fn go_live_again(&self) {
        let (handlers, old_ws) = {
            let mut inner = self.inner.borrow_mut();
            inner.sim = None;
            let trial = inner.trial.take();
            let old = std::mem::replace(&mut inner.ws, trial);
            (
                inner.sockets.drain().map(|(_, h)| h).collect::<Vec<_>>(),
                old,
            )
        };
        self.later(move || drop(old_ws));
        for h in handlers {
            h(SockEvent::Closed {
                by: ClosedBy::Bridge,
                reason:
                    "the Socket Lab server answered again: this lab runs live now; run it again"
                        .into(),
            });
        }
    }

    /// The current mode.
    pub fn mode(&self) -> Mode {
        self.inner.borrow().mode
    }

    /// The demos the server runs (live mode).
    pub fn demos(&self) -> Vec<DemoInfo> {
        self.inner.borrow().demos.clone()
    }

    /// The server's own site, `http://host:port`, as the page was told it
    /// (where `/tls-cert.pem` and the book are).
    pub fn http_base(&self) -> String {
        site_of(&self.inner.borrow().server)
    }

    /// Calls `f` now and whenever the mode (or the [`Reach`]) changes, for
    /// as long as the returned guard lives.
    pub fn on_mode(&self, f: impl Fn(Mode) + 'static) -> ModeWatch {
        let f: ModeHandler = Rc::new(f);
        let mode = self.mode();
        let id = {
            let mut inner = self.inner.borrow_mut();
            let id = inner.next_sub;
            inner.next_sub += 1;
            inner.mode_handlers.push((id, f.clone()));
            id
        };
        f(mode);
        ModeWatch {
            bridge: self.clone(),
            id,
        }
    }

    fn set_mode(&self, mode: Mode) {
        if std::mem::replace(&mut self.inner.borrow_mut().mode, mode) != mode {
            self.notify();
            self.judge();
        }
    }

    /// Tells every mode watcher the mode (and so the reach) now.
    fn notify(&self) {
        let (mode, handlers) = {
            let inner = self.inner.borrow();
            let handlers: Vec<ModeHandler> =
                inner.mode_handlers.iter().map(|(_, h)| h.clone()).collect();
            (inner.mode, handlers)
        };
        for h in handlers {
            h(mode);
        }
    }

    pub(crate) fn send_msg(&self, msg: &ClientMsg) {
        {
            let mut inner = self.inner.borrow_mut();
            if let Some(Conn { ws, .. }) = &inner.ws {
                let text = serde_json::to_string(msg).expect("bridge messages serialize");
                let _ = ws.send_with_str(&text);
                return;
            }
            let Some(sim) = inner.sim.as_mut() else {
                return;
            };
            let now = sim.now_us();
            sim.bridge.handle_msg(now, msg.clone());
        }
        self.schedule(0.0);
    }

    /// Switches to the in-page bridge: it greets the page as a server would.
    fn simulate(&self) {
        let welcome = {
            let mut inner = self.inner.borrow_mut();
            // The seed only varies ports and challenges from page to page.
            let seed = js_sys::Date::now() as u64;
            let bridge = SimBridge::new(protocol::conversation::Settings::default(), seed);
            let welcome = bridge.welcome();
            inner.sim = Some(Sim {
                bridge,
                epoch_ms: js_sys::Date::now(),
                timer: None,
            });
            welcome
        };
        self.on_server_msg(welcome);
    }

    /// Sets the simulated network's UDP loss and reordering chances (0–1).
    /// Only the simulation has these knobs; live, it does nothing.
    pub fn set_sim_network(&self, udp_loss: f64, udp_reorder: f64) {
        if let Some(sim) = self.inner.borrow_mut().sim.as_mut() {
            sim.bridge.set_network(Network {
                udp_loss: udp_loss.clamp(0.0, 1.0),
                udp_reorder: udp_reorder.clamp(0.0, 1.0),
                ..Network::default()
            });
        }
    }

    /// Runs the in-page bridge after `delay_ms`: never from inside a
    /// handler, so a lab that sends while it handles an event cannot
    /// re-enter its own dispatch.
    fn schedule(&self, delay_ms: f64) {
        let Some(window) = web_sys::window() else {
            return;
        };
        let due = js_sys::Date::now() + delay_ms.max(0.0);
        match self.inner.borrow().sim.as_ref() {
            None => return,
            // An earlier wake-up is already set: it will look again then.
            Some(sim) if sim.timer.as_ref().is_some_and(|(_, _, at)| *at <= due) => return,
            Some(_) => {}
        }
        let b = self.clone();
        let tick = Closure::<dyn FnMut()>::new(move || b.pump());
        let Ok(id) = window.set_timeout_with_callback_and_timeout_and_arguments_0(
            tick.as_ref().unchecked_ref(),
            delay_ms.clamp(0.0, 2_000_000_000.0) as i32,
        ) else {
            return;
        };
        let old = self
            .inner
            .borrow_mut()
            .sim
            .as_mut()
            .and_then(|sim| sim.timer.replace((id, tick, due)));
        if let Some((old, _, _)) = old {
            window.clear_timeout_with_handle(old);
        }
    }

    /// Delivers what the in-page bridge has for the page now, then sleeps
    /// until its next deadline.
    fn pump(&self) {
        // The wake-up that is running now is spent (its callback is freed
        // when this function returns, after the call).
        let _spent = self
            .inner
            .borrow_mut()
            .sim
            .as_mut()
            .and_then(|sim| sim.timer.take());
        let due = {
            let mut inner = self.inner.borrow_mut();
            let Some(sim) = inner.sim.as_mut() else {
                return;
            };
            let now = sim.now_us();
            sim.bridge.handle_timeout(now);
            let mut due = Vec::new();
            while let Some(x) = sim.bridge.poll(now) {
                due.push(x);
            }
            due
        };
        for x in due {
            match x {
                ToPage::Msg(msg) => self.on_server_msg(msg),
                ToPage::Read { sock, at_us, data } => {
                    if let Some(h) = self.handler(sock) {
                        h(SockEvent::Read { at_us, data });
                    }
                }
                ToPage::Segment {
                    sock,
                    segment,
                    held,
                } => {
                    if let Some(h) = self.handler(sock) {
                        h(SockEvent::Segment { segment, held });
                    }
                }
            }
        }
        // After the handlers: what they sent may have moved the next deadline.
        let next = {
            let inner = self.inner.borrow();
            inner.sim.as_ref().and_then(|sim| {
                let now = sim.now_us();
                sim.bridge
                    .poll_timeout()
                    .map(|t| t.saturating_sub(now) as f64 / 1000.0)
            })
        };
        if let Some(ms) = next {
            self.schedule(ms);
        }
    }

    /// Opens a socket; `handler` gets its id and each of its events. Returns
    /// its id.
    pub fn open(
        &self,
        msg: impl FnOnce(SocketId) -> ClientMsg,
        handler: impl Fn(SocketId, SockEvent) + 'static,
    ) -> SocketId {
        let id = {
            let mut inner = self.inner.borrow_mut();
            let id = inner.next_sock;
            inner.next_sock += 1;
            inner
                .sockets
                .insert(id, Rc::new(move |ev: SockEvent| handler(id, ev)));
            id
        };
        self.send_msg(&msg(id));
        id
    }

    /// Sends bytes on a socket (a binary `D` frame).
    pub fn send(&self, sock: SocketId, bytes: &[u8]) {
        {
            let mut inner = self.inner.borrow_mut();
            if let Some(Conn { ws, .. }) = &inner.ws {
                let _ = ws.send_with_u8_array(&bridge::encode_send(sock, bytes));
                return;
            }
            let Some(sim) = inner.sim.as_mut() else {
                return;
            };
            let now = sim.now_us();
            sim.bridge.handle_send(now, sock, bytes);
        }
        self.schedule(0.0);
    }

    /// Half-closes a socket (no more sends).
    pub fn shutdown(&self, sock: SocketId) {
        self.send_msg(&ClientMsg::Shutdown { sock });
    }

    /// Closes a socket and forgets its handler.
    pub fn close(&self, sock: SocketId) {
        if self.inner.borrow_mut().sockets.remove(&sock).is_some() {
            self.send_msg(&ClientMsg::Close { sock });
        }
    }

    /// Aborts a TCP connection (RST instead of FIN); the handler hears `closed`.
    pub fn reset(&self, sock: SocketId) {
        if self.inner.borrow().sockets.contains_key(&sock) {
            self.send_msg(&ClientMsg::Reset { sock });
        }
    }

    /// How many sockets this page holds open right now (0 after every run
    /// of a lab that has finished).
    pub fn open_count(&self) -> usize {
        self.inner.borrow().sockets.len()
    }

    /// The limits the server announced (none before its welcome).
    pub fn limits(&self) -> Option<Limits> {
        self.inner.borrow().limits.clone()
    }

    /// Where the server said `demo` listens (`127.0.0.1:65432`), once known.
    pub fn demo_addr(&self, demo: protocol::Demo) -> Option<String> {
        self.inner
            .borrow()
            .demos
            .iter()
            .find(|d| d.demo == demo)
            .map(|d| d.addr.clone())
    }

    /// Watches every demo's server events; returns an id for [`unsubscribe`](Self::unsubscribe).
    /// Prefer [`watch`](Self::watch), which also says whose connection it was.
    pub fn subscribe(&self, handler: impl Fn(&ServerEvent) + 'static) -> u32 {
        self.add_watcher(Rc::new(move |ev: &ServerEvent, _| handler(ev)))
    }

    /// Watches every demo's server events for as long as the returned guard
    /// lives. The handler gets each event and, when the connection is one of
    /// this page's sockets, that socket's id (`None`: another program).
    pub fn watch(&self, handler: impl Fn(&ServerEvent, Option<SocketId>) + 'static) -> Watch {
        Watch {
            bridge: self.clone(),
            id: self.add_watcher(Rc::new(handler)),
        }
    }

    fn add_watcher(&self, handler: EventHandler) -> u32 {
        let (id, first) = {
            let mut inner = self.inner.borrow_mut();
            let id = inner.next_sub;
            inner.next_sub += 1;
            inner.events.push((id, handler));
            let first = !inner.subscribed;
            inner.subscribed = true;
            (id, first)
        };
        if first && self.mode() != Mode::Connecting {
            self.send_msg(&ClientMsg::Subscribe { demos: Vec::new() });
        }
        id
    }

    /// Asks the kernel's `TCP_INFO` for the bridge's end of `sock`; the answer
    /// comes to the socket's handler as [`SockEvent::TcpInfo`].
    pub fn tcp_info(&self, sock: SocketId) {
        if self.inner.borrow().sockets.contains_key(&sock) {
            self.send_msg(&ClientMsg::TcpInfo { sock });
        }
    }

    /// Watches the kernel's view of the demo ports, sampled `hz` times a
    /// second, for as long as the returned guard lives. A reconnect (or the
    /// switch to the simulation, which answers that it has no kernel) asks
    /// again, so the handler's next message is always a snapshot or the
    /// reason there is none.
    pub fn watch_kernel(&self, hz: u32, handler: impl Fn(&KernelMsg) + 'static) -> KernelWatch {
        let id = {
            let mut inner = self.inner.borrow_mut();
            let id = inner.next_sub;
            inner.next_sub += 1;
            inner.kernel.push((id, hz, Rc::new(handler)));
            id
        };
        if self.mode() != Mode::Connecting {
            self.rewatch_kernel();
        }
        KernelWatch {
            bridge: self.clone(),
            id,
        }
    }

    /// Tells the server the fastest rate anyone on the page asked for, or
    /// that nobody watches any more.
    fn rewatch_kernel(&self) {
        let hz = self
            .inner
            .borrow()
            .kernel
            .iter()
            .map(|(_, hz, _)| *hz)
            .max();
        if let Some(hz) = hz {
            self.send_msg(&ClientMsg::WatchKernel { hz });
        }
    }

    /// Stops a subscription.
    pub fn unsubscribe(&self, id: u32) {
        self.inner.borrow_mut().events.retain(|(i, _)| *i != id);
    }

    /// Whether a local port belongs to a socket this page opened.
    pub fn is_own_port(&self, port: &str) -> bool {
        self.inner.borrow().own_ports.iter().any(|p| p == port)
    }

    fn handler(&self, sock: SocketId) -> Option<SockHandler> {
        self.inner.borrow().sockets.get(&sock).cloned()
    }

    fn on_message(&self, msg: MessageEvent) {
        let data = msg.data();
        if let Some(text) = data.as_string() {
            match serde_json::from_str::<ServerMsg>(&text) {
                Ok(msg) => self.on_server_msg(msg),
                Err(e) => {
                    web_sys::console::warn_1(&format!("bridge: unreadable message: {e}").into())
                }
            }
        } else if let Ok(buf) = data.dyn_into::<js_sys::ArrayBuffer>() {
            let bytes = js_sys::Uint8Array::new(&buf).to_vec();
            if let Ok(read) = bridge::decode_read(&bytes)
                && let Some(h) = self.handler(read.sock)
            {
                h(SockEvent::Read {
                    at_us: read.at_us,
                    data: read.data.to_vec(),
                });
            }
        }
    }

    fn on_server_msg(&self, msg: ServerMsg) {
        match msg {
            ServerMsg::Welcome { demos, limits, .. } => {
                let (resubscribe, simulated) = {
                    let mut inner = self.inner.borrow_mut();
                    inner.demos = demos;
                    inner.limits = Some(limits);
                    let simulated = inner.sim.is_some();
                    inner.was_live |= !simulated;
                    (inner.subscribed, simulated)
                };
                self.set_mode(if simulated {
                    Mode::Simulated
                } else {
                    Mode::Live
                });
                if resubscribe {
                    self.send_msg(&ClientMsg::Subscribe { demos: Vec::new() });
                }
                self.rewatch_kernel();
            }
            ServerMsg::Opened {
                sock, local, peer, ..
            } => {
                if let Some(port) = local.rsplit(':').next() {
                    self.inner.borrow_mut().own_ports.push(port.to_owned());
                }
                if let Some(h) = self.handler(sock) {
                    h(SockEvent::Opened { local, peer });
                }
            }
            ServerMsg::Sent { sock, size, .. } => {
                if let Some(h) = self.handler(sock) {
                    h(SockEvent::Sent { size });
                }
            }
            ServerMsg::Closed { sock, by, reason } => {
                let h = self.inner.borrow_mut().sockets.remove(&sock);
                if let Some(h) = h {
                    h(SockEvent::Closed { by, reason });
                }
            }
            ServerMsg::Error { sock, message, .. } => match sock.and_then(|s| self.handler(s)) {
                Some(h) => h(SockEvent::Error { message }),
                None => web_sys::console::warn_1(&format!("bridge: {message}").into()),
            },
            ServerMsg::Status { .. } => {}
            ServerMsg::TcpInfo {
                sock,
                counters,
                missing,
            } => {
                if let Some(h) = self.handler(sock) {
                    h(SockEvent::TcpInfo { counters, missing });
                }
            }
            ServerMsg::Kernel { msg } => {
                let handlers: Vec<KernelHandler> = self
                    .inner
                    .borrow()
                    .kernel
                    .iter()
                    .map(|(_, _, h)| h.clone())
                    .collect();
                for h in handlers {
                    h(&msg);
                }
            }
            ServerMsg::Check { run, msg } => {
                let server = self.inner.borrow().server.clone();
                crate::labs::check::deliver(&server, run, &msg);
            }
            ServerMsg::Event { event, sock } => {
                let handlers: Vec<EventHandler> = self
                    .inner
                    .borrow()
                    .events
                    .iter()
                    .map(|(_, h)| h.clone())
                    .collect();
                for h in handlers {
                    h(&event, sock);
                }
            }
        }
    }

    fn on_close(&self) {
        self.on_close_because(
            "the connection to the Socket Lab server was lost; this lab runs simulated \
             until the server answers again",
        );
    }

    /// The connection to the server is gone: every socket of the page
    /// closes with `reason`, and the labs run simulated until it answers
    /// again.
    fn on_close_because(&self, reason: &str) {
        let (handlers, old, was_live) = {
            let mut inner = self.inner.borrow_mut();
            let old = inner.ws.take();
            (
                inner
                    .sockets
                    .drain()
                    .map(|(_, h)| h)
                    .collect::<Vec<SockHandler>>(),
                old,
                inner.was_live,
            )
        };
        // Dropped from inside its own handler: defer.
        self.later(move || drop(old));
        for h in handlers {
            h(SockEvent::Closed {
                by: ClosedBy::Bridge,
                reason: reason.to_owned(),
            });
        }
        if self.inner.borrow().sim.is_none() {
            self.simulate();
        }
        if was_live {
            self.schedule_retry();
        } else {
            self.judge();
        }
    }
}

/// A subscription to the server's events; dropping it ends the subscription.
#[must_use = "the subscription ends when this guard is dropped"]
pub struct Watch {
    bridge: Bridge,
    id: u32,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.bridge.unsubscribe(self.id);
    }
}

/// Watches the kernel's view until dropped ([`Bridge::watch_kernel`]).
pub struct KernelWatch {
    bridge: Bridge,
    id: u32,
}

impl Drop for KernelWatch {
    fn drop(&mut self) {
        let none_left = {
            let mut inner = self.bridge.inner.borrow_mut();
            inner.kernel.retain(|(i, _, _)| *i != self.id);
            inner.kernel.is_empty()
        };
        if none_left {
            self.bridge.send_msg(&ClientMsg::UnwatchKernel {});
        } else {
            self.bridge.rewatch_kernel();
        }
    }
}

/// A watch on the mode (live, simulated); dropping it ends the watch.
#[must_use = "the watch ends when this guard is dropped"]
pub struct ModeWatch {
    bridge: Bridge,
    id: u32,
}

impl Drop for ModeWatch {
    fn drop(&mut self) {
        self.bridge
            .inner
            .borrow_mut()
            .mode_handlers
            .retain(|(i, _)| *i != self.id);
    }
}

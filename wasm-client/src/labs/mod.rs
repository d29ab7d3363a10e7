//! The labs, the frame they share (title, live/simulated badge, timeline),
//! and how one is chosen and mounted.

pub mod auth;
pub mod chat;
pub mod check;
pub mod concurrency;
pub mod events;
pub mod exercise;
pub mod framing;
pub mod gantt;
pub mod kernel;
pub mod layers;
pub mod ports;
pub mod quiz;
mod reach;
pub mod server_view;
pub mod sticky;
pub mod tcp_echo;
pub mod tls;
pub mod udp_echo;

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlElement, HtmlInputElement};

use crate::dom::{Listener, add, attr, el};
use crate::net::{Bridge, Mode, Reach};
use crate::timeline::{Side, Timeline};
use protocol::bridge::SocketId;

/// What a mounted lab keeps alive: its listeners and any state they share.
pub struct Mounted {
    _listeners: Vec<Listener>,
    _state: Option<Rc<dyn std::any::Any>>,
}

impl Mounted {
    pub(crate) fn with_state(listeners: Vec<Listener>, state: Rc<dyn std::any::Any>) -> Self {
        Self {
            _listeners: listeners,
            _state: Some(state),
        }
    }
}

/// Mounts the lab called `lab` into `root`.
pub fn mount(root: &HtmlElement, lab: &str, server: &str) -> Result<Mounted, String> {
    root.set_inner_html("");
    root.class_list().add_1("sl-lab").ok();
    let bridge = || Bridge::get(server);
    match lab {
        "framing" => Ok(framing::mount(root, bridge())),
        "tcp-echo" => Ok(tcp_echo::mount(root, bridge())),
        "udp-echo" => Ok(udp_echo::mount(root, bridge())),
        "sticky" => Ok(sticky::mount(root, bridge())),
        "auth" => Ok(auth::mount(root, bridge())),
        "concurrency" => Ok(concurrency::mount(root, bridge())),
        "ports" => Ok(ports::mount(root, bridge())),
        "layers" => Ok(layers::mount(root, bridge())),
        "events" => Ok(events::mount(root, bridge())),
        "check" => Ok(check::mount(root, bridge(), server)),
        "kernel" => Ok(kernel::mount(root, bridge())),
        "chat" => Ok(chat::mount(root, bridge())),
        "tls" => Ok(tls::mount(root, bridge())),
        "quiz" => quiz::mount(root),
        "exercise" => exercise::mount(root, bridge()),
        other => Err(format!(
            "<socket-lab lab=\"{other}\">: there is no such lab; the labs are: {}",
            protocol::demo::LABS.join(", ")
        )),
    }
}

/// The parts every socket lab has.
#[derive(Clone)]
pub struct Frame {
    /// The lab's root element (`<socket-lab>`); it carries
    /// `data-open-sockets`, the page's open bridge sockets, for tests.
    pub root: Element,
    /// The card: title, help, controls, timeline, verdict (and a server view,
    /// when the lab adds one with [`Frame::server_view`]).
    pub card: Element,
    /// Where the lab's controls go.
    pub controls: Element,
    /// The timeline of sends and reads.
    pub timeline: Timeline,
    /// A line for the lab's conclusion ("why did that happen").
    pub verdict: Element,
    /// The shared bridge.
    pub bridge: Bridge,
    /// Keeps the badge (and the note on why) following the mode while the
    /// lab lives.
    _mode: Rc<crate::net::ModeWatch>,
}

impl Frame {
    /// Builds the card: title, badge, help, controls, timeline.
    pub fn new(root: &HtmlElement, title: &str, help: &str, bridge: Bridge) -> Frame {
        let card = add(root, el("div", "sl-card", ""));
        let head = add(&card, el("div", "sl-head", ""));
        add(&head, el("h3", "sl-title", title));
        let badge = add(&head, el("span", "sl-badge", "connecting…"));
        attr(&badge, "data-role", "mode");
        add(&card, el("p", "sl-help", help));
        let golive = add(
            &card,
            el(
                "p",
                "sl-golive",
                "Simulated: no Socket Lab server answered, so this lab runs a model of the network in your browser. \
                 For real sockets on your machine, run ",
            ),
        );
        add(&golive, el("code", "", "socket-lab"));
        golive
            .append_with_str_1(" (install it with pipx install socket-lab, or run cargo xtask serve in the repository) and open http://127.0.0.1:8000.")
            .ok();
        attr(&golive, "hidden", "");
        let note = reach::ReachNote::new(&card, &head, root, &bridge);
        let controls = add(&card, el("div", "sl-controls", ""));
        let timeline = Timeline::new(&card);
        let verdict = add(&card, el("p", "sl-verdict", ""));
        attr(&verdict, "data-role", "verdict");
        let (b, g, br) = (badge.clone(), golive.clone(), bridge.clone());
        let mode = bridge.on_mode(move |mode| {
            let key = match mode {
                Mode::Connecting => "connecting",
                Mode::Live => "live",
                Mode::Simulated => "simulated",
            };
            let why = br.reach();
            b.set_text_content(Some(reach::ReachNote::badge(mode, why)));
            attr(&b, "data-mode", key);
            note.show(mode, why);
            // The usual note, when no server answered and the browser had no say.
            if mode == Mode::Simulated && why == Reach::Plain {
                let _ = g.remove_attribute("hidden");
            } else {
                attr(&g, "hidden", "");
            }
        });
        attr(root, "data-open-sockets", &bridge.open_count().to_string());
        Frame {
            root: root.clone().into(),
            card,
            controls,
            timeline,
            verdict,
            bridge,
            _mode: Rc::new(mode),
        }
    }

    /// Adds the server view (what `demos` saw, from this page and from other
    /// programs) below the lab's timeline and verdict.
    pub fn server_view(&self, demos: &[protocol::Demo]) -> server_view::ServerView {
        server_view::ServerView::new(&self.card, &self.bridge, demos)
    }

    /// Writes the page's open bridge sockets into `data-open-sockets` on the
    /// lab's root; call it after every socket event and every close.
    pub fn refresh_sockets(&self) {
        attr(
            &self.root,
            "data-open-sockets",
            &self.bridge.open_count().to_string(),
        );
    }

    /// Closes the lab's socket `sock`, or, with none open, says why and what
    /// to click (`nothing_open`); then updates the socket count.
    pub(crate) fn close_or_explain(&self, sock: Option<SocketId>, nothing_open: &str) {
        match sock {
            Some(s) => {
                self.bridge.close(s);
                self.timeline.row(Side::Note, "closed by the page", None);
            }
            None => {
                self.timeline.row(Side::Error, nothing_open, None);
            }
        }
        self.refresh_sockets();
    }

    /// An error row in the timeline: what the learner must do first (a run
    /// still open, an empty message), or what failed.
    pub fn error(&self, text: &str) {
        self.timeline.row(Side::Error, text, None);
    }

    /// A note row: the page's socket closed, and why.
    pub fn closed(&self, reason: &str) {
        self.timeline
            .row(Side::Note, &format!("closed: {reason}"), None);
    }

    /// Sets the conclusion line.
    pub fn conclude(&self, text: &str) {
        self.verdict.set_text_content(Some(text));
    }
}

/// Enables or disables a control (a Close button with nothing to close).
pub(crate) fn set_enabled(control: &Element, enabled: bool) {
    if enabled {
        let _ = control.remove_attribute("disabled");
    } else {
        attr(control, "disabled", "");
    }
}

/// A labelled text input.
pub(crate) fn text_input(
    parent: &Element,
    label: &str,
    role: &str,
    value: &str,
) -> HtmlInputElement {
    let l = add(parent, el("label", "sl-field", label));
    let input = add(&l, el("input", "sl-input", ""));
    attr(&input, "data-role", role);
    let input: HtmlInputElement = input.unchecked_into();
    input.set_value(value);
    input
}

/// A labelled number input.
pub(crate) fn number_input(
    parent: &Element,
    label: &str,
    role: &str,
    value: u32,
    min: u32,
    max: u32,
) -> HtmlInputElement {
    let input = text_input(parent, label, role, &value.to_string());
    input.set_type("number");
    input.set_min(&min.to_string());
    input.set_max(&max.to_string());
    input
}

/// A labelled checkbox.
pub(crate) fn checkbox(
    parent: &Element,
    label: &str,
    role: &str,
    checked: bool,
) -> HtmlInputElement {
    let l = add(parent, el("label", "sl-field sl-check", ""));
    let input = add(&l, el("input", "", ""));
    attr(&input, "type", "checkbox");
    attr(&input, "data-role", role);
    add(&l, el("span", "", label));
    let input: HtmlInputElement = input.unchecked_into();
    input.set_checked(checked);
    input
}

/// A button that runs `f` when clicked.
pub(crate) fn button(
    parent: &Element,
    text: &str,
    role: &str,
    f: impl FnMut(web_sys::Event) + 'static,
) -> (Element, Listener) {
    let b = add(parent, el("button", "sl-button", text));
    attr(&b, "type", "button");
    attr(&b, "data-role", role);
    let l = Listener::new(&b, "click", f);
    (b, l)
}

/// `f` with the lab, for as long as the lab lives: a callback for the bridge
/// or a panel that holds only a weak reference, so it never keeps a dropped
/// lab alive.
pub(crate) fn weakly<T: 'static, A, B>(
    lab: &Rc<T>,
    f: impl Fn(&Rc<T>, A, B) + 'static,
) -> impl Fn(A, B) + 'static {
    let weak = Rc::downgrade(lab);
    move |a, b| {
        if let Some(lab) = weak.upgrade() {
            f(&lab, a, b);
        }
    }
}

/// Says in `root` that `what` ("quiz", "exercise") could not be loaded, and why.
pub(crate) fn load_failed(root: &Element, what: &str, why: &str) {
    add(
        root,
        el(
            "p",
            "sl-error",
            &format!("The {what} could not be loaded: {why}"),
        ),
    );
}

/// `impl HasFrame for Lab` for a lab whose frame is its `frame` field.
macro_rules! has_frame {
    ($lab:ty) => {
        impl $crate::labs::HasFrame for $lab {
            fn frame(&self) -> &$crate::labs::Frame {
                &self.frame
            }
        }
    };
}
pub(crate) use has_frame;

/// A lab built on a [`Frame`].
pub(crate) trait HasFrame {
    /// The lab's frame.
    fn frame(&self) -> &Frame;

    /// The page's bridge.
    fn bridge(&self) -> &Bridge {
        &self.frame().bridge
    }
}

/// The lab its buttons act on, filled in once the lab is built: the buttons
/// are made first, because the lab holds them.
pub(crate) struct Later<T>(Rc<RefCell<Option<Rc<T>>>>);

impl<T> Default for Later<T> {
    fn default() -> Self {
        Self(Rc::default())
    }
}

impl<T: 'static> Later<T> {
    /// Mounts the built `lab`: the buttons act on it, `on_event` hears every
    /// server event while it is mounted, and `view` (its server panel)
    /// lives as long as it does. Unmounting drops the watch first, which
    /// ends the subscription.
    pub(crate) fn mount(
        self,
        lab: &Rc<T>,
        listeners: Vec<Listener>,
        view: server_view::ServerView,
        on_event: impl Fn(&T, &protocol::events::ServerEvent, Option<SocketId>) + 'static,
    ) -> Mounted
    where
        T: HasFrame,
    {
        *self.0.borrow_mut() = Some(lab.clone());
        let watcher = lab.clone();
        let watch = lab
            .frame()
            .bridge
            .watch(move |ev, sock| on_event(&watcher, ev, sock));
        Mounted::with_state(listeners, Rc::new((watch, view, self)))
    }

    /// A button that calls `f` with the lab (a click before it is built does
    /// nothing).
    pub(crate) fn button(
        &self,
        parent: &Element,
        text: &str,
        role: &str,
        f: impl Fn(&Rc<T>) + 'static,
    ) -> (Element, Listener) {
        let slot = self.0.clone();
        button(parent, text, role, move |_| {
            let lab = slot.borrow().clone();
            if let Some(lab) = lab {
                f(&lab);
            }
        })
    }
}

/// Reads a number input, clamped to `[min, max]`.
pub(crate) fn read_number(input: &HtmlInputElement, min: u32, max: u32) -> u32 {
    input
        .value()
        .trim()
        .parse::<u32>()
        .unwrap_or(min)
        .clamp(min, max)
}

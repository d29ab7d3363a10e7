//! Sequence diagrams: lifelines side by side, time going down, arrows
//! between them labelled with what travelled, boxes for what one side did,
//! notes across. One renderer draws two kinds:
//!
//! - **Every lab's run**, beside its timeline: the page's clients on the
//!   left, the server on the right, each send and each read an arrow with
//!   its size and bytes, the server's account as boxes, notes and errors
//!   across. It is drawn from the very rows the timeline lists (the timeline
//!   is the table view of the same steps, and what a screen reader reads), so
//!   the two cannot disagree. Each step keeps the page's clock at the moment
//!   it was shown: the time column is that clock, in ms since the first
//!   step, one row per step, with a gap marked where a second or more passed.
//! - **The book's sequences** (the handshake, the call order, the half
//!   close, the HMAC exchange…): a small text description per diagram under
//!   `book/src/diagrams/` ([`parse`]), drawn once into the SVG next to it,
//!   which the chapter includes. A test keeps each SVG equal to what its
//!   description draws.
//!
//! Pure: [`Diagram::svg`] returns the markup, and the tests read it natively.

/// Steps kept; older ones leave the diagram (the list keeps them all).
const MAX_STEPS: usize = 80;
/// Height of one step.
const ROW: f64 = 34.0;
/// Space above the first step, for the lifelines' names.
const TOP: f64 = 44.0;
/// The time column on the left, when there are times.
const TIME_W: f64 = 64.0;
/// The width of one character of the diagram's monospace type (14 px).
const CHAR_W: f64 = 8.6;
/// The same for the book's diagrams (13 px).
const BOOK_CHAR_W: f64 = 8.0;
/// The width the book's diagrams are drawn at: a phone's, so their text
/// stays readable at 390 px; wider screens show them larger.
pub const BOOK_WIDTH: f64 = 420.0;
/// The name of the server's lifeline in a lab.
pub const SERVER: &str = "server";
/// The lifeline of the simulation's wire: the segments the model sent.
pub const NETWORK: &str = "the wire (simulated)";
/// The lane of a lab's client that did not say which it is.
pub const CLIENT: &str = "the page";

/// What a step draws.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// An arrow from one lifeline to another; `heavy` for application data
    /// in a book diagram.
    Arrow {
        /// Where it starts.
        from: String,
        /// Where it ends.
        to: String,
        /// Drawn thicker.
        heavy: bool,
    },
    /// A box on one lifeline: something that side did or decided.
    Box {
        /// Which lifeline.
        lane: String,
    },
    /// Words across the diagram.
    Note,
    /// Words across the diagram, marked as an error.
    Error,
}

/// One step of a diagram.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// When it was shown, in ms on the page's clock (a lab's steps only).
    pub at_ms: Option<f64>,
    /// Its kind as a name (`send`, `read`, `server`, `note`, `error`, …),
    /// the `data-kind` of its row in a lab's timeline (the step's `data-step`).
    pub kind: &'static str,
    /// What it draws.
    pub shape: Shape,
    /// Its words.
    pub label: String,
    /// Bytes sent or read, if any.
    pub size: Option<usize>,
    /// The bytes as the timeline shows them (text, or hex and ASCII).
    pub bytes: Option<String>,
}

/// The steps of one diagram.
#[derive(Debug, Default, Clone)]
pub struct Diagram {
    /// The lifelines, left to right, when a description names them; a lab's
    /// diagram finds its own (its clients, then the server).
    lanes: Option<Vec<String>>,
    /// A lab's lifeline on the right, when it is not [`SERVER`] (the check
    /// view's: the learner's program).
    far: Option<String>,
    steps: Vec<Step>,
    dropped: usize,
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push('·'),
            c => out.push(c),
        }
    }
    out
}

/// At most `n` characters of `s`, with `…` when cut.
fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(n.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn ms(t: f64) -> String {
    if t >= 10_000.0 {
        format!("{:.1} s", t / 1000.0)
    } else if t >= 1000.0 {
        format!("{:.2} s", t / 1000.0)
    } else if t >= 100.0 {
        format!("{t:.0} ms")
    } else {
        format!("{t:.1} ms")
    }
}

/// Reads a book diagram's description, one step per line:
///
/// ```text
/// lanes: client | server
/// client -> server: SYN seq=x        an arrow
/// server => client: data             a heavy arrow (application data)
/// box server: accept() returns       a box on one lifeline
/// note: connection established       words across
/// # a comment
/// ```
pub fn parse(desc: &str) -> Result<Diagram, String> {
    let mut lanes: Option<Vec<String>> = None;
    let mut steps = Vec::new();
    for (n, raw) in desc.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = |what: &str| format!("line {}: {what}: {raw:?}", n + 1);
        let (head, text) = line
            .split_once(':')
            .ok_or_else(|| at("expected `what: text`"))?;
        let (head, text) = (head.trim(), text.trim().to_owned());
        let known = |lane: &str, lanes: &Option<Vec<String>>| -> Result<String, String> {
            match lanes {
                Some(l) if l.iter().any(|x| x == lane) => Ok(lane.to_owned()),
                Some(l) => Err(at(&format!(
                    "no lane {lane:?} (the lanes are {})",
                    l.join(", ")
                ))),
                None => Err(at("name the lanes first (`lanes: a | b`)")),
            }
        };
        if head == "lanes" {
            lanes = Some(text.split('|').map(|l| l.trim().to_owned()).collect());
            continue;
        }
        let step = if head == "note" {
            Step::note(&text)
        } else if let Some(lane) = head.strip_prefix("box ") {
            let lane = known(lane.trim(), &lanes)?;
            Step::boxed("box", &lane, &text)
        } else {
            let (arrow, heavy) = if head.contains("=>") {
                ("=>", true)
            } else {
                ("->", false)
            };
            let (from, to) = head
                .split_once(arrow)
                .ok_or_else(|| at("expected `a -> b: text`, `box a: text` or `note: text`"))?;
            Step {
                at_ms: None,
                kind: "arrow",
                shape: Shape::Arrow {
                    from: known(from.trim(), &lanes)?,
                    to: known(to.trim(), &lanes)?,
                    heavy,
                },
                label: text,
                size: None,
                bytes: None,
            }
        };
        steps.push(step);
    }
    if steps.is_empty() {
        return Err("the description has no steps".into());
    }
    Ok(Diagram {
        lanes,
        far: None,
        steps,
        dropped: 0,
    })
}

impl Step {
    /// Words across the diagram.
    pub fn note(label: &str) -> Self {
        Step {
            at_ms: None,
            kind: "note",
            shape: Shape::Note,
            label: label.to_owned(),
            size: None,
            bytes: None,
        }
    }

    /// A box on `lane`.
    pub fn boxed(kind: &'static str, lane: &str, label: &str) -> Self {
        Step {
            at_ms: None,
            kind,
            shape: Shape::Box {
                lane: lane.to_owned(),
            },
            label: label.to_owned(),
            size: None,
            bytes: None,
        }
    }
}

impl Diagram {
    /// Adds a step (the oldest goes once there are too many).
    pub fn push(&mut self, step: Step) {
        self.steps.push(step);
        if self.steps.len() > MAX_STEPS {
            self.steps.remove(0);
            self.dropped += 1;
        }
    }

    /// Forgets every step (a new run).
    pub fn clear(&mut self) {
        self.steps.clear();
        self.dropped = 0;
    }

    /// The steps drawn, oldest first.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// Names the lifeline on the right (a lab's is [`SERVER`] otherwise).
    pub fn set_far(&mut self, name: &str) {
        self.far = Some(name.to_owned());
    }

    /// The lifeline on the right of a lab's diagram.
    pub fn far(&self) -> &str {
        self.far.as_deref().unwrap_or(SERVER)
    }

    /// The lifelines, left to right: the description's, or a lab's clients
    /// in the order they first appear, then the server.
    fn lanes(&self) -> Vec<String> {
        if let Some(l) = &self.lanes {
            return l.clone();
        }
        let far = self.far();
        let mut lanes: Vec<String> = Vec::new();
        for s in &self.steps {
            if let Shape::Arrow { from, to, .. } = &s.shape {
                for lane in [from, to] {
                    if lane != far && !lanes.contains(lane) {
                        lanes.push(lane.clone());
                    }
                }
            }
        }
        if lanes.is_empty() {
            lanes.push(CLIENT.to_owned());
        }
        // The simulated wire, between the clients and the server.
        if self
            .steps
            .iter()
            .any(|s| matches!(&s.shape, Shape::Box { lane } if lane == NETWORK))
        {
            lanes.push(NETWORK.to_owned());
        }
        lanes.push(far.to_owned());
        lanes
    }

    /// The diagram as SVG markup, `width` user units wide (the element's
    /// width in CSS pixels, so text keeps its size at any width).
    pub fn svg(&self, width: f64) -> String {
        let width = width.max(300.0);
        let lanes = self.lanes();
        let timed = self.steps.iter().any(|s| s.at_ms.is_some());
        let left = if timed { TIME_W + 70.0 } else { 60.0 };
        // The labs draw at 14 px, the book at 13 px (its own stylesheet).
        let char_w = if timed { CHAR_W } else { BOOK_CHAR_W };
        let right = width - 60.0;
        let x_of = |lane: &str| {
            let i = lanes.iter().position(|l| l == lane).unwrap_or(0) as f64;
            let n = lanes.len().max(2) as f64 - 1.0;
            left + (right - left) * i / n
        };
        let height = TOP + ROW * self.steps.len().max(1) as f64 + 16.0;
        let t0 = self.steps.iter().find_map(|s| s.at_ms).unwrap_or(0.0);
        let mut out = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"sl-seq-svg\" viewBox=\"0 0 {width:.0} {height:.0}\" \
             width=\"{width:.0}\" height=\"{height:.0}\" role=\"group\" aria-label=\"Sequence diagram: {} steps between {}, time going down\">",
            self.steps.len(),
            esc(&lanes.join(", "))
        );
        if timed {
            out.push_str("<text class=\"sl-seq-head\" x=\"4\" y=\"18\">time</text>");
        }
        let spacing = (right - left) / (lanes.len().max(2) as f64 - 1.0);
        for (i, lane) in lanes.iter().enumerate() {
            let x = x_of(lane);
            // A name no wider than the room beside its lifeline (the first
            // must also clear the time column).
            let room = if i == 0 && timed {
                ((x - 44.0) * 2.0).min(spacing)
            } else {
                spacing
            };
            let chars = ((room / char_w) as usize).clamp(4, 22);
            out.push_str(&format!(
                "<text class=\"sl-seq-head\" x=\"{x:.1}\" y=\"18\" text-anchor=\"middle\">{}</text>\
                 <line class=\"sl-seq-life\" x1=\"{x:.1}\" y1=\"26\" x2=\"{x:.1}\" y2=\"{:.1}\"/>",
                esc(&cut(lane, chars)),
                height - 8.0
            ));
        }
        if self.dropped > 0 {
            out.push_str(&format!(
                "<text class=\"sl-seq-note\" x=\"{left:.1}\" y=\"36\">({} earlier steps are in the list below)</text>",
                self.dropped
            ));
        }
        let mut last_t = t0;
        for (i, s) in self.steps.iter().enumerate() {
            let y = TOP + ROW * i as f64 + ROW / 2.0;
            let what = match (s.size, &s.bytes) {
                (Some(n), Some(b)) => format!("{n} B  {b}"),
                (Some(n), None) => format!("{n} B"),
                _ => String::new(),
            };
            let detail = [s.label.as_str(), what.as_str()]
                .iter()
                .filter(|p| !p.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(": ");
            let (time_attr, aria) = match s.at_ms {
                Some(at) => {
                    let t = at - t0;
                    (
                        format!(" data-t=\"{t:.3}\""),
                        format!("{} at {}: {detail}", s.kind, ms(t)),
                    )
                }
                None => (String::new(), format!("{}: {detail}", s.kind)),
            };
            out.push_str(&format!(
                "<g class=\"sl-seq-step sl-seq-k-{}\" data-step=\"{}\"{time_attr}{} tabindex=\"0\" role=\"img\" aria-label=\"{}\"><title>{}</title>",
                s.kind,
                s.kind,
                s.size.map(|n| format!(" data-size=\"{n}\"")).unwrap_or_default(),
                esc(&aria),
                esc(&aria)
            ));
            if let Some(at) = s.at_ms {
                let gap = at - last_t > 1000.0;
                last_t = at;
                out.push_str(&format!(
                    "<text class=\"sl-seq-time{}\" x=\"4\" y=\"{:.1}\">{}{}</text>",
                    if gap { " sl-seq-gap" } else { "" },
                    y + 4.0,
                    if gap { "⋮ " } else { "" },
                    ms(at - t0)
                ));
            }
            match &s.shape {
                Shape::Arrow { from, to, heavy } => {
                    let (x1, x2) = (x_of(from), x_of(to));
                    let (y1, y2) = (y - 6.0, y + 8.0);
                    let chars = ((x2 - x1).abs() / char_w) as usize;
                    let text = if what.is_empty() {
                        s.label.clone()
                    } else {
                        what.clone()
                    };
                    out.push_str(&format!(
                        "<line class=\"sl-seq-arrow{}\" x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" marker-end=\"url(#sl-seq-head)\"/>\
                         <text class=\"sl-seq-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                        if *heavy { " sl-seq-heavy" } else { "" },
                        (x1 + x2) / 2.0,
                        y - 8.0,
                        esc(&cut(&text, chars.max(6)))
                    ));
                }
                Shape::Box { lane } => {
                    let w = (width * 0.46).min(520.0);
                    let lx = x_of(lane);
                    // Beside its lifeline, toward the middle of the diagram;
                    // the simulated wire's segments, across the wire.
                    let x = if lane == NETWORK {
                        (lx - w / 2.0).clamp(left - 50.0, width - w - 2.0)
                    } else if lx + w + 6.0 > width {
                        lx - w - 6.0
                    } else {
                        lx + 6.0
                    };
                    let chars = ((w - 12.0) / char_w) as usize;
                    let text = if what.is_empty() {
                        s.label.clone()
                    } else if s.kind == "segment" {
                        // What travelled first: the bytes are the point.
                        format!("{what} · {}", s.label)
                    } else {
                        format!("{}: {what}", s.label)
                    };
                    out.push_str(&format!(
                        "<rect class=\"sl-seq-box\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"22\" rx=\"4\"/>\
                         <text class=\"sl-seq-label\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                        y - 12.0,
                        x + 6.0,
                        y + 3.0,
                        esc(&cut(&text, chars.max(6)))
                    ));
                }
                Shape::Note | Shape::Error => {
                    let from = if timed { left } else { 8.0 };
                    let chars = ((width - from) / (char_w - 0.8)) as usize; // proportional type
                    out.push_str(&format!(
                        "<text class=\"sl-seq-note{}\" x=\"{from:.1}\" y=\"{:.1}\">{}</text>",
                        if s.shape == Shape::Error {
                            " sl-seq-error"
                        } else {
                            ""
                        },
                        y + 4.0,
                        esc(&cut(&s.label, chars.max(10)))
                    ));
                }
            }
            out.push_str("</g>");
        }
        out.push_str(
            "<defs><marker id=\"sl-seq-head\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"10\" markerHeight=\"10\" markerUnits=\"userSpaceOnUse\" orient=\"auto-start-reverse\">\
             <path class=\"sl-seq-tip\" d=\"M 0 0 L 10 5 L 0 10 z\"/></marker></defs></svg>",
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrow(at_ms: f64, kind: &'static str, from: &str, to: &str, size: usize) -> Step {
        Step {
            at_ms: Some(at_ms),
            kind,
            shape: Shape::Arrow {
                from: from.into(),
                to: to.into(),
                heavy: false,
            },
            label: format!("{kind} <x>"),
            size: Some(size),
            bytes: Some("a".repeat(size)),
        }
    }

    fn at(mut s: Step, t: f64) -> Step {
        s.at_ms = Some(t);
        s
    }

    #[test]
    fn the_simulated_wire_sits_between_the_clients_and_a_named_far_end() {
        let mut d = Diagram::default();
        d.set_far("your program");
        d.push(arrow(0.0, "send", "A", "your program", 5));
        d.push(at(Step::boxed("segment", NETWORK, "segment"), 1.0));
        d.push(arrow(2.0, "read", "your program", "B", 5));
        assert_eq!(d.lanes(), ["A", "B", NETWORK, "your program"]);
        let svg = d.svg(600.0);
        assert!(
            svg.contains("between A, B, the wire (simulated), your program, time going down"),
            "{svg}"
        );
        // The segment's box is drawn across the wire's lifeline.
        let wire_x = 134.0 + (600.0 - 60.0 - 134.0) * 2.0 / 3.0;
        let step = svg.split("sl-seq-k-segment").nth(1).unwrap();
        let rect = step.split("<rect").nth(1).unwrap();
        let number = |name: &str| -> f64 {
            let after = rect.split(&format!(" {name}=\"")).nth(1).unwrap();
            after.split('"').next().unwrap().parse().unwrap()
        };
        let (x, w) = (number("x"), number("width"));
        assert!(x < wire_x && wire_x < x + w, "{x} {w} {wire_x}");
    }

    #[test]
    fn every_step_is_drawn_in_order_with_its_size_and_a_growing_time() {
        let mut d = Diagram::default();
        d.push(at(Step::note("connecting"), 100.0));
        d.push(arrow(101.0, "send", "first connection", SERVER, 13));
        d.push(at(Step::boxed("server", SERVER, "read 13 bytes"), 103.5));
        d.push(arrow(104.0, "read", SERVER, "first connection", 18));
        d.push(arrow(2000.0, "send", "second connection", SERVER, 3));
        let svg = d.svg(600.0);
        let kinds: Vec<&str> = svg
            .split("data-step=\"")
            .skip(1)
            .map(|s| &s[..s.find('"').unwrap()])
            .collect();
        assert_eq!(kinds, ["note", "send", "server", "read", "send"]);
        let times: Vec<f64> = svg
            .split("data-t=\"")
            .skip(1)
            .map(|s| s[..s.find('"').unwrap()].parse().unwrap())
            .collect();
        assert_eq!(times, [0.0, 1.0, 3.5, 4.0, 1900.0]);
        assert!(svg.contains("data-size=\"13\"") && svg.contains("data-size=\"18\""));
        // Two client lifelines and the server's; the gap is marked.
        assert!(svg.contains(">first connection<") && svg.contains(">second connection<"));
        assert!(svg.contains(">server<"));
        assert!(svg.contains("⋮ 1.90 s"));
        // Text is escaped.
        assert!(svg.contains("send &lt;x&gt;") && !svg.contains("<x>"));
    }

    #[test]
    fn a_long_run_keeps_the_last_steps_and_says_so() {
        let mut d = Diagram::default();
        for i in 0..(MAX_STEPS + 5) {
            d.push(arrow(i as f64, "send", CLIENT, SERVER, 1));
        }
        assert_eq!(d.steps().len(), MAX_STEPS);
        assert!(
            d.svg(400.0)
                .contains("(5 earlier steps are in the list below)")
        );
        d.clear();
        assert!(d.steps().is_empty());
    }

    #[test]
    fn a_description_names_its_lanes_and_a_wrong_one_says_where() {
        let d = parse(
            "# the handshake\nlanes: client | server\nclient -> server: SYN\nserver -> client: SYN+ACK\n\
             client => server: data\nbox server: accept() returns\nnote: established",
        )
        .unwrap();
        let svg = d.svg(420.0);
        assert_eq!(svg.matches("class=\"sl-seq-step").count(), 5);
        assert!(svg.contains("sl-seq-heavy") && svg.contains(">client<"));
        assert!(!svg.contains("data-t="), "a book diagram has no clock");
        let err = parse("lanes: a | b\na -> c: x").unwrap_err();
        assert!(
            err.contains("line 2") && err.contains("no lane \"c\""),
            "{err}"
        );
        assert!(
            parse("a -> b: x")
                .unwrap_err()
                .contains("name the lanes first")
        );
    }

    /// Each book diagram's SVG is what its description draws. With
    /// `SOCKET_LAB_WRITE_DIAGRAMS=1` the SVGs are written instead (after
    /// editing a description).
    #[test]
    fn the_book_diagrams_are_drawn_from_their_descriptions() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../book/src/diagrams");
        let write = std::env::var_os("SOCKET_LAB_WRITE_DIAGRAMS").is_some();
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).expect("book/src/diagrams") {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "seq") {
                continue;
            }
            seen += 1;
            let desc = std::fs::read_to_string(&path).unwrap();
            let svg = parse(&desc)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
                .svg(BOOK_WIDTH)
                + "\n";
            let out = path.with_extension("svg");
            if write {
                std::fs::write(&out, &svg).unwrap();
            } else {
                let committed = std::fs::read_to_string(&out).unwrap_or_default();
                assert!(
                    committed == svg,
                    "{} is not what {} draws: run SOCKET_LAB_WRITE_DIAGRAMS=1 cargo test -p wasm-client book_diagrams",
                    out.display(),
                    path.display()
                );
            }
        }
        assert!(seen >= 5, "only {seen} diagram descriptions");
    }
}

//! The sequence diagram every lab draws beside its timeline: one lifeline per
//! end (the page's clients on the left, the server on the right), time going
//! down, each send and each read an arrow labelled with its size and bytes,
//! the server's own account as boxes on its lifeline, notes and errors
//! across.
//!
//! It is drawn from the very rows the timeline lists (the timeline is the
//! table view of the same steps, and what a screen reader reads), so the
//! two cannot disagree. Each step keeps the page's clock at the moment it
//! was shown, in ms since the first step: the axis is that clock, one row per
//! step, with the time written beside it and a gap marked where time passed.
//!
//! Pure: [`Diagram::svg`] returns the markup, and the tests read it natively.

use crate::timeline::Side;

/// Steps kept; older ones leave the diagram (the list keeps them all).
const MAX_STEPS: usize = 80;
/// Height of one step.
const ROW: f64 = 34.0;
/// Space above the first step, for the lifelines' names.
const TOP: f64 = 44.0;
/// The time column on the left.
const TIME_W: f64 = 64.0;
/// The width of one character of the diagram's monospace type (13 px).
const CHAR_W: f64 = 8.0;
/// The name of the server's lifeline.
pub const SERVER: &str = "server";
/// The lane of a client that did not say which it is.
pub const CLIENT: &str = "the page";

/// One thing the lab showed.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// When it was shown, in ms on the page's clock.
    pub at_ms: f64,
    /// What kind of step.
    pub side: Side,
    /// Which client it belongs to (ignored for the server's steps).
    pub lane: String,
    /// The timeline's words for it.
    pub label: String,
    /// Bytes sent or read, if any.
    pub size: Option<usize>,
    /// The bytes as shown in the timeline (text, or hex and ASCII).
    pub bytes: Option<String>,
}

/// The steps of one run.
#[derive(Debug, Default, Clone)]
pub struct Diagram {
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

    /// The client lanes, in the order they first appear.
    fn lanes(&self) -> Vec<&str> {
        let mut lanes: Vec<&str> = Vec::new();
        for s in &self.steps {
            if matches!(s.side, Side::Send | Side::Read) && !lanes.contains(&s.lane.as_str()) {
                lanes.push(&s.lane);
            }
        }
        if lanes.is_empty() {
            lanes.push(CLIENT);
        }
        lanes
    }

    /// The diagram as SVG markup, `width` user units wide (the element's
    /// width in CSS pixels, so text keeps its size at any width).
    pub fn svg(&self, width: f64) -> String {
        let width = width.max(300.0);
        let lanes = self.lanes();
        let server_x = width - 60.0;
        let left = TIME_W + 40.0;
        let span = (server_x - left).max(80.0);
        // Clients share the left part; the server is alone on the right.
        let client_x = |lane: &str| {
            let i = lanes.iter().position(|l| *l == lane).unwrap_or(0) as f64;
            let n = lanes.len() as f64;
            left + span * 0.45 * i / n.max(1.0)
        };
        let height = TOP + ROW * self.steps.len().max(1) as f64 + 16.0;
        let t0 = self.steps.first().map_or(0.0, |s| s.at_ms);
        let mut out = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"sl-seq-svg\" viewBox=\"0 0 {width:.0} {height:.0}\" \
             width=\"{width:.0}\" height=\"{height:.0}\" role=\"group\" aria-label=\"Sequence diagram: {} steps, time going down\">",
            self.steps.len()
        );
        out.push_str("<text class=\"sl-seq-head\" x=\"4\" y=\"18\">time</text>");
        let mut heads: Vec<(f64, &str)> = lanes.iter().map(|l| (client_x(l), *l)).collect();
        heads.push((server_x, SERVER));
        for (x, name) in &heads {
            out.push_str(&format!(
                "<text class=\"sl-seq-head\" x=\"{x:.1}\" y=\"18\" text-anchor=\"middle\">{}</text>\
                 <line class=\"sl-seq-life\" x1=\"{x:.1}\" y1=\"26\" x2=\"{x:.1}\" y2=\"{:.1}\"/>",
                esc(&cut(name, 18)),
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
            let t = s.at_ms - t0;
            let gap = s.at_ms - last_t > 1000.0;
            last_t = s.at_ms;
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
            let aria = format!("{} at {}: {detail}", s.side.kind(), ms(t));
            out.push_str(&format!(
                "<g class=\"sl-seq-step sl-seq-{}\" data-kind=\"{}\" data-t=\"{t:.3}\"{} tabindex=\"0\" role=\"img\" aria-label=\"{}\"><title>{}</title>",
                s.side.kind(),
                s.side.kind(),
                s.size.map(|n| format!(" data-size=\"{n}\"")).unwrap_or_default(),
                esc(&aria),
                esc(&aria)
            ));
            out.push_str(&format!(
                "<text class=\"sl-seq-time{}\" x=\"4\" y=\"{:.1}\">{}{}</text>",
                if gap { " sl-seq-gap" } else { "" },
                y + 4.0,
                if gap { "⋮ " } else { "" },
                ms(t)
            ));
            match s.side {
                Side::Send | Side::Read => {
                    let cx = client_x(&s.lane);
                    let (x1, x2) = if s.side == Side::Send {
                        (cx, server_x)
                    } else {
                        (server_x, cx)
                    };
                    let (y1, y2) = (y - 6.0, y + 8.0);
                    let chars = ((x2 - x1).abs() / CHAR_W) as usize;
                    let text = if what.is_empty() {
                        s.label.clone()
                    } else {
                        what.clone()
                    };
                    out.push_str(&format!(
                        "<line class=\"sl-seq-arrow\" x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" marker-end=\"url(#sl-seq-head)\"/>\
                         <text class=\"sl-seq-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                        (x1 + x2) / 2.0,
                        y - 8.0,
                        esc(&cut(&text, chars.max(6)))
                    ));
                }
                Side::Server => {
                    let w = (width * 0.42).min(260.0);
                    let x = server_x - w - 6.0;
                    let chars = ((w - 12.0) / CHAR_W) as usize;
                    let text = if what.is_empty() {
                        s.label.clone()
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
                Side::Note | Side::Error => {
                    let chars = ((width - left) / 7.0) as usize; // proportional type
                    out.push_str(&format!(
                        "<text class=\"sl-seq-note{}\" x=\"{left:.1}\" y=\"{:.1}\">{}</text>",
                        if s.side == Side::Error {
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
            "<defs><marker id=\"sl-seq-head\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\">\
             <path class=\"sl-seq-tip\" d=\"M 0 0 L 10 5 L 0 10 z\"/></marker></defs></svg>",
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(at_ms: f64, side: Side, lane: &str, size: Option<usize>) -> Step {
        Step {
            at_ms,
            side,
            lane: lane.into(),
            label: format!("{} <x>", side.kind()),
            size,
            bytes: size.map(|n| "a".repeat(n)),
        }
    }

    #[test]
    fn every_step_is_drawn_in_order_with_its_size_and_a_growing_time() {
        let mut d = Diagram::default();
        d.push(step(100.0, Side::Note, CLIENT, None));
        d.push(step(101.0, Side::Send, "first connection", Some(13)));
        d.push(step(103.5, Side::Server, SERVER, Some(13)));
        d.push(step(104.0, Side::Read, "first connection", Some(18)));
        d.push(step(2000.0, Side::Send, "second connection", Some(3)));
        let svg = d.svg(600.0);
        let kinds: Vec<&str> = svg
            .split("data-kind=\"")
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
            d.push(step(i as f64, Side::Send, CLIENT, Some(1)));
        }
        assert_eq!(d.steps().len(), MAX_STEPS);
        assert!(
            d.svg(400.0)
                .contains("(5 earlier steps are in the list below)")
        );
        d.clear();
        assert!(d.steps().is_empty());
    }
}

//! The labs and how one is chosen and mounted.

pub mod framing;

use web_sys::HtmlElement;

use crate::dom::Listener;

/// What a mounted lab keeps alive: its listeners (and, later, its connections).
pub struct Mounted {
    _listeners: Vec<Listener>,
}

impl Mounted {
    pub(crate) fn new(listeners: Vec<Listener>) -> Self {
        Self {
            _listeners: listeners,
        }
    }
}

/// Mounts the lab called `lab` into `root`.
pub fn mount(root: &HtmlElement, lab: &str, _server: &str) -> Result<Mounted, String> {
    root.set_inner_html("");
    root.class_list().add_1("sl-lab").ok();
    match lab {
        "framing" => Ok(framing::mount(root)),
        other => Err(format!(
            "<socket-lab lab=\"{other}\">: there is no such lab; try lab=\"framing\""
        )),
    }
}

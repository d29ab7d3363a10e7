//! Small DOM helpers: build elements, listen to events without leaking.
//!
//! Listeners are stored in [`Listener`] values that unregister themselves on
//! drop, so a lab that is removed from the page leaves nothing behind (no
//! `Closure::forget`).

use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{Document, Element, Event, EventTarget};

/// The page's document.
pub(crate) fn document() -> Document {
    web_sys::window()
        .and_then(|w| w.document())
        .expect("labs run in a page with a document")
}

/// Creates `<tag class=…>` with optional text.
pub(crate) fn el(tag: &str, class: &str, text: &str) -> Element {
    let e = document()
        .create_element(tag)
        .expect("creating an element of a known tag");
    if !class.is_empty() {
        e.set_class_name(class);
    }
    if !text.is_empty() {
        e.set_text_content(Some(text));
    }
    e
}

/// Appends `child` to `parent` and returns the child.
pub(crate) fn add(parent: &Element, child: Element) -> Element {
    parent
        .append_child(&child)
        .expect("appending to an element");
    child
}

/// Sets an attribute, ignoring the impossible failure for valid names.
pub(crate) fn attr(e: &Element, name: &str, value: &str) {
    let _ = e.set_attribute(name, value);
}

/// An event listener that is removed when dropped.
pub(crate) struct Listener {
    target: EventTarget,
    kind: &'static str,
    closure: Closure<dyn FnMut(Event)>,
}

impl Listener {
    /// Listens for `kind` events on `target`.
    pub(crate) fn new(
        target: &EventTarget,
        kind: &'static str,
        f: impl FnMut(Event) + 'static,
    ) -> Self {
        let closure = Closure::<dyn FnMut(Event)>::new(f);
        target
            .add_event_listener_with_callback(kind, closure.as_ref().unchecked_ref())
            .expect("adding an event listener");
        Self {
            target: target.clone(),
            kind,
            closure,
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self
            .target
            .remove_event_listener_with_callback(self.kind, self.closure.as_ref().unchecked_ref());
    }
}

/// Fetches `url` (relative to the page) as text.
pub(crate) async fn fetch_text(url: &str) -> Result<String, String> {
    let window = web_sys::window().ok_or("no window")?;
    let resp = wasm_bindgen_futures::JsFuture::from(window.fetch_with_str(url))
        .await
        .map_err(|e| format!("could not fetch {url}: {e:?}"))?;
    let resp: web_sys::Response = resp.dyn_into().map_err(|_| "not a response".to_owned())?;
    if !resp.ok() {
        return Err(format!("{url}: HTTP {}", resp.status()));
    }
    let text = wasm_bindgen_futures::JsFuture::from(resp.text().map_err(|e| format!("{e:?}"))?)
        .await
        .map_err(|e| format!("{e:?}"))?;
    text.as_string()
        .ok_or_else(|| "the response was not text".to_owned())
}

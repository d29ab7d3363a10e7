// Socket Lab loader: defines <socket-lab lab="…"> and hands each element to the
// Rust/wasm side. This file is the only JavaScript; the labs are Rust.
//
// Embed in any page (classic script, no bundler):
//   <script src="http://127.0.0.1:8000/socket-lab.js"></script>
//   <socket-lab lab="framing"></socket-lab>
(() => {
  "use strict";
  if (customElements.get("socket-lab")) return;
  const script = document.currentScript;
  const base = new URL(".", script ? script.src : document.baseURI);
  const wasm = import(new URL("pkg/wasm_client.js", base).href).then(async (mod) => {
    await mod.default({ module_or_path: new URL("pkg/wasm_client_bg.wasm", base) });
    return mod;
  });

  class SocketLab extends HTMLElement {
    connectedCallback() {
      if (this.lab) return;
      this.setAttribute("aria-busy", "true");
      wasm
        .then((mod) => {
          if (!this.isConnected || this.lab) return;
          this.lab = mod.mount(this, base.href);
          this.removeAttribute("aria-busy");
          this.dataset.ready = "true";
          // For the page-speed measurement: when the latest lab became usable.
          document.documentElement.dataset.labsReadyMs = String(Math.round(performance.now()));
          this.dispatchEvent(new CustomEvent("socket-lab-ready", { bubbles: true }));
        })
        .catch((err) => {
          this.removeAttribute("aria-busy");
          this.textContent = `Socket Lab could not start this lab: ${err && err.message ? err.message : err}`;
          this.classList.add("sl-failed");
        });
    }

    disconnectedCallback() {
      if (this.lab) {
        this.lab.free();
        this.lab = undefined;
      }
    }
  }

  customElements.define("socket-lab", SocketLab);
})();

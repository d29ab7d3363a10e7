// Loads the Socket Lab element loader from the site root (the book is served at /book/).
// mdBook emits additional-js as a classic script and defines `path_to_root`.
(() => {
  const root = typeof path_to_root === "string" ? path_to_root : "";
  const css = document.createElement("link");
  css.rel = "stylesheet";
  css.href = root + "../socket-lab.css";
  document.head.appendChild(css);
  const s = document.createElement("script");
  s.src = root + "../socket-lab.js";
  document.head.appendChild(s);
})();

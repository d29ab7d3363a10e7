// Keyboard and screen-reader fixes for mdBook's own chrome, checked by the
// axe test (e2e/tests/a11y.rs):
// - the sidebar toggle is a <label> that mdBook gives aria-expanded; as a
//   button (which it acts as) that state is allowed and announced;
// - a code block or table that scrolls sideways can be scrolled from the
//   keyboard once it can take focus.
(() => {
  const fix = () => {
    const toggle = document.getElementById("mdbook-sidebar-toggle");
    if (toggle) toggle.setAttribute("role", "button");
    for (const el of document.querySelectorAll(".content pre > code, .content .table-wrapper")) {
      if (el.scrollWidth > el.clientWidth) {
        el.setAttribute("tabindex", "0");
      } else {
        el.removeAttribute("tabindex");
      }
    }
  };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", fix);
  } else {
    fix();
  }
  // Again once fonts and highlighting have settled the widths.
  window.addEventListener("load", fix);
  window.addEventListener("resize", fix);
})();

// The course site's few additions to sphinx-book-theme's behaviour (loaded deferred, every page).
"use strict";

// ← and → turn the page (navigation_with_keys), except where they have a job of their own: in a
// code block, an output, a formula or a table (which scroll sideways), or with text selected in
// one. Sphinx listens on the document while bubbling; this listener runs first, while capturing.
(() => {
  const BOXES = "pre, div.highlight, .cell_input, .cell_output, div.math, .MathJax_Display, " +
                ".MathJax, table, .pst-scrollable-table-container";
  const inBox = node => {
    const element = node && (node.nodeType === 1 ? node : node.parentElement);
    return Boolean(element && element.closest && element.closest(BOXES));
  };
  document.addEventListener("keydown", event => {
    if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
    const selection = window.getSelection();
    if (inBox(event.target) || inBox(document.activeElement) ||
        (selection && selection.rangeCount && inBox(selection.anchorNode))) {
      event.stopPropagation();
    }
  }, true);
})();

// Search results: Sphinx quotes a page's whole main element, theme buttons and TeX source
// included ("…tem Settings Light Dark…", "\mathbb E_{…}"). Quote the article's text instead,
// without the page's banner, the header links and the notebooks' outputs, a formula as "[math]".
(() => {
  if (typeof Search === "undefined" || !Search.htmlToText) return;
  Search.htmlToText = (htmlString, anchor) => {
    const doc = new DOMParser().parseFromString(htmlString, "text/html");
    const article = doc.querySelector("article.bd-article") || doc.querySelector('[role="main"]');
    if (!article) return "";
    article.querySelectorAll(".headerlink, script, style, .course-role, .cell_output")
      .forEach(element => element.remove());
    article.querySelectorAll(".math").forEach(element => element.replaceWith(" [math] "));
    const part = (anchor && article.querySelector(anchor)) || article;
    return part.textContent.replace(/\s+/g, " ");
  };
})();

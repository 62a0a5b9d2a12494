// MathJax 2 settings of the course site, read before MathJax.js. Sphinx writes math as \( \) and
// \[ \]; notebook HTML outputs may hold $...$ as in Jupyter. jupyter-server-mathjax ships the
// STIX-Web fonts only, so no other font is ever requested.
window.MathJax = {
  tex2jax: {inlineMath: [["\\(", "\\)"], ["$", "$"]], displayMath: [["\\[", "\\]"], ["$$", "$$"]],
            processEscapes: true, processClass: "math|output_area|cell_output",
            ignoreClass: "tex2jax_ignore|mathjax_ignore"},
  "HTML-CSS": {availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null,
               // a display too wide for the column scrolls in its box (course.css) rather than
               // break at a point MathJax picks (inside an underbrace, say)
               linebreaks: {automatic: false},
               // HTML-CSS declares a blank fallback font at url('about:blank'), which Chromium
               // refuses with a console error: a local() source names the same nothing quietly
               styles: {"@font-face": {"font-family": "MathJax_Blank", src: "local('MathJax_Blank')"}}},
  SVG: {font: "STIX-Web"},
  NativeMML: {styles: {
    '[mathvariant="double-struck"]': {"font-family": "serif"},
    '[mathvariant="script"]': {"font-family": "serif"},
    '[mathvariant="fraktur"]': {"font-family": "serif"},
    '[mathvariant="bold-script"]': {"font-family": "serif", "font-weight": "bold"},
    '[mathvariant="bold-fraktur"]': {"font-family": "serif", "font-weight": "bold"}
  }},
  messageStyle: "none",
  menuSettings: {zoom: "Double-Click"}
};

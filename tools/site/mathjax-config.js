// MathJax 2 settings of the course site, read before MathJax.js. Sphinx writes math as \( \) and
// \[ \]; notebook HTML outputs may hold $...$ as in Jupyter. jupyter-server-mathjax ships the
// STIX-Web fonts only, so no other font is ever requested.
window.MathJax = {
  tex2jax: {inlineMath: [["\\(", "\\)"], ["$", "$"]], displayMath: [["\\[", "\\]"], ["$$", "$$"]],
            processEscapes: true, processClass: "math|output_area|cell_output",
            ignoreClass: "tex2jax_ignore|mathjax_ignore"},
  "HTML-CSS": {availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null,
               linebreaks: {automatic: true}},
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

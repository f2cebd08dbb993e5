// A line that starts with "|" outside a code block must belong to a table: a table whose
// separator row (|---|) is missing is read as a paragraph of pipes, which markdownlint's
// own rules do not see.
"use strict";

module.exports = {
  names: ["TS001", "table-lines-in-tables"],
  description: "Lines starting with | must be part of a table (is the |---| row missing?)",
  tags: ["table"],
  parser: "micromark",
  function: (params, onError) => {
    const covered = new Set();
    const mark = (tokens) => {
      for (const token of tokens) {
        if (token.type === "table" || token.type.startsWith("codeFenced") ||
            token.type === "codeIndented" || token.type === "htmlFlow") {
          for (let line = token.startLine; line <= token.endLine; line++) covered.add(line);
        } else if (token.children) {
          mark(token.children);
        }
      }
    };
    mark(params.parsers.micromark.tokens);
    params.lines.forEach((text, index) => {
      const line = index + 1;
      if (text.trimStart().startsWith("|") && !covered.has(line)) {
        onError({ lineNumber: line, context: text.slice(0, 40) });
      }
    });
  },
};

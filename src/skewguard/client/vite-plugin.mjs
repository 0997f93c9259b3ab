/**
 * skewguard's Vite plugin: every dynamic import() in the app's own modules holds the page while
 * it loads, as `skewguard build` does for the files it hashes. Each import expression becomes
 *
 *   Object(globalThis.__skewguardImport||Object)(import("./x.js"))
 *
 * before Vite hashes its chunks, so the hashed names stay true to their bytes. skewguard's browser
 * client defines __skewguardImport (it counts the promise in flight until it settles and returns
 * it unchanged); on a page without the client, Object(p) is p.
 *
 *   // vite.config.js
 *   import skewguardImports from "./skewguard-vite-plugin.mjs";
 *   export default defineConfig({ plugins: [skewguardImports()] });
 *
 * It needs only this.parse, the bundler's own parser, which finds the import expressions; tested with
 * Vite 8 (Rolldown) and Vite 7 (Rollup). It returns the source map of its insertions, so the maps
 * Vite writes keep every column.
 */
const OPEN = "Object(globalThis.__skewguardImport||Object)(";
const CLOSE = ")";

export default function skewguardImports() {
  return {
    name: "skewguard-imports",
    apply: "build",
    enforce: "post", // after TypeScript, JSX, Vue and Svelte have become JavaScript
    transform(code, id) {
      if (!/\bimport\s*\(/.test(code)) return null;
      let ast;
      try {
        ast = this.parse(code);
      } catch (e) {
        return null; // not JavaScript (a stylesheet, a JSON module): nothing to wrap
      }
      const calls = [];
      (function visit(node) {
        if (Array.isArray(node)) return node.forEach(visit);
        if (!node || typeof node.type !== "string") return;
        if (node.type === "ImportExpression") calls.push(node);
        for (const key in node) {
          const value = node[key];
          if (value && typeof value === "object" && key !== "loc") visit(value);
        }
      })(ast);
      if (!calls.length) return null;
      const edits = [];
      for (const call of calls) edits.push([call.start, OPEN], [call.end, CLOSE]);
      edits.sort((a, b) => a[0] - b[0]); // a nested call opens after its parent, closes before
      let out = "";
      let last = 0;
      for (const [at, text] of edits) {
        out += code.slice(last, at) + text;
        last = at;
      }
      out += code.slice(last);
      return { code: out, map: insertionMap(code, edits, id) };
    },
  };
}

/**
 * The source map of pure insertions (none holds a line break): every line of the code stays where
 * it was, and on a line each original character moves right by the length of what was inserted
 * at or before it. One segment per token (word or punctuation), so that the bundler, which
 * composes this map with its own, keeps the column of every token after a wrapped import().
 */
function insertionMap(code, edits, id) {
  const lines = [[]]; // per generated line: [generated column, source line, source column]
  let lineStart = 0;
  let shift = 0;
  let next = 0; // the first edit not yet counted
  const token = /\n|[\w$]+|[^\w$\s]/g;
  for (let match; (match = token.exec(code)); ) {
    const at = match.index;
    if (match[0] === "\n") {
      lines.push([]);
      lineStart = at + 1;
      shift = 0;
      continue;
    }
    for (; next < edits.length && edits[next][0] <= at; next++) {
      if (edits[next][0] >= lineStart) shift += edits[next][1].length;
    }
    const column = at - lineStart;
    lines[lines.length - 1].push([column + shift, lines.length - 1, column]);
  }
  // Source map v3: generated columns relative within a line; source index, line and column
  // relative to the previous segment anywhere in the map; each field a base64 VLQ.
  let sourceLine = 0;
  let sourceColumn = 0;
  const mappings = lines.map((segments) => {
    let generated = 0;
    return segments
      .map(([column, line, original]) => {
        const fields = [column - generated, 0, line - sourceLine, original - sourceColumn];
        generated = column;
        sourceLine = line;
        sourceColumn = original;
        return fields.map(vlq).join("");
      })
      .join(",");
  });
  return {
    version: 3,
    sources: [id],
    sourcesContent: [code],
    names: [],
    mappings: mappings.join(";"),
  };
}

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

function vlq(value) {
  let rest = value < 0 ? (-value << 1) | 1 : value << 1; // the sign in the lowest bit
  let out = "";
  do {
    let digit = rest & 31;
    rest >>>= 5;
    if (rest > 0) digit |= 32; // more digits follow
    out += BASE64[digit];
  } while (rest > 0);
  return out;
}

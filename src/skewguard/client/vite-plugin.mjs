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
 * Tested with Vite 8 (Rolldown). It needs only this.parse (the bundler's own parser, which finds the
 * import expressions); the Rollup-based Vite 5 to 7 provide it too.
 */
const OPEN = "Object(globalThis.__skewguardImport||Object)(";

export default function skewguardImports() {
  return {
    name: "skewguard-imports",
    apply: "build",
    enforce: "post", // after TypeScript, JSX, Vue and Svelte have become JavaScript
    transform(code) {
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
      // Insert from the end, so that earlier offsets stay valid; a nested call is inside its
      // parent, so the parent's end comes first and its start last.
      const edits = [];
      for (const call of calls) edits.push([call.end, ")"], [call.start, OPEN]);
      edits.sort((a, b) => b[0] - a[0]);
      let out = code;
      for (const [at, text] of edits) out = out.slice(0, at) + text + out.slice(at);
      return { code: out, map: null };
    },
  };
}

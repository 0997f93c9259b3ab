import { defineConfig } from "vite";

// Vite writes public/ (litestar-vite reads public/.vite/manifest.json); `skewguard build public
// --out dist` then passes the hashed files through under Vite's names and keeps earlier releases.
export default defineConfig({
  base: "/static/",
  build: {
    outDir: "public",
    manifest: true,
    emptyOutDir: true,
    rollupOptions: { input: "src/main.js" },
  },
});

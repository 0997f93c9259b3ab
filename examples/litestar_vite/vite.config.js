import { defineConfig } from "vite";

// Vite writes public/ (litestar-vite reads public/.vite/manifest.json); `skewguard build public
// --out dist` then passes the hashed files through under Vite's names and keeps earlier releases.
export default defineConfig({
  base: "/static/",
  publicDir: false, // public/ is the build output (litestar-vite's bundle_dir), not Vite's input
  build: {
    outDir: "public",
    manifest: true,
    emptyOutDir: true,
    rollupOptions: { input: "src/main.js" },
  },
});

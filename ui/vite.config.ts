// Builds the page into ui/dist with fixed file names: the Rust binary embeds
// dist/index.html, dist/app.js and dist/style.css for `--dashboard`, and Tauri serves the
// folder in the window. Relative URLs, so that both origins work; no inline script (both
// serve it under a `script-src 'self'` policy).
import { defineConfig } from 'vite';

export default defineConfig({
  base: './',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    modulePreload: false,
    rollupOptions: {
      output: {
        entryFileNames: 'app.js',
        chunkFileNames: '[name].js',
        assetFileNames: '[name][extname]',
      },
    },
  },
});

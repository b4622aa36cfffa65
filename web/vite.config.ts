// The console's build: app/ in, dist/ out. The server embeds dist/ and serves it at `/`.
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  root: 'app',
  base: '/',
  plugins: [react()],
  build: { outDir: '../dist', emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 1024 },
});

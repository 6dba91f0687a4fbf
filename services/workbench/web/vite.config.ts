import vue from '@vitejs/plugin-vue'
import { fileURLToPath, URL } from 'node:url'
import { defineConfig } from 'vite'

// Everything the app needs is bundled into dist/: no CDN (government intranets have none).
export default defineConfig({
  plugins: [vue()],
  resolve: { alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) } },
  build: {
    outDir: 'dist',
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 2000,
    rollupOptions: {
      output: {
        manualChunks: { 'element-plus': ['element-plus', '@element-plus/icons-vue'], echarts: ['echarts'] },
      },
    },
  },
  // `npm run dev`: the BFF (python -m services.workbench) answers /api and /auth.
  server: { proxy: { '/api': 'http://127.0.0.1:8000', '/auth': 'http://127.0.0.1:8000' } },
})

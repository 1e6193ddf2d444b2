import react from "@vitejs/plugin-react";
import tailwindcss from "@tailwindcss/vite";
import { defineConfig } from "vitest/config";

// The client is served by the homeserver at `/`; `npm run dev` proxies the API to a local one.
export default defineConfig({
  plugins: [react(), tailwindcss()],
  build: { target: "es2022", sourcemap: false, chunkSizeWarningLimit: 4000 },
  server: {
    proxy: { "/_matrix": "http://127.0.0.1:8008", "/.well-known": "http://127.0.0.1:8008" },
  },
  test: { include: ["src/**/*.test.ts"], environment: "node" },
});

import { defineConfig } from "@playwright/test";

// `make e2e` picks a free port and a fresh data directory and points these variables at the built server.
const port = process.env.E2E_PORT ?? "3917";
const baseURL = `http://127.0.0.1:${port}`;

export default defineConfig({
  testDir: "./tests",
  timeout: 60_000,
  expect: { timeout: 15_000 },
  workers: 1,
  reporter: [["list"]],
  outputDir: "test-results",
  use: {
    baseURL,
    trace: "retain-on-failure",
    launchOptions: {
      // Debian's Chromium: Playwright's own browser download is not reachable from these machines.
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  projects: [{ name: "chromium", use: { browserName: "chromium" } }],
  webServer: {
    command: process.env.E2E_SERVER_BIN ?? "../target/debug/pixzoo",
    url: `${baseURL}/healthz`,
    reuseExistingServer: false,
    timeout: 120_000,
    stdout: "pipe",
    stderr: "pipe",
    env: {
      PIXZOO_ADDR: `127.0.0.1:${port}`,
      PIXZOO_DATA_DIR: process.env.E2E_DATA_DIR ?? "../target/e2e-data",
      PIXZOO_SITE_ROOT: process.env.E2E_SITE_ROOT ?? "../target/site",
      RUST_LOG: "warn",
    },
  },
});

import { defineConfig } from "@playwright/test";

import { AUTH_KEY, authPort, baseURL, port } from "./servers";

const server = (listen: string, dataDir: string, extra: Record<string, string> = {}) => ({
  command: process.env.E2E_SERVER_BIN ?? "../target/debug/pixzoo",
  url: `http://${listen}/healthz`,
  reuseExistingServer: false,
  timeout: 120_000,
  stdout: "pipe" as const,
  stderr: "pipe" as const,
  env: {
    PIXZOO_ADDR: listen,
    PIXZOO_DATA_DIR: dataDir,
    PIXZOO_SITE_ROOT: process.env.E2E_SITE_ROOT ?? "../target/site",
    RUST_LOG: "warn",
    // The suite makes requests and images far faster than a person; limits have their own tests.
    PIXZOO_SECURITY__REQUESTS_PER_SECOND: "0",
    PIXZOO_SECURITY__GENERATIONS_PER_MINUTE: "0",
    PIXZOO_SECURITY__DERIVATIVES_PER_MINUTE: "0",
    PIXZOO_SECURITY__UPLOADS_PER_MINUTE: "0",
    ...extra,
  },
});

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
  webServer: [
    server(`127.0.0.1:${port}`, process.env.E2E_DATA_DIR ?? "../target/e2e-data"),
    server(`127.0.0.1:${authPort}`, process.env.E2E_AUTH_DATA_DIR ?? "../target/e2e-auth-data", {
      API_KEY: AUTH_KEY,
      PIXZOO_SIGNING_KEY: "e2e-signing-key-0123456789ab",
    }),
  ],
});

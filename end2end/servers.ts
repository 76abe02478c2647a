// The two servers `make e2e` starts: the main one, and one with an API key for the sign-in tests.
// `make e2e` picks free ports and fresh data directories and passes them in these variables.
export const port = process.env.E2E_PORT ?? "3917";
export const authPort = process.env.E2E_AUTH_PORT ?? "3918";
export const baseURL = `http://127.0.0.1:${port}`;
export const authURL = `http://127.0.0.1:${authPort}`;
export const AUTH_KEY = "e2e-studio-key-8c1f";

import { expect, type Page } from "@playwright/test";

/** Fails the test on any console error or uncaught exception (a broken bundle shows up here first). */
export function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(error.message));
  return errors;
}

export async function openHydrated(page: Page, path = "/") {
  await page.goto(path);
  // The marker is set by an effect, and effects only run once the WASM bundle has hydrated the page.
  await expect(page.locator('[data-hydrated="true"]')).toBeAttached();
}


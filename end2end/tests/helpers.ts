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


/** Scrolls through the page so lazy images load, waits for every image, then returns to the top. */
export async function loadAllImages(page: Page) {
  const height = await page.evaluate(() => document.body.scrollHeight);
  for (let y = 0; y < height; y += 600) {
    await page.evaluate((top) => window.scrollTo(0, top), y);
    await page.waitForTimeout(50);
  }
  await expect
    .poll(() => page.evaluate(() => Array.from(document.images).every((img) => img.complete && img.naturalWidth > 0)))
    .toBe(true);
  await page.evaluate(() => window.scrollTo(0, 0));
}

import { expect, test } from "@playwright/test";

import { collectErrors, openHydrated } from "./helpers";

test("the studio's controls keep their state across navigation", async ({ page }) => {
  const errors = collectErrors(page);
  await openHydrated(page);
  const studio = page.getByRole("region", { name: "Generate" });
  await studio.getByLabel("Prompt").fill("e2e remembered heron");
  await studio.getByRole("button", { name: /^3:2/ }).click();
  await studio.getByLabel("Seed", { exact: true }).fill("77");
  await studio.getByLabel("Translate & optimise").uncheck();
  const maker = page.getByRole("region", { name: "Make an image by URL" });
  await maker.getByLabel("Words").fill("e2e remembered crane");

  // Away through the app's own links, and back.
  await page.getByRole("navigation").getByRole("link", { name: "Gallery" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Gallery");
  await page.getByRole("navigation").getByRole("link", { name: "Studio" }).click();

  await expect(studio.getByLabel("Prompt")).toHaveValue("e2e remembered heron");
  await expect(studio.getByLabel("Width")).toHaveValue("1216");
  await expect(studio.getByLabel("Height")).toHaveValue("832");
  await expect(studio.getByLabel("Fixed seed")).toBeChecked();
  await expect(studio.getByLabel("Seed", { exact: true })).toHaveValue("77");
  await expect(studio.getByLabel("Translate & optimise")).not.toBeChecked();
  await expect(maker.getByLabel("Words")).toHaveValue("e2e remembered crane");
  expect(errors).toEqual([]);
});

test("a generation started in the studio finishes while the user is in the gallery", async ({ page }) => {
  const errors = collectErrors(page);
  await openHydrated(page);
  const studio = page.getByRole("region", { name: "Generate" });
  await studio.getByLabel("Prompt").fill("e2e wandering ibis");
  await studio.getByRole("button", { name: "Generate", exact: true }).click();
  await page.getByRole("navigation").getByRole("link", { name: "Gallery" }).click();
  await expect(page.getByTestId("gallery-grid")).toBeVisible();
  await page.getByRole("navigation").getByRole("link", { name: "Studio" }).click();
  await expect(studio.getByTestId("result").getByTestId("prompt")).toHaveText("e2e wandering ibis");
  await expect(studio.getByTestId("progress")).toContainText("Done in");
  await studio.getByRole("link", { name: "Open in URL builder" }).click();
  await expect(page).toHaveURL(/\/gallery\/[0-9a-f]{32}#builder$/);
  await expect(page.getByRole("region", { name: "URL builder" })).toBeVisible();
  expect(errors).toEqual([]);
});

test("the Placeholder-Zoo builder makes a URL with model and seed and previews it", async ({ page }) => {
  const errors = collectErrors(page);
  await openHydrated(page);
  const maker = page.getByRole("region", { name: "Make an image by URL" });
  await maker.getByLabel("Width").fill("300");
  await maker.getByLabel("Height").fill("200");
  await maker.getByLabel("Words").fill("e2e preview seal");
  await maker.getByLabel("Model").selectOption("builtin");
  await maker.getByLabel("Seed").fill("7");
  const link = maker.getByTestId("url-maker-link");
  await expect(link).toHaveText("/300x200/e2e-preview-seal?model=builtin&seed=7");
  await maker.getByLabel("Seed").fill("4294967296");
  await expect(maker.getByRole("alert")).toContainText("seed");
  await expect(maker.getByRole("button", { name: "Preview" })).toBeDisabled();
  await maker.getByLabel("Seed").fill("7");

  await maker.getByRole("button", { name: "Preview" }).click();
  const preview = maker.getByTestId("url-maker-preview");
  await expect
    .poll(() => preview.evaluate((img: HTMLImageElement) => [img.complete, img.naturalWidth, img.naturalHeight]))
    .toEqual([true, 300, 200]);
  expect(errors).toEqual([]);
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("the prompt form posts, shows the result page, and explains bad input", async ({ page }) => {
    await page.goto("/");
    const studio = page.getByRole("region", { name: "Generate" });
    await expect(studio.getByLabel("Model")).toContainText("Builtin placeholder renderer");
    await studio.getByLabel("Prompt").fill("e2e no script otter");
    await studio.getByLabel("Width").fill("400");
    await studio.getByLabel("Height").fill("300");
    await studio.getByRole("button", { name: "Generate", exact: true }).click();

    await expect(page).toHaveURL(/\/gallery\/[0-9a-f]{32}$/);
    await expect(page.getByTestId("details")).toContainText("e2e no script otter");
    const image = page.getByRole("img", { name: "e2e no script otter" });
    await expect
      .poll(() => image.evaluate((img: HTMLImageElement) => [img.complete, img.naturalWidth, img.naturalHeight]))
      .toEqual([true, 400, 300]);

    // Bad input: back to the form, filled in as it was, with the problem in words.
    await page.goto("/");
    await studio.getByLabel("Prompt").fill("e2e no script giant");
    await studio.getByLabel("Width").fill("5000");
    await studio.getByRole("button", { name: "Generate", exact: true }).click();
    // A code in the redirect, never words from it: the page says it with the numbers it parsed.
    await expect(page).toHaveURL(/error=size$/);
    await expect(studio.getByRole("alert")).toContainText(/Size: 5000×\d+ is out of range/);
    await expect(studio.getByLabel("Prompt")).toHaveValue("e2e no script giant");
    await expect(studio.getByLabel("Width")).toHaveValue("5000");
  });
});

test("the studio works from the keyboard alone, with focus always visible", async ({ page }) => {
  const errors = collectErrors(page);
  await openHydrated(page);
  const focused = () =>
    page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      if (!el) return null;
      const style = getComputedStyle(el);
      return {
        name: el.getAttribute("name") ?? el.textContent?.trim() ?? "",
        visible: style.outlineStyle !== "none" || style.boxShadow !== "none",
      };
    });
  // Tab from the top of the page to the prompt, then on to Generate; every stop shows where focus is.
  async function tabTo(name: string) {
    for (let i = 0; i < 40; i++) {
      await page.keyboard.press("Tab");
      const now = await focused();
      expect(now?.visible, `focus on ${now?.name} is visible`).toBe(true);
      if (now?.name === name) return;
    }
    throw new Error(`Tab never reached ${name}`);
  }
  await tabTo("prompt");
  await page.keyboard.type("e2e keyboard puffin");
  await tabTo("Generate");
  await page.keyboard.press("Enter");
  const studio = page.getByRole("region", { name: "Generate" });
  await expect(studio.getByTestId("progress")).toContainText("Done in");
  await expect(studio.getByTestId("result").getByTestId("prompt")).toHaveText("e2e keyboard puffin");
  expect(errors).toEqual([]);
});

import { expect, test, type Page } from "@playwright/test";

import { collectErrors, openHydrated } from "./helpers";

/** A PNG the server made, to use as a file from this computer. */
async function picture(page: Page, words: string): Promise<Buffer> {
  const response = await page.request.get(`/320x240/${words}.png?model=builtin`);
  expect(response.ok()).toBeTruthy();
  return Buffer.from(await response.body());
}

/** Paints a stroke across the left half of the mask canvas. */
async function paintLeftHalf(page: Page) {
  const canvas = page.getByTestId("mask-canvas");
  const box = (await canvas.boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.1, box.y + box.height * 0.3);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.5, { steps: 5 });
  await page.mouse.move(box.x + box.width * 0.4, box.y + box.height * 0.7, { steps: 5 });
  await page.mouse.up();
}

/** How much of an image on this server is white and how much black (a mask's two parts). */
async function whiteAndBlack(page: Page, url: string): Promise<[number, number]> {
  return page.evaluate(async (src) => {
    const image = new Image();
    image.src = src;
    await image.decode();
    const canvas = document.createElement("canvas");
    canvas.width = image.naturalWidth;
    canvas.height = image.naturalHeight;
    const context = canvas.getContext("2d")!;
    context.drawImage(image, 0, 0);
    const { data } = context.getImageData(0, 0, canvas.width, canvas.height);
    let white = 0;
    let black = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (data[i] > 200) white++;
      else if (data[i] < 50) black++;
    }
    return [white, black] as [number, number];
  }, url);
}

test("a dropped photo is edited inside a painted mask and shown before and after", async ({ page }) => {
  const errors = collectErrors(page);
  const file = await picture(page, "e2e-dropped-lighthouse");
  await openHydrated(page);
  const studio = page.getByRole("region", { name: "Generate" });
  await studio.getByRole("link", { name: "Edit an image" }).click();
  await expect(studio.getByTestId("drop-zone")).toBeVisible();

  // Drop the file on the zone, as a file dragged from the desktop arrives.
  const dataTransfer = await page.evaluateHandle((bytes) => {
    const transfer = new DataTransfer();
    transfer.items.add(new File([new Uint8Array(bytes)], "lighthouse.png", { type: "image/png" }));
    return transfer;
  }, [...file]);
  await studio.getByTestId("drop-zone").dispatchEvent("drop", { dataTransfer });
  await expect(studio.getByTestId("edit-source")).toBeVisible();
  await expect.poll(() => studio.getByTestId("edit-source").evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(320);

  await paintLeftHalf(page);
  await expect(studio.getByText("Only the painted part changes.")).toBeVisible();
  await studio.getByLabel(/^Strength/).fill("60");
  await studio.getByLabel("What to make of it").fill("e2e a stormy night");
  await studio.getByLabel("Model").selectOption("builtin");
  await studio.getByRole("button", { name: "Edit", exact: true }).click();

  await expect(studio.getByTestId("progress")).toContainText("Done in");
  const compare = studio.getByTestId("before-after");
  await expect(compare).toBeVisible();
  // The slider moves from the keyboard too.
  const slider = compare.getByLabel("Before and after");
  await slider.focus();
  await page.keyboard.press("End");
  await expect(compare.getByTestId("before")).toHaveAttribute("style", /inset\(0 0% 0 0\)/);

  // Stored as an edit of the upload, with the mask that was painted: white where painted, black elsewhere.
  const edits = await (await page.request.get("/api/images?kind=edit&limit=1")).json();
  const edit = edits.images[0];
  expect(edit.prompt).toBe("e2e a stormy night");
  expect(edit.strength).toBe(0.6);
  expect(edit.source_id).toBeTruthy();
  expect(edit.mask_id).toBeTruthy();
  const [white, black] = await whiteAndBlack(page, `/img/${edit.mask_id}`);
  expect(white).toBeGreaterThan(100);
  expect(black).toBeGreaterThan(white);

  // Lineage both ways on the image pages.
  await page.goto(`/gallery/${edit.id}`);
  await page.getByTestId("edited-from").getByRole("link").click();
  await expect(page).toHaveURL(`/gallery/${edit.source_id}`);
  await expect(page.getByTestId("edits").getByRole("link").first()).toHaveAttribute("href", `/gallery/${edit.id}`);
  expect(errors).toEqual([]);
});

test("on a phone, an image page's Edit this image opens the studio with it and a finger paints", async ({ browser }) => {
  const context = await browser.newContext({ viewport: { width: 360, height: 780 }, hasTouch: true, isMobile: true });
  const page = await context.newPage();
  const errors = collectErrors(page);
  const made = await page.request.get("/300x200/e2e-phone-harbour?model=builtin");
  const id = made.headers()["x-image-id"];
  await openHydrated(page, `/gallery/${id}`);
  await page.getByRole("link", { name: "Edit this image" }).click();
  const studio = page.getByRole("region", { name: "Generate" });
  const source = studio.getByTestId("edit-source");
  await expect(source).toHaveAttribute("src", `/img/${id}`);
  await expect.poll(() => source.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(300);

  const box = (await studio.getByTestId("mask-canvas").boundingBox())!;
  await page.touchscreen.tap(box.x + box.width / 2, box.y + box.height / 2);
  await expect(studio.getByText("Only the painted part changes.")).toBeVisible();
  await studio.getByLabel("What to make of it").fill("e2e a harbour at dawn");
  await studio.getByLabel("Model").selectOption("builtin");
  await studio.getByRole("button", { name: "Edit", exact: true }).click();
  await expect(studio.getByTestId("before-after")).toBeVisible();
  // Nothing wider than the screen.
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
  expect(errors).toEqual([]);
  await context.close();
});

test("without JavaScript the Edit form still posts the file", async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  const file = await picture(page, "e2e-no-script-barn");
  await page.goto("/?mode=edit");
  const form = page.getByTestId("edit-form");
  await form.locator('input[name="image"]').setInputFiles({ name: "barn.png", mimeType: "image/png", buffer: file });
  await form.getByLabel("What to make of it").fill("e2e a barn in snow");
  await form.getByRole("button", { name: "Edit", exact: true }).click();
  await expect(page).toHaveURL(/\/gallery\/[0-9a-f]{32}$/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("e2e a barn in snow");
  await expect(page.getByTestId("edited-from")).toContainText("Edited from");
  await context.close();
});

test("a pasted image becomes the source, and another can be picked from the gallery", async ({ page }) => {
  const errors = collectErrors(page);
  const file = await picture(page, "e2e-pasted-kite");
  const made = await page.request.get("/200x200/e2e-gallery-pick?model=builtin");
  const picked = made.headers()["x-image-id"];
  await openHydrated(page, "/?mode=edit");
  const studio = page.getByRole("region", { name: "Generate" });
  const zone = studio.getByTestId("drop-zone");
  // Playwright cannot make a ClipboardEvent with data; the page can.
  await zone.evaluate((element, bytes) => {
    const clipboardData = new DataTransfer();
    clipboardData.items.add(new File([new Uint8Array(bytes)], "kite.png", { type: "image/png" }));
    element.dispatchEvent(new ClipboardEvent("paste", { clipboardData, bubbles: true }));
  }, [...file]);
  await expect(studio.getByTestId("edit-source")).toBeVisible();
  const pasted = await studio.getByTestId("edit-source").getAttribute("src");

  await studio.getByRole("button", { name: "Choose another image" }).click();
  await studio.getByRole("button", { name: "Edit e2e gallery pick" }).click();
  await expect(studio.getByTestId("edit-source")).toHaveAttribute("src", `/img/${picked}`);
  expect(pasted).not.toBe(`/img/${picked}`);
  expect(errors).toEqual([]);
});

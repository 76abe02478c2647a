import { expect, test } from "@playwright/test";

import { AUTH_KEY, authURL } from "../servers";
import { collectErrors } from "./helpers";

// Everything here runs against the second server, started with API_KEY set.
test.use({ baseURL: authURL });

test("with an API key, the studio refuses until signed in, then generates and deletes", async ({ page, context }) => {
  const errors = collectErrors(page);
  await page.goto("/");
  await expect(page.locator('[data-hydrated="true"]')).toBeAttached();
  const studio = page.getByRole("region", { name: "Generate" });
  const signIn = studio.getByTestId("sign-in");
  await expect(signIn).toContainText("needs its API key");

  // Not signed in: refused, in words, next to the form.
  await studio.getByLabel("Prompt").fill("e2e guarded badger");
  await studio.getByRole("button", { name: "Generate", exact: true }).click();
  await expect(studio.getByRole("alert")).toHaveText("Sign in with the server's API key to generate.");

  // A wrong key says so.
  await signIn.getByLabel("API key").fill("not-the-key");
  await signIn.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/sign-in\?failed=1/);
  await expect(page.getByRole("alert")).toContainText("not this server's API key");

  // The right key: a session cookie the page's scripts cannot read, and back to the studio.
  await page.getByLabel("API key").fill(AUTH_KEY);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(`${authURL}/`);
  const session = (await context.cookies()).find((c) => c.name === "pixzoo_session");
  expect(session?.httpOnly).toBe(true);
  expect(session?.sameSite).toBe("Strict");
  expect(session?.value).not.toContain(AUTH_KEY);
  expect(await page.evaluate(() => document.cookie)).toBe("");
  expect(await page.content()).not.toContain(AUTH_KEY);

  await expect(page.locator('[data-hydrated="true"]')).toBeAttached();
  await expect(studio.getByTestId("sign-in")).toHaveCount(0);
  await studio.getByLabel("Prompt").fill("e2e guarded badger");
  await studio.getByRole("button", { name: "Generate", exact: true }).click();
  await expect(studio.getByTestId("progress")).toContainText("Done in");
  await expect(studio.getByTestId("result").getByTestId("prompt")).toHaveText("e2e guarded badger");

  // Signed in, delete works too.
  await studio.getByRole("link", { name: "Open in URL builder" }).click();
  await expect(page.getByTestId("details")).toContainText("e2e guarded badger");
  await page.getByRole("button", { name: "Delete" }).click();
  await page.getByRole("button", { name: "Confirm delete" }).click();
  await expect(page).toHaveURL(/\/gallery$/);

  // Signing out ends the session on the server, not only in this browser.
  const token = session!.value;
  await page.goto("/");
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(studio.getByTestId("sign-in")).toBeVisible();
  await context.addCookies([{ name: "pixzoo_session", value: token, url: authURL }]);
  await page.goto("/");
  await expect(studio.getByTestId("sign-in")).toBeVisible();
  expect(errors).toEqual([]);
});

test("with signed URLs on, the URL maker signs for a signed-in user and unsigned URLs make nothing new", async ({ page, request }) => {
  const errors = collectErrors(page);
  expect((await request.get("/200x100/e2e-unsigned-marmot")).status()).toBe(403);

  await page.goto("/");
  await expect(page.locator('[data-hydrated="true"]')).toBeAttached();
  const maker = page.getByRole("region", { name: "Make an image by URL" });
  await expect(maker).toContainText("only for signed URLs");
  await maker.getByLabel("Words").fill("e2e signed marmot");
  await maker.getByRole("button", { name: "Preview" }).click();
  await expect(maker.getByRole("alert")).toContainText("Sign in with the server's API key to sign URLs.");

  await page.getByTestId("sign-in").getByLabel("API key").fill(AUTH_KEY);
  await page.getByTestId("sign-in").getByRole("button", { name: "Sign in" }).click();
  await expect(page.locator('[data-hydrated="true"]')).toBeAttached();
  await maker.getByLabel("Words").fill("e2e signed marmot");
  await maker.getByRole("button", { name: "Preview" }).click();
  const link = maker.getByTestId("url-maker-link");
  await expect(link).toHaveText(/^\/800x600\/e2e-signed-marmot\?sig=[A-Za-z0-9_-]{43}$/);
  const preview = maker.getByTestId("url-maker-preview");
  await expect
    .poll(() => preview.evaluate((img: HTMLImageElement) => [img.complete, img.naturalWidth, img.naturalHeight]))
    .toEqual([true, 800, 600]);
  // Stored now, so the plain URL serves it too.
  expect((await request.get("/800x600/e2e-signed-marmot")).status()).toBe(200);
  expect(errors).toEqual([]);
});

test("with an API key, deleting without signing in is refused", async ({ page, request }) => {
  const made = await request.post("/api/image", {
    headers: { Authorization: `Bearer ${AUTH_KEY}` },
    data: { messages: [{ role: "user", content: "e2e guarded newt" }], model: "builtin", size: "200x200" },
  });
  expect(made.status()).toBe(200);
  const id = (await made.json()).id;
  expect(id).toMatch(/^[0-9a-f]{32}$/);
  await page.goto(`/gallery/${id}`);
  await expect(page.locator('[data-hydrated="true"]')).toBeAttached();
  await page.getByRole("button", { name: "Delete" }).click();
  await page.getByRole("button", { name: "Confirm delete" }).click();
  await expect(page.getByRole("alert")).toHaveText("Sign in with the server's API key to delete images.");
  expect((await request.get(`/img/${id}`)).status()).toBe(200);
});

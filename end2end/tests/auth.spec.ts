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

test("with an API key, deleting without signing in is refused", async ({ page, request }) => {
  const made = await request.get("/200x200/e2e-guarded-newt");
  expect(made.status()).toBe(200);
  const id = made.headers()["x-image-id"];
  expect(id).toMatch(/^[0-9a-f]{32}$/);
  await page.goto(`/gallery/${id}`);
  await expect(page.locator('[data-hydrated="true"]')).toBeAttached();
  await page.getByRole("button", { name: "Delete" }).click();
  await page.getByRole("button", { name: "Confirm delete" }).click();
  await expect(page.getByRole("alert")).toHaveText("Sign in with the server's API key to delete images.");
  expect((await request.get(`/img/${id}`)).status()).toBe(200);
});

import { expect, test, type Page } from '@playwright/test';
import { E2E_DEVELOPER, E2E_OTHER_CUSTOMER, E2E_PASSWORD, E2E_PASSWORD_CHANGER, E2E_USER } from '../accounts';
import { roleBadge } from '../helpers';

// Local sign-in: a plain form, so the same flow is tested with and without JavaScript.

async function signIn(page: Page, password = E2E_PASSWORD, user = E2E_USER) {
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

for (const javaScriptEnabled of [true, false]) {
  test.describe(javaScriptEnabled ? 'hydrated' : 'without JavaScript', () => {
    test.use({ javaScriptEnabled });

    test('sign in, come back where you were going, sign out', async ({ page }) => {
      await page.goto('/sign-in?next=/apps/validate');
      await signIn(page);
      await expect(page).toHaveURL('/apps/validate');
      const header = page.getByRole('banner');
      await expect(header).toContainText('E2E Admin');
      await expect(roleBadge(page)).toHaveText('admin');

      await header.getByRole('button', { name: 'Sign out' }).click();
      await expect(page).toHaveURL(/\/sign-in\?signed_out=1$/);
      await expect(page.getByRole('status')).toHaveText('You are signed out.');
      await expect(page.getByRole('banner').getByRole('link', { name: 'Sign in' })).toBeVisible();
    });
  });
}

test('a wrong password says so and signs nobody in', async ({ page, context }) => {
  await page.goto('/sign-in');
  await signIn(page, 'not-the-password');
  await expect(page.getByRole('alert')).toHaveText('Wrong username or password.');
  // The username stays typed; only the password is asked again.
  await expect(page.getByLabel('Username')).toHaveValue(E2E_USER);
  await expect(page.getByLabel('Password')).toHaveValue('');
  await expect(page.getByLabel('Password')).toBeFocused();
  expect(page.url()).not.toContain('not-the-password');
  const cookies = await context.cookies();
  expect(cookies.find((cookie) => cookie.name === 'dscloud_session')).toBeUndefined();
});

test('the session cookie is HttpOnly and SameSite=Lax', async ({ page, context }) => {
  await page.goto('/sign-in');
  await signIn(page);
  const session = (await context.cookies()).find((cookie) => cookie.name === 'dscloud_session');
  expect(session?.httpOnly).toBe(true);
  expect(session?.sameSite).toBe('Lax');
  // Scripts cannot read it.
  expect(await page.evaluate(() => document.cookie)).not.toContain('dscloud_session');
});

test('without a session every page leads to sign-in, and back after it', async ({ page }) => {
  await page.goto('/apps/validate');
  await expect(page).toHaveURL('/sign-in?next=/apps/validate');
  await signIn(page);
  await expect(page).toHaveURL('/apps/validate');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Check a dscloud.yaml');
});

test('a developer sees their sections only and is refused the admin pages', async ({ page }) => {
  await page.goto('/sign-in');
  await signIn(page, E2E_PASSWORD, E2E_DEVELOPER);
  const nav = page.getByRole('navigation', { name: 'Main' });
  for (const label of ['Apps', 'Deploys', 'Secrets']) {
    await expect(nav.getByRole('link', { name: label, exact: true })).toBeVisible();
  }
  for (const label of ['Databases', 'Users', 'Audit']) {
    await expect(nav.getByRole('link', { name: label, exact: true })).toHaveCount(0);
  }
  // The home page offers the same sections, no more, and starts with their
  // apps and recent deploys.
  await page.goto('/');
  await expect(page.getByRole('region', { name: 'Apps' })).toBeVisible();
  await expect(page.getByRole('region', { name: 'Recent deploys' })).toBeVisible();
  await expect(page.getByRole('region', { name: 'Engines' })).toHaveCount(0);
  await expect(page.getByRole('region', { name: 'Your databases' })).toHaveCount(0);
  const cards = page.getByRole('region', { name: 'What you can do' });
  for (const label of ['Apps', 'Deploys', 'Secrets']) {
    await expect(cards.getByRole('link', { name: label, exact: true })).toBeVisible();
  }
  for (const label of ['Databases', 'Users', 'Audit']) {
    await expect(cards.getByRole('link', { name: label, exact: true })).toHaveCount(0);
  }
  const response = await page.goto('/admin/users');
  expect(response?.status()).toBe(403);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Not allowed');
  // Styled like every other page: the portal's stylesheet, its header and panel.
  await expect(page.locator('.site-header .brand')).toBeVisible();
  const panel = page.locator('main .panel');
  expect(await panel.evaluate((element) => getComputedStyle(element).borderRadius)).not.toBe('0px');
  await page.getByRole('link', { name: 'Go to the overview' }).click();
  await expect(page).toHaveURL('/');
});

test('my account: who I am, a password change that checks the old one, sign out', async ({ page }) => {
  await page.goto('/sign-in?next=/account');
  await signIn(page, E2E_PASSWORD, E2E_PASSWORD_CHANGER);
  await expect(page).toHaveURL('/account');
  const main = page.getByRole('main');
  await expect(main).toContainText('Pat Changer');
  await expect(main).toContainText('customer');
  await expect(main).toContainText('a password');

  const form = page.getByRole('form', { name: 'Change my password' });
  const newPassword = 'a-fresh-password-for-pat';
  // A mismatched repetition is the user's slip, said as such (never a 500).
  const mismatch = page.waitForResponse((response) => response.url().endsWith('/api/change_my_password'));
  await form.getByLabel('Current password').fill(E2E_PASSWORD);
  await form.getByLabel('New password (at least 12 characters)').fill(newPassword);
  await form.getByLabel('New password, again').fill(newPassword + '-typo');
  await form.getByRole('button', { name: 'Change password' }).click();
  expect((await mismatch).status()).toBe(400);
  await expect(page.getByRole('alert')).toContainText('the new password and its repetition differ');

  await form.getByLabel('Current password').fill('not-my-password');
  await form.getByLabel('New password (at least 12 characters)').fill(newPassword);
  await form.getByLabel('New password, again').fill(newPassword);
  await form.getByRole('button', { name: 'Change password' }).click();
  await expect(page.getByRole('alert')).toHaveText('the current password is wrong');

  await form.getByLabel('Current password').fill(E2E_PASSWORD);
  await form.getByRole('button', { name: 'Change password' }).click();
  await expect(page.getByRole('status')).toContainText('Your password is changed');

  await main.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/sign-in\?signed_out=1$/);
  await signIn(page, E2E_PASSWORD, E2E_PASSWORD_CHANGER);
  await expect(page.getByRole('alert')).toHaveText('Wrong username or password.');
  await signIn(page, newPassword, E2E_PASSWORD_CHANGER);
  await expect(page.getByRole('banner')).toContainText('Pat Changer');
});

test("a customer's home offers databases only", async ({ page }) => {
  await page.goto('/sign-in');
  await signIn(page, E2E_PASSWORD, E2E_OTHER_CUSTOMER);
  await expect(page).toHaveURL('/');
  await expect(page.getByRole('region', { name: 'Your databases' })).toBeVisible();
  await expect(page.getByRole('region', { name: 'Engines' })).toHaveCount(0);
  const cards = page.getByRole('region', { name: 'What you can do' });
  await expect(cards.getByRole('link', { name: 'Databases', exact: true })).toBeVisible();
  for (const label of ['Apps', 'Deploys', 'Secrets', 'Users', 'Audit']) {
    await expect(cards.getByRole('link', { name: label, exact: true })).toHaveCount(0);
  }
});

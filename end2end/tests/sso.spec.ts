import { expect, test, type Page } from '@playwright/test';

// Single sign-on through a real OpenID Connect provider (idp/idp.mjs, npm
// oidc-provider): code flow with PKCE, users created on first sign-in, their
// role from the groups claim. The IdP's login form takes any name; the name
// decides the groups. Serial: one test rotates the provider's signing key.
test.describe.configure({ mode: 'serial' });

async function signInWith(page: Page, provider: string, login: string) {
  await page.getByRole('button', { name: `Sign in with ${provider}` }).click();
  await page.locator('input[name=login]').fill(login);
  await page.locator('input[name=password]').fill('any password at all');
  await page.getByRole('button', { name: 'Sign-in' }).click();
}

const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}`;

test('SSO creates the user with the role their groups give, and comes back where they were going', async ({ page, context }) => {
  const login = unique('sso-dev');
  await page.goto('/apps/validate');
  await expect(page).toHaveURL('/sign-in?next=/apps/validate');
  await signInWith(page, 'Corp SSO', login);
  await expect(page).toHaveURL('/apps/validate');
  const header = page.getByRole('banner');
  await expect(header).toContainText(`${login} (corp)`);
  await expect(header).toContainText('developer');
  const cookies = await context.cookies();
  expect(cookies.find((cookie) => cookie.name === 'dscloud_session')?.sameSite).toBe('Lax');
  expect(cookies.find((cookie) => cookie.name === 'dscloud_sso_flow')).toBeUndefined();

  await page.goto('/account');
  await expect(page.getByRole('main')).toContainText('single sign-on (Corp SSO)');
  await expect(page.getByRole('main')).toContainText(`${login}@corp.test`);
  await expect(page.getByRole('form', { name: 'Change my password' })).toHaveCount(0);
});

test('the portal-admins group makes an admin', async ({ page }) => {
  await page.goto('/sign-in');
  await signInWith(page, 'Corp SSO', unique('sso-admin'));
  await expect(page.getByRole('banner')).toContainText('admin');
  await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' })).toBeVisible();
});

test('claims missing from the ID token (groups, name, email) are read from userinfo', async ({ page }) => {
  const login = unique('partner-dev');
  await page.goto('/sign-in');
  await signInWith(page, 'Partner ID', login);
  const header = page.getByRole('banner');
  await expect(header).toContainText('developer');
  // The ID token carries only `sub`: the name and email come from userinfo.
  await expect(header).toContainText(`${login} (partner)`);
  await page.goto('/account');
  await expect(page.getByRole('main')).toContainText(`${login}@partner.test`);
});

test('no mapped group: refused with a reason, or the default role where one is set', async ({ page, context }) => {
  await page.goto('/sign-in');
  await signInWith(page, 'Corp SSO', unique('sso-nobody'));
  await expect(page).toHaveURL(/\/sign-in\?error=sso_no_role/);
  await expect(page.getByRole('alert')).toHaveText(
    'Your groups at Corp SSO give you no role in this portal. Ask an admin for access.',
  );
  expect((await context.cookies()).find((cookie) => cookie.name === 'dscloud_session')).toBeUndefined();

  await signInWith(page, 'Partner ID', unique('partner-guest'));
  await expect(page.getByRole('banner')).toContainText('customer');
});

test('after the provider rotates its signing key, signing in still works', async ({ page, request }) => {
  await page.goto('/sign-in');
  await signInWith(page, 'Corp SSO', unique('sso-dev'));
  await expect(page.getByRole('banner')).toContainText('developer');
  await page.getByRole('banner').getByRole('button', { name: 'Sign out' }).click();

  // The portal still holds the old key; the next ID token names a new one.
  expect((await request.post('http://127.0.0.1:9400/__rotate-keys')).ok()).toBe(true);
  await signInWith(page, 'Corp SSO', unique('sso-dev'));
  await expect(page.getByRole('banner')).toContainText('developer');
});

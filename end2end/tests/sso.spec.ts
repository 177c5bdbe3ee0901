import { expect, test, type BrowserContext, type Page } from '@playwright/test';
import { roleBadge } from '../helpers';

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
  await expect(roleBadge(page)).toHaveText('developer');
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
  await expect(roleBadge(page)).toHaveText('admin');
  await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' })).toBeVisible();
});

test('claims missing from the ID token (groups, name, email) are read from userinfo', async ({ page }) => {
  const login = unique('partner-dev');
  await page.goto('/sign-in');
  await signInWith(page, 'Partner ID', login);
  const header = page.getByRole('banner');
  await expect(roleBadge(page)).toHaveText('developer');
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
  await expect(roleBadge(page)).toHaveText('customer');
});

/**
 * Runs a sign-in with Corp SSO up to the provider's redirect back to the
 * portal, and holds that redirect: its URL carries a real, unspent code. The
 * provider's answers are fetched here, following its own hops (the browser
 * would not route them), and the one that leads to the callback is kept.
 */
async function heldCallback(page: Page, context: BrowserContext) {
  await context.clearCookies();
  let callback = '';
  await page.route('http://127.0.0.1:9400/**', async (route) => {
    let url = route.request().url();
    let response = await route.fetch({ maxRedirects: 0 });
    for (let hop = 0; hop < 5; hop++) {
      const location = response.headers()['location'];
      if (!location) break;
      const next = new URL(location, url).toString();
      if (next.includes('/auth/sso/corp/callback')) {
        callback = next;
        await route.fulfill({ status: 200, contentType: 'text/plain', body: 'held by the test' });
        return;
      }
      if (!next.startsWith('http://127.0.0.1:9400/')) break;
      url = next;
      response = await page.context().request.get(next, { maxRedirects: 0 });
    }
    await route.fulfill({ response });
  });
  await page.goto('/sign-in');
  await signInWith(page, 'Corp SSO', unique('sso-dev'));
  await expect.poll(() => callback).not.toBe('');
  await page.unroute('http://127.0.0.1:9400/**');
  return new URL(callback);
}

async function expectRefused(page: Page, context: BrowserContext, error: string, why: string) {
  await expect(page, why).toHaveURL(new RegExp(`/sign-in\\?error=${error}`));
  expect((await context.cookies()).find((cookie) => cookie.name === 'dscloud_session'), why).toBeUndefined();
}

test('a forged state, a foreign issuer and a replayed callback are refused, with the real provider in the loop', async ({ page, context }) => {
  // Each case has its own flow and an unspent code: a check that let it
  // through would sign the browser in.
  const forged = await heldCallback(page, context);
  forged.searchParams.set('state', 'forged-state');
  await page.goto(forged.toString());
  await expectRefused(page, context, 'sso_failed', "a state that is not this browser's");

  // RFC 9207: the answer names its issuer; the partner's is not the one this flow went to.
  const foreign = await heldCallback(page, context);
  foreign.searchParams.set('iss', 'http://127.0.0.1:9401');
  await page.goto(foreign.toString());
  await expectRefused(page, context, 'sso_failed', 'another issuer');

  // The real callback signs in, once; the same callback again is refused
  // (the flow is spent with its first use), even in a browser with no session.
  const real = await heldCallback(page, context);
  await page.goto(real.toString());
  await expect(roleBadge(page)).toHaveText('developer');
  await context.clearCookies();
  await page.goto(real.toString());
  await expectRefused(page, context, 'sso_expired', 'a replayed callback');
});

test('after the provider rotates its signing key, signing in still works', async ({ page, request }) => {
  await page.goto('/sign-in');
  await signInWith(page, 'Corp SSO', unique('sso-dev'));
  await expect(roleBadge(page)).toHaveText('developer');
  await page.getByRole('banner').getByRole('button', { name: 'Sign out' }).click();

  // The portal still holds the old key; the next ID token names a new one.
  expect((await request.post('http://127.0.0.1:9400/__rotate-keys')).ok()).toBe(true);
  await signInWith(page, 'Corp SSO', unique('sso-dev'));
  await expect(roleBadge(page)).toHaveText('developer');
});

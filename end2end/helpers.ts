// What several end-to-end specs share: a real git repository to push
// dscloud.yaml commits to, and a browser context signed in as someone.
import { Browser, expect, Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { E2E_PASSWORD } from './accounts';

function git(cwd: string, ...args: string[]) {
  return execFileSync('git', args, { cwd, env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: cwd } }).toString().trim();
}

/** A bare repository and a working copy that pushes to it. */
export function repository() {
  const root = mkdtempSync(join(tmpdir(), 'portal-e2e-git-'));
  const bare = join(root, 'app.git');
  const work = join(root, 'work');
  mkdirSync(work);
  git(root, 'init', '--quiet', '--bare', '--initial-branch=main', 'app.git');
  git(work, 'init', '--quiet', '--initial-branch=main');
  git(work, 'config', 'user.name', 'Dana Developer');
  git(work, 'config', 'user.email', 'dana@example.test');
  git(work, 'remote', 'add', 'origin', bare);
  const commit = (file: string, message: string) => {
    writeFileSync(join(work, 'dscloud.yaml'), file);
    git(work, 'add', '--all');
    git(work, 'commit', '--quiet', '-m', message);
    git(work, 'push', '--quiet', 'origin', 'HEAD:refs/heads/main');
    return git(work, 'rev-parse', 'HEAD');
  };
  return { url: `file://${bare}`, commit };
}

/**
 * Waits until the whole page is hydrated: the front end marks `<html>` once
 * the page's lazy-route chunks are loaded and hydrated too. Before that, a
 * button that needs the WASM does nothing, and a form posts plainly and
 * reloads the page, which then cannot show the action's answer.
 */
export async function hydrated(page: Page) {
  await expect(page.locator('html[data-hydrated]')).toHaveCount(1);
}

export async function signedInAs(browser: Browser, baseURL: string | undefined, username: string, next: string, javaScriptEnabled = true) {
  const context = await browser.newContext({ baseURL, javaScriptEnabled, storageState: { cookies: [], origins: [] } });
  const page = await context.newPage();
  await page.goto(`/sign-in?next=${next}`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(E2E_PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page).toHaveURL(next);
  return { context, page };
}


/**
 * The signed-in person's role as the header's badge shows it (not any text in
 * the header: a login name such as `sso-admin-x` contains "admin" too).
 */
export function roleBadge(page: Page) {
  return page.getByRole('banner').locator('.viewer-name .badge');
}

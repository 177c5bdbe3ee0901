import { defineConfig } from '@playwright/test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  E2E_CUSTOMER,
  E2E_DEVELOPER,
  E2E_OTHER_CUSTOMER,
  E2E_OTHER_DEVELOPER,
  E2E_PASSWORD,
  E2E_PASSWORD_CHANGER,
  E2E_USER,
  SIGNED_IN_STATE,
} from './accounts';

// The portal under test: the release binary, on its own port and a fresh data
// directory, so a `make run` on port 3000 is left alone.
const port = Number(process.env.PORTAL_E2E_PORT ?? 3100);
const dataDir = mkdtempSync(join(tmpdir(), 'portal-e2e-'));
const root = resolve(__dirname, '..');
// The client secret idp/idp.mjs gives the portal's client (test-only).
const CLIENT_SECRET = 'e2e-client-secret-not-for-production';


export default defineConfig({
  testDir: './tests',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: true,
  workers: 2,
  forbidOnly: !!process.env.CI,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL: `http://localhost:${port}`,
    trace: 'retain-on-failure',
    launchOptions: {
      // Debian's Chromium, never a downloaded browser.
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
  },
  projects: [
    // Signs in once and keeps the session for the tests that need one.
    { name: 'sign-in setup', testMatch: /signed-in\.setup\.ts/ },
    {
      name: 'chromium',
      dependencies: ['sign-in setup'],
      testIgnore: /(sign-in|sso)\.spec\.ts/,
      use: { storageState: SIGNED_IN_STATE },
    },
    // The sign-in tests start without a session.
    { name: 'sign-in', testMatch: /(sign-in|sso)\.spec\.ts/ },
  ],
  webServer: [
    {
      // Two OpenID Connect providers (npm oidc-provider) for single sign-on.
      command: 'node idp/idp.mjs',
      cwd: __dirname,
      env: { PORTAL_URL: `http://localhost:${port}` },
      url: 'http://127.0.0.1:9401/.well-known/openid-configuration',
      reuseExistingServer: false,
      timeout: 30_000,
      stdout: 'pipe',
      stderr: 'pipe',
    },
    {
      // Accounts for the sign-in tests, then the portal itself.
      command:
        `printf '%s\\n' '${E2E_PASSWORD}' | target/release/portal --data-dir ${dataDir} admin create-user ${E2E_USER} ` +
        `--role admin --display-name 'E2E Admin' --password-stdin && ` +
        `printf '%s\\n' '${E2E_PASSWORD}' | target/release/portal --data-dir ${dataDir} admin create-user ${E2E_DEVELOPER} ` +
        `--role developer --display-name 'E2E Developer' --password-stdin && ` +
        `printf '%s\\n' '${E2E_PASSWORD}' | target/release/portal --data-dir ${dataDir} admin create-user ${E2E_OTHER_DEVELOPER} ` +
        `--role developer --display-name 'Devon Developer' --password-stdin && ` +
        `printf '%s\\n' '${E2E_PASSWORD}' | target/release/portal --data-dir ${dataDir} admin create-user ${E2E_PASSWORD_CHANGER} ` +
        `--role customer --display-name 'Pat Changer' --password-stdin && ` +
        `printf '%s\\n' '${E2E_PASSWORD}' | target/release/portal --data-dir ${dataDir} admin create-user ${E2E_CUSTOMER} ` +
        `--role customer --display-name 'Cora Customer' --password-stdin && ` +
        `printf '%s\\n' '${E2E_PASSWORD}' | target/release/portal --data-dir ${dataDir} admin create-user ${E2E_OTHER_CUSTOMER} ` +
        `--role customer --display-name 'Carl Customer' --password-stdin && ` +
        `target/release/portal serve --listen 127.0.0.1:${port} --data-dir ${dataDir} ` +
        `--public-url http://localhost:${port} --sso-config end2end/idp/sso.yaml`,
      cwd: root,
      env: { PORTAL_E2E_SSO_SECRET: CLIENT_SECRET },
      url: `http://127.0.0.1:${port}/readyz`,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: 'pipe',
      stderr: 'pipe',
    },
  ],
});

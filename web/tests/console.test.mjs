// Browser tests of the web console as the server serves it: headless Chromium from Debian's
// packages (no browser download) driven by playwright-core, every request outside 127.0.0.1
// blocked, against a fresh server with the demo data.
//
// 1. The design's flow: an admin signs in with TOTP, finds the denial reasons on the Teams
//    List, impersonates Olivia (reason, mode), sees the banner on every page, comments as
//    "Support team", finds team switching disabled, stops, and is back in their own team.
// 2. The approval flow, in two browser contexts: Quinn denies one request; a super admin
//    requests access to Quinn's
//    account, Quinn sees it live and approves, the admin enters read-only, is refused a
//    change, elevates with TOTP, Quinn sees the live notice and revokes, and the admin's banner
//    goes by itself, landing back in their own account.
// 3. Running sessions, live: Ada's new session appears on the super admin's page, he ends it,
//    and her banner goes by itself; the global switch off and on. Then the other screens
//    (history, audit log with a filter, 2FA enrolment through to "on"), a keyboard-only
//    sign-in, a reload that keeps the session, and a 390-px phone screen.
// 4. Four-eyes review, in two contexts.
// 5. Webhooks: a super admin adds an endpoint (a receiver here checks the signatures), sends a
//    test event, sees it delivered, rotates the secret.
// 6. Passkeys on a second server (IMPERSONATION_STEP_UP=passkey) at http://localhost:<port>,
//    with Chromium's virtual authenticator: registration on the Profile page, sign-in with
//    the passkey, and a step-up into a session.
// 7. The console stays true (issue 37): the consent box after moving between pages, the
//    header's name after saving it, an unasked window reaching an open Teams List, the
//    approved review preselected, a window refused while support access is off, staff words
//    in the live view and History, the audit filter from the server, deliveries going live,
//    passkey-only step-up told before a dialog opens; at 1280×800 and at 390×844.
// Each screen is checked with axe-core (no serious or critical violations) and saved as a
// screenshot in web/test-results/console-*.png. Any console error fails the run.
//
// Usage: node tests/console.test.mjs <server binary>   (run from web/)
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createHmac } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';
import { URI } from 'otpauth';

const binary = resolve(process.argv[2] ?? '../target/debug/crm-impersonation');
const chrome = process.env.CHROMIUM ?? '/usr/bin/chromium';
const shots = resolve('test-results');
mkdirSync(shots, { recursive: true });
for (const f of readdirSync(shots)) if (f.startsWith('console-')) rmSync(join(shots, f));
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const WAIT = { timeout: 15_000 };

let checks = 0;
function ok(cond, msg) {
  if (!cond) throw new Error(`FAIL ${msg}`);
  checks += 1;
}

const dir = mkdtempSync(join(tmpdir(), 'crm-console-'));
// Webhooks may go to the test's receiver on 127.0.0.1.
const env = { ...process.env, BIND_ADDR: '127.0.0.1:0', METRICS_ADDR: '127.0.0.1:0', RUST_LOG: 'warn', APP_ENV: 'development', WEBHOOK_ALLOW_PRIVATE: 'true' };

async function startServer(cwd = dir, extra = {}) {
  const child = spawn(binary, [], { cwd, env: { ...env, ...extra }, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const port = await new Promise((done, no) => {
    const timer = setTimeout(() => no(new Error('server did not start')), 60_000);
    lines.on('line', (l) => {
      const m = l.match(/^CRM API listening on http:\/\/127\.0\.0\.1:(\d+)$/);
      if (m) {
        clearTimeout(timer);
        done(Number(m[1]));
      }
    });
  });
  return { child, port };
}

/** A demo admin's TOTP code, as their authenticator shows it (`--next`: the next step's). */
function totp(email, next = false, cwd = dir) {
  const args = ['demo-totp', email, ...(next ? ['--next'] : [])];
  return execFileSync(binary, args, { cwd, env: { ...env, RUST_LOG: 'error' } }).toString().trim().split('\n').pop();
}

/** A loopback port nobody listens on now (the passkey server's origin must name its port). */
function freePort() {
  return new Promise((done) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => done(port));
    });
  });
}

const { child, port } = await startServer();
const servers = [];
const base = `http://127.0.0.1:${port}`;
const problems = [];
const browser = await chromium.launch({
  executablePath: chrome,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

const pages = [];
async function newPage(viewport = { width: 1280, height: 800 }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  pages.push(page);
  await page.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === '127.0.0.1' || url.hostname === 'localhost') return route.continue();
    problems.push(`request outside 127.0.0.1 and localhost: ${url.href}`);
    return route.abort();
  });
  page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
  page.on('pageerror', (e) => problems.push(`page error: ${e}`));
  return page;
}

/** axe-core on the page as it is: no serious or critical violation. */
async function axe(page, screen) {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
  ok(violations.length === 0, `axe on ${screen}: ${violations.join('; ')}`);
}

async function shot(page, name) {
  await page.screenshot({ path: join(shots, `console-${name}.png`), fullPage: true });
}

/** No horizontal scrolling: the page fits the screen's width. */
async function fits(page, screen) {
  const { scroll, width } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    width: window.innerWidth,
  }));
  ok(scroll <= width, `${screen} fits ${width} px (scroll width ${scroll})`);
}

async function signIn(page, email, password, twoFactor) {
  await page.goto(`${base}/`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  if (twoFactor) {
    await page.getByRole('heading', { name: 'Two-factor authentication' }).waitFor(WAIT);
    await page.getByLabel('The 6-digit code from your authenticator app').fill(totp(email));
    await page.getByRole('button', { name: 'Verify' }).click();
  }
  await page.getByTestId('who').waitFor(WAIT);
}

const row = (page, email) => page.getByTestId(`team-${email}`);
const banner = (page) => page.getByRole('region', { name: 'Impersonation' });

try {
  // Ten more customers than the demo has, so that the Teams List (10 a page) has a second page.
  for (let i = 1; i <= 10; i++) {
    const res = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query: 'mutation($i: RegisterInput!) { register(input: $i) { accessToken } }',
        variables: { i: { email: `customer${i}@example.test`, password: 'correct-horse-1', name: `Customer ${i}` } },
      }),
    });
    const body = await res.json();
    if (body.errors) throw new Error(`register customer${i}: ${JSON.stringify(body.errors)}`);
  }

  // ---- 1. The design's flow --------------------------------------------------------------
  const ada = await newPage();
  await ada.goto(`${base}/`);
  await ada.getByRole('heading', { name: 'Sign in' }).waitFor(WAIT);
  await axe(ada, 'sign in');
  await shot(ada, 'sign-in');
  await ada.getByLabel('Email').fill('admin@demo.test');
  await ada.getByLabel('Password').fill('demo-admin-1');
  await ada.getByRole('button', { name: 'Sign in' }).click();
  await ada.getByRole('heading', { name: 'Two-factor authentication' }).waitFor(WAIT);
  await axe(ada, '2FA step');
  ok(await ada.evaluate(() => document.activeElement?.getAttribute('autocomplete') === 'one-time-code'),
    'the code field has the focus at the 2FA step');
  await shot(ada, 'two-factor');
  await ada.getByLabel('The 6-digit code from your authenticator app').fill(totp('admin@demo.test'));
  await ada.getByRole('button', { name: 'Verify' }).click();
  await ada.getByRole('heading', { name: 'Teams' }).waitFor(WAIT);
  await row(ada, 'olivia@demo.test').waitFor(WAIT);

  // The session survives a reload.
  await ada.reload();
  await row(ada, 'olivia@demo.test').waitFor(WAIT);
  ok(await ada.getByTestId('who').textContent() === 'Ada Admin', 'signed in as Ada after a reload');
  const ownTeam = await ada.getByRole('combobox', { name: 'Team', exact: true }).locator('option:checked').textContent();

  // Denial reasons, in words, beside disabled buttons.
  const reasons = {
    'paul@demo.test': 'Paul has turned support access off',
    'super@demo.test': 'Super admins cannot be impersonated',
    'admin@demo.test': 'This is your own account',
  };
  for (const [email, words] of Object.entries(reasons)) {
    const r = row(ada, email);
    ok(await r.getByRole('button', { name: /Impersonate/ }).isDisabled(), `Impersonate disabled for ${email}`);
    ok((await r.textContent()).includes(words), `${email} says "${words}"`);
  }
  ok(await row(ada, 'quinn@demo.test').getByRole('button', { name: /Request access/ }).isVisible(),
    'Quinn, who approves each session, offers "Request access"');
  await axe(ada, 'teams list');
  await shot(ada, 'teams-list');

  // Pages: 15 teams, 10 a page, oldest first; the second page holds the last 5 customers.
  const pager = ada.getByRole('navigation', { name: 'Pages' });
  ok(await pager.getByRole('button', { name: 'Previous' }).isDisabled(), 'no page before the first');
  ok(await ada.locator('tbody tr').count() === 10, 'ten teams a page');
  await pager.getByRole('button', { name: 'Next' }).click();
  await pager.getByText('Page 2').waitFor(WAIT);
  await ada.waitForFunction(() => document.querySelectorAll('tbody tr').length === 5, null, WAIT);
  const second = await ada.locator('tbody').textContent();
  ok(!second.includes('@demo.test') && (second.match(/@example\.test/g) ?? []).length === 5,
    `page 2 holds the other five teams: ${second}`);
  ok(await pager.getByRole('button', { name: 'Next' }).isDisabled(), 'no page after the last');
  await pager.getByRole('button', { name: 'Previous' }).click();
  await row(ada, 'olivia@demo.test').waitFor(WAIT);

  // Search narrows the list.
  await ada.getByLabel('Search teams').fill('Olivia');
  await ada.waitForFunction(() => document.querySelectorAll('tbody tr').length === 1);
  ok(await row(ada, 'olivia@demo.test').isVisible(), 'search finds Olivia\'s team');

  // Impersonate Olivia: a reason and a mode.
  await row(ada, 'olivia@demo.test').getByRole('button', { name: /Impersonate/ }).click();
  const dialog = ada.getByRole('dialog');
  await dialog.getByLabel(/Reason/).fill('Ticket #42: invoice totals look wrong');
  await dialog.getByLabel('Mode').selectOption('READ_WRITE');
  await axe(ada, 'start dialog');
  await dialog.getByRole('button', { name: 'Start session' }).click();
  await banner(ada).waitFor(WAIT);
  const text = await banner(ada).textContent();
  ok(/Signed in as Olivia · read & write · \d+:\d\d left/.test(text), `banner says who, mode, time: ${text}`);
  await ada.getByRole('heading', { name: 'Businesses & leads' }).waitFor(WAIT);
  await axe(ada, 'businesses & leads, impersonating');
  await shot(ada, 'banner');

  // Team switching and team creation are disabled, with the reason.
  ok(await ada.getByRole('combobox', { name: 'Team', exact: true }).isDisabled(), 'team switcher disabled while impersonating');
  ok(await ada.getByRole('button', { name: 'New team' }).isDisabled(), 'New team disabled while impersonating');
  ok(await ada.getByText(/Team switching and new teams are off while you act as Olivia/).isVisible(), 'says why');

  // A comment as "Support team", shown apart.
  await ada.getByRole('link', { name: "Olivia's first lead" }).click();
  await ada.getByLabel('Add a comment').fill('Checked the invoice totals with Olivia.');
  await ada.getByRole('button', { name: 'Comment' }).click();
  const mine = ada.getByTestId('comment').filter({ hasText: 'Checked the invoice totals' });
  await mine.waitFor(WAIT);
  ok((await mine.getAttribute('class')).includes('support'), 'support comment styled apart');
  ok((await mine.textContent()).includes('Support team'), `support comment says "Support team": ${await mine.textContent()}`);
  ok(await banner(ada).isVisible(), 'banner on the lead page');
  await axe(ada, 'lead with comments');
  await shot(ada, 'support-comment');

  // Protected settings are disabled on the customer's profile.
  await ada.getByRole('link', { name: 'Profile', exact: true }).click();
  await ada.getByRole('heading', { name: 'Profile settings' }).waitFor(WAIT);
  ok(await ada.getByRole('button', { name: 'Change password' }).isDisabled(), 'password change disabled');
  ok(await ada.getByLabel(/Support staff may sign in as me/).isDisabled(), 'consent disabled');
  ok(await banner(ada).isVisible(), 'banner on the profile page');
  await axe(ada, 'profile, impersonating');
  await shot(ada, 'profile-impersonating');

  // Stop: back in Ada's own account and team.
  await banner(ada).getByRole('button', { name: 'Stop' }).click();
  await ada.getByRole('heading', { name: 'Teams' }).waitFor(WAIT);
  ok(!(await banner(ada).isVisible()), 'banner gone after Stop');
  ok(await ada.getByTestId('who').textContent() === 'Ada Admin', 'back as Ada');
  ok(await ada.getByRole('combobox', { name: 'Team', exact: true }).locator('option:checked').textContent() === ownTeam, `back in ${ownTeam}`);
  ok(await ada.getByRole('combobox', { name: 'Team', exact: true }).isEnabled(), 'team switching enabled again');

  // ---- 2. The approval flow, two contexts ------------------------------------------------
  const quinn = await newPage();
  await signIn(quinn, 'quinn@demo.test', 'demo-owner-3', false);
  await quinn.getByRole('link', { name: 'Support access' }).click();
  await quinn.getByRole('heading', { name: 'Support access' }).waitFor(WAIT);
  await quinn.getByText('Support cannot enter without your approval.').waitFor(WAIT);

  // A request Quinn turns down.
  await ada.getByLabel('Search teams').fill('Quinn');
  await row(ada, 'quinn@demo.test').getByRole('button', { name: /Request access/ }).click();
  await ada.getByRole('dialog').getByLabel(/Reason/).fill('Ticket #76: a look at the settings');
  await ada.getByRole('dialog').getByRole('button', { name: 'Send request' }).click();
  await ada.getByRole('dialog').getByText(/Requested\./).waitFor(WAIT);
  await ada.keyboard.press('Escape');
  ok(await ada.getByRole('dialog').count() === 0, 'Escape closes the dialog');
  ok(await ada.evaluate(() => (document.activeElement?.textContent ?? '').includes('Request access')),
    'and focus goes back to the button that opened it');
  const denied = quinn.getByTestId('pending').filter({ hasText: 'Ticket #76' });
  await denied.waitFor(WAIT);
  await denied.getByRole('button', { name: 'Deny' }).click();
  await denied.waitFor({ state: 'detached', ...WAIT });
  await quinn.getByText(/Ticket #76: a look at the settings.*denied/).waitFor(WAIT);
  await ada.reload();
  await ada.getByLabel('Search teams').fill('Quinn');
  await row(ada, 'quinn@demo.test').getByRole('button', { name: /Request access/ }).waitFor(WAIT);
  ok(await row(ada, 'quinn@demo.test').getByRole('button', { name: /^Impersonate/ }).count() === 0,
    'after a denial the admin still has to ask');

  const sam = await newPage();
  await signIn(sam, 'super@demo.test', 'demo-super-1', true);
  await sam.getByLabel('Search teams').fill('Quinn');
  await row(sam, 'quinn@demo.test').getByRole('button', { name: /Request access/ }).click();
  const request = sam.getByRole('dialog');
  await request.getByLabel(/Reason/).fill('Ticket #77: the export fails');
  await request.getByLabel('Mode').selectOption('READ_WRITE');
  await request.getByLabel('Minutes').fill('30');
  await axe(sam, 'request dialog');
  await request.getByRole('button', { name: 'Send request' }).click();
  await request.getByText(/Requested\./).waitFor(WAIT);
  await request.getByRole('button', { name: 'Close' }).click();

  // Quinn hears it live: a notice, and the request on the page.
  await quinn.getByTestId('toast').filter({ hasText: /Sam Super/ }).waitFor(WAIT);
  const pending = quinn.getByTestId('pending').filter({ hasText: 'Ticket #77' });
  await pending.waitFor(WAIT);
  ok((await pending.textContent()).includes('Ticket #77'), 'the pending request shows the reason');
  await axe(quinn, 'support access with a request');
  await shot(quinn, 'support-access');
  await pending.getByLabel('Minutes').fill('20');
  await pending.getByRole('button', { name: 'Approve' }).click();
  await quinn.getByTestId('open-grant').waitFor(WAIT);

  // Sam is told at once, without a reload: a notice, and his row now offers Impersonate with
  // the window's end.
  await sam.getByTestId('toast').filter({ hasText: /Quinn.*approved your request/ }).waitFor(WAIT);
  await row(sam, 'quinn@demo.test').getByTestId('approved-until').waitFor(WAIT);
  await row(sam, 'quinn@demo.test').getByRole('button', { name: /Impersonate/ }).click();
  await sam.getByRole('dialog').getByLabel(/Reason/).fill('Ticket #77: the export fails');
  await sam.getByRole('dialog').getByLabel('Mode').selectOption('READ_ONLY');
  await sam.getByRole('dialog').getByRole('button', { name: 'Start session' }).click();
  await banner(sam).waitFor(WAIT);
  ok((await banner(sam).textContent()).includes('read-only'), 'the admin chose to enter read-only');

  // The banner shows why the session runs, and the ticket.
  ok((await banner(sam).getByTestId('banner-reason').textContent()).includes('Ticket #77: the export fails'),
    'the banner shows the reason');
  // Read-only: the write controls are disabled and say why, before anything is tried; on the
  // customer's Profile too, where even the name cannot be saved.
  await sam.getByRole('link', { name: 'Profile', exact: true }).click();
  await sam.getByRole('heading', { name: 'Profile settings' }).waitFor(WAIT);
  ok(await sam.getByRole('button', { name: 'Save name' }).isDisabled(), 'a read-only session cannot save the name');
  await sam.getByRole('link', { name: 'Businesses & leads' }).click();
  await sam.getByRole('link', { name: "Quinn's first lead" }).click();
  await sam.getByTestId('read-only-note').waitFor(WAIT);
  ok(await sam.getByRole('button', { name: 'Comment' }).isDisabled(), 'commenting is disabled in a read-only session');
  ok(await sam.getByLabel('Add a comment').isDisabled(), 'and so is the comment field');

  // Elevate with the admin's own TOTP code: the customer is told, live.
  await banner(sam).getByRole('button', { name: 'Elevate' }).click();
  await banner(sam).getByLabel('Your authenticator code').fill(totp('super@demo.test', true));
  await banner(sam).getByLabel('Why changes are needed').fill('Re-run the export for Quinn');
  await axe(sam, 'elevate form');
  await banner(sam).getByRole('button', { name: 'Allow changes' }).click();
  await banner(sam).getByText('read & write').waitFor(WAIT);
  await banner(sam).getByText('Changes are allowed now.').waitFor(WAIT);
  ok(await sam.getByRole('button', { name: 'Comment' }).isEnabled(), 'after Elevate the controls are on again');
  ok(await sam.getByTestId('read-only-note').count() === 0, 'and the read-only note is gone');
  await quinn.getByTestId('toast').filter({ hasText: /can now make changes/ }).waitFor(WAIT);
  await shot(quinn, 'live-notice');

  // The banner on a phone.
  await sam.setViewportSize({ width: 390, height: 844 });
  await fits(sam, 'lead page with the banner at 390 px');
  await shot(sam, 'phone-banner');
  await sam.setViewportSize({ width: 1280, height: 800 });

  // Quinn revokes: the admin's banner goes by itself and they are back in their account.
  await quinn.getByTestId('open-grant').getByRole('button', { name: 'Revoke' }).click();
  await sam.getByText(/Your session as Quinn ended: access revoked by the customer/).waitFor(WAIT);
  ok(!(await banner(sam).isVisible()), 'banner gone after the customer revoked');
  await sam.getByRole('heading', { name: 'Teams' }).waitFor(WAIT);
  ok(await sam.getByTestId('who').textContent() === 'Sam Super', 'the admin is back in their own account');

  // Quinn's history: who, why, how it ended, what they did.
  await quinn.reload();
  const session = quinn.getByTestId('session').first();
  await session.waitFor(WAIT);
  const told = await session.textContent();
  ok(told.includes('Sam Super') && told.includes('Ticket #77') && told.includes('you withdrew access'),
    `the access history tells who, why and how it ended: ${told}`);
  ok(/read-only, then allowed to make changes at \d{1,2}:\d\d( [AP]M)? \(“Re-run the export for Quinn”\)/.test(told),
    `the history tells how the session started and when it could change things: ${told}`);
  ok(!told.includes('UTC'), `times are in the reader's zone, like the rest of the console: ${told}`);
  await session.locator('summary').click();
  const details = await session.textContent();
  ok(details.includes("the lead “Quinn's first lead”"), `what support viewed is named: ${details}`);
  ok(details.includes('Was allowed to make changes'), `the elevation is in the story: ${details}`);
  ok(details.includes('Support was allowed to make changes: “Re-run the export for Quinn”'), 'the elevation shows in the changes');
  ok(details.includes('0 changes to your data'), `the change count is the customer's data only: ${details}`);
  // No raw code or GraphQL word anywhere on the customer's history page.
  const page = await quinn.locator('main').textContent();
  for (const raw of [/\b[A-Z]+_[A-Z_]+\b/, /\bmutation\b/, /\bquery\b/, /addLeadComment|AddLeadComment/]) {
    ok(!raw.test(page), `the customer's history page has no ${raw}: ${page.match(raw)?.[0]}`);
  }
  // Quinn owns her team: its support sessions are listed for her too.
  await quinn.getByTestId('team-session').filter({ hasText: "Into Quinn Careful's account" }).first().waitFor(WAIT);
  await axe(quinn, 'access history');
  await shot(quinn, 'access-history');

  // ---- 3. The other screens ---------------------------------------------------------------
  // Running sessions, live: Ada starts one, it appears on Sam's page, Sam ends it, and Ada's
  // banner goes by itself.
  await sam.getByRole('link', { name: 'Sessions', exact: true }).click();
  await sam.getByRole('heading', { name: 'Running sessions' }).waitFor(WAIT);
  await sam.getByText('No session is running.').waitFor(WAIT);
  await ada.getByLabel('Search teams').fill('Olivia');
  await row(ada, 'olivia@demo.test').getByRole('button', { name: /Impersonate/ }).click();
  await ada.getByRole('dialog').getByLabel(/Reason/).fill('Ticket #43: a second look');
  await ada.getByRole('dialog').getByRole('button', { name: 'Start session' }).click();
  await banner(ada).waitFor(WAIT);
  const running = sam.getByTestId('running').filter({ hasText: 'Olivia Owner' });
  await running.waitFor(WAIT);
  ok(await sam.getByRole('button', { name: /Switch impersonation off/ }).isVisible(), 'the super admin has the global switch');
  await axe(sam, 'running sessions');
  await shot(sam, 'sessions');
  await running.getByRole('button', { name: /End/ }).click();
  await ada.getByText(/Your session as Olivia ended: ended by an admin/).waitFor(WAIT);
  ok(!(await banner(ada).isVisible()), 'Ada\'s banner gone when a super admin ended her session');
  ok(await ada.getByTestId('who').textContent() === 'Ada Admin', 'Ada is back in her own account');

  for (const [link, heading, name] of [
    ['History', 'Impersonation history', 'history'],
    ['Audit log', 'Audit log', 'audit-log'],
  ]) {
    await sam.getByRole('link', { name: link, exact: true }).click();
    await sam.getByRole('heading', { name: heading }).waitFor(WAIT);
    await sam.locator('tbody tr').first().waitFor(WAIT);
    await axe(sam, heading);
    await shot(sam, name);
  }
  // The actions to filter by come from the server, in words: every action recorded.
  const actionOptions = await sam.getByLabel('Action').locator('option').allTextContents();
  ok(actionOptions.length >= 56, `the Action filter lists every action the log records: ${actionOptions.length - 1}`);
  for (const label of ['Second admin\'s review approved', 'Passkey added', 'Webhook endpoint added']) {
    ok(actionOptions.includes(label), `the Action filter offers "${label}"`);
  }
  ok(actionOptions.every((o) => !/[A-Z]{2,}_|_/.test(o)), `no raw codes in the Action filter: ${actionOptions.join(', ')}`);
  ok(await sam.getByRole('columnheader', { name: 'Action' }).count() === 0, 'no column of raw action codes');
  await sam.getByLabel('Action').selectOption({ label: 'Support left an account' });
  await sam.waitForFunction(() => {
    const rows = [...document.querySelectorAll('[data-testid="audit-sentence"]')];
    return rows.length >= 3 && rows.every((r) => r.textContent.startsWith('Support left the account'));
  }, null, WAIT);
  ok(await sam.locator('tbody tr').count() >= 3, 'the audit filter shows the three ended sessions');
  // Staff read the customer's name in the story, not "your".
  await sam.getByRole('link', { name: 'History', exact: true }).click();
  const story = sam.getByTestId('session-details').first();
  await story.waitFor(WAIT);
  await story.locator('summary').click();
  const staffWords = await story.textContent();
  ok(/Olivia's|Quinn's/.test(staffWords) && !/\byour\b/.test(staffWords), `History tells staff the customer's name: ${staffWords}`);
  ok(!staffWords.includes("session's status"), `background status checks are not steps: ${staffWords}`);

  // The global switch: off, and the Teams List says so on every row; then on again.
  await sam.getByRole('link', { name: 'Sessions', exact: true }).click();
  await sam.getByRole('button', { name: /Switch impersonation off/ }).click();
  // It asks first, with a reason.
  ok(await sam.getByRole('heading', { name: 'Impersonation is on for everyone' }).isVisible(), 'one click switches nothing off');
  await sam.getByLabel(/Why/).fill('Security drill');
  await sam.getByRole('button', { name: 'Yes, switch off and end every session' }).click();
  await sam.getByRole('heading', { name: 'Impersonation is off for everyone' }).waitFor(WAIT);
  await ada.reload();
  await ada.getByLabel('Search teams').fill('Olivia');
  const off = row(ada, 'olivia@demo.test');
  await off.getByText('Impersonation is switched off for everyone').waitFor(WAIT);
  ok(await off.getByRole('button', { name: /Impersonate/ }).isDisabled(), 'Impersonate disabled while switched off');
  await sam.getByRole('button', { name: 'Switch impersonation on' }).click();
  await sam.getByRole('heading', { name: 'Impersonation is on for everyone' }).waitFor(WAIT);

  // Quinn lets support in unasked, read-only, for one minute, while Ada's Teams List is open:
  // the row changes without a reload. Ada enters; the session expires while Olivia's part
  // below runs, and Ada's banner goes by itself when the minute is up.
  await ada.getByLabel('Search teams').fill('Quinn');
  await row(ada, 'quinn@demo.test').getByRole('button', { name: /Request access/ }).waitFor(WAIT);
  const form = quinn.locator('form').filter({ hasText: 'Let support in now' });
  await form.getByLabel('Reason').fill('Look at the export whenever you can');
  await form.getByLabel('Minutes').fill('1');
  await form.getByRole('button', { name: 'Grant access' }).click();
  await quinn.getByTestId('open-grant').filter({ hasText: 'Any support admin, read-only, 1 min' }).waitFor(WAIT);
  // Under Quinn's read-only window the row says until when, and the dialog offers read-only
  // only: nothing it offers can be refused.
  await row(ada, 'quinn@demo.test').getByTestId('approved-until').filter({ hasText: 'read-only' }).waitFor(WAIT);
  await row(ada, 'quinn@demo.test').getByRole('button', { name: /^Impersonate/ }).click();
  await ada.getByRole('dialog').getByTestId('only-mode').waitFor(WAIT);
  ok(await ada.getByRole('dialog').getByRole('option', { name: /Read & write/ }).count() === 0,
    'the dialog does not offer read & write under a read-only grant');
  await ada.getByRole('dialog').getByLabel(/Reason/).fill('The export, as Quinn allowed');
  await ada.getByRole('dialog').getByRole('button', { name: 'Start session' }).click();
  await banner(ada).waitFor(WAIT);
  // A minute-long session is in its last 5 minutes from the start: the banner says so.
  await banner(ada).getByTestId('expiring').waitFor(WAIT);
  const shortSession = await banner(ada).textContent();
  ok(/Signed in as Quinn · read-only · 0:[0-5]\d left/.test(shortSession), `the window bounds the session: ${shortSession}`);
  ok(shortSession.includes('The customer granted read-only access.') &&
    (await banner(ada).getByRole('button', { name: 'Elevate' }).count()) === 0,
  'under a read-only grant the banner offers no Elevate');

  // Olivia, by keyboard only, on a phone: sign in, the work page, 2FA enrolment's QR code.
  const olivia = await newPage({ width: 390, height: 844 });
  await olivia.goto(`${base}/`);
  await olivia.getByRole('heading', { name: 'Sign in' }).waitFor(WAIT);
  await olivia.keyboard.press('Tab');
  ok(await olivia.evaluate(() => document.activeElement?.getAttribute('type')) === 'email', 'Tab reaches the email field first');
  await olivia.keyboard.type('olivia@demo.test');
  await olivia.keyboard.press('Tab');
  await olivia.keyboard.type('demo-owner-1');
  await olivia.keyboard.press('Enter');
  await olivia.getByRole('heading', { name: 'Businesses & leads' }).waitFor(WAIT);
  await fits(olivia, 'businesses & leads at 390 px');
  await axe(olivia, 'businesses & leads');
  await shot(olivia, 'phone-work');
  await olivia.getByRole('link', { name: "Olivia's first lead" }).click();
  const support = olivia.getByTestId('comment').filter({ hasText: 'Checked the invoice totals' });
  await support.waitFor(WAIT);
  ok((await support.textContent()).includes('Support team'), 'Olivia sees the support comment as "Support team"');
  await olivia.setViewportSize({ width: 1280, height: 800 });
  await olivia.getByRole('link', { name: 'Profile', exact: true }).click();
  // The consent boxes show what the server saved: a click moves the box and it stays moved.
  const approval = olivia.getByTestId('consent-approval');
  const was = await approval.isChecked();
  await approval.click();
  await olivia.getByTestId('consent-status').filter({ hasText: 'Saved:' }).waitFor(WAIT);
  ok(await approval.isChecked() === !was, 'the approval box moved with the click');
  await olivia.reload();
  await olivia.getByTestId('consent-approval').waitFor(WAIT);
  ok(await olivia.getByTestId('consent-approval').isChecked() === !was, 'and the server saved it');
  await olivia.getByTestId('consent-approval').click();
  await olivia.getByTestId('consent-status').filter({ hasText: 'Saved:' }).waitFor(WAIT);
  ok(await olivia.getByTestId('consent-approval').isChecked() === was, 'a second click puts it back');

  // Issue 37's worst: Olivia turns support access off, opens Support access, then Profile
  // from the menu: the box is still off, and clicking it turns support back on.
  const allowed = () => olivia.getByTestId('consent-allowed');
  ok(await allowed().isChecked(), 'support access starts on');
  await allowed().click();
  await olivia.getByTestId('consent-status').filter({ hasText: 'support access is off' }).waitFor(WAIT);
  ok(!(await allowed().isChecked()), 'the box moved to off');
  await olivia.getByRole('link', { name: 'Support access' }).click();
  await olivia.getByRole('heading', { name: 'Support access' }).waitFor(WAIT);
  // With access off, opening a window is disabled and says why (the server refuses it too).
  const grantOff = olivia.locator('form').filter({ hasText: 'Let support in now' });
  await grantOff.getByTestId('access-off').filter({ hasText: 'Turn support access on first' }).waitFor(WAIT);
  ok(await grantOff.getByRole('button', { name: 'Grant access' }).isDisabled(), 'Grant access is disabled while support access is off');
  await olivia.getByText('Support access is off: nobody from support can enter your account').waitFor(WAIT);
  await olivia.getByRole('link', { name: 'Profile', exact: true }).click();
  await olivia.getByRole('heading', { name: 'Profile settings' }).waitFor(WAIT);
  ok(!(await allowed().isChecked()), 'after moving between pages the box still shows off');
  await allowed().click();
  await olivia.getByTestId('consent-status').filter({ hasText: 'support may enter' }).waitFor(WAIT);
  ok(await allowed().isChecked(), 'clicking it turned support access back on');
  await olivia.reload();
  await allowed().waitFor(WAIT);
  ok(await allowed().isChecked(), 'and the server saved on, not the opposite');
  // The name in the header follows "Name saved" without a reload.
  const nameField = olivia.getByRole('textbox', { name: 'Name', exact: true });
  await nameField.fill('Olivia O. Owner');
  await olivia.getByRole('button', { name: 'Save name' }).click();
  await olivia.getByText('Name saved.').waitFor(WAIT);
  await olivia.waitForFunction(() => document.querySelector('[data-testid="who"]')?.textContent === 'Olivia O. Owner', null, WAIT);
  ok(true, 'the header shows the saved name at once');
  await nameField.fill('Olivia Owner');
  await olivia.getByRole('button', { name: 'Save name' }).click();
  await olivia.waitForFunction(() => document.querySelector('[data-testid="who"]')?.textContent === 'Olivia Owner', null, WAIT);
  // The customer's audit filter reads as words, for her.
  await olivia.getByRole('link', { name: 'Audit log' }).click();
  await olivia.getByRole('heading', { name: 'Audit log' }).waitFor(WAIT);
  await olivia.getByLabel('Action').locator('option').nth(5).waitFor({ state: 'attached', ...WAIT });
  const herOptions = await olivia.getByLabel('Action').locator('option').allTextContents();
  ok(!herOptions.some((o) => /refresh token|_/.test(o)) && herOptions.includes('An old sign-in was reused and refused'),
    `the customer's Action filter is in words: ${herOptions.join(', ')}`);
  ok(!herOptions.includes('Webhook endpoint added'), 'and lists no staff-only actions');
  await olivia.getByRole('link', { name: 'Profile', exact: true }).click();
  await olivia.getByRole('heading', { name: 'Profile settings' }).waitFor(WAIT);
  await olivia.getByRole('button', { name: 'Set up two-factor authentication' }).click();
  await olivia.getByRole('img', { name: /QR code/ }).waitFor(WAIT);
  await axe(olivia, 'profile with 2FA enrolment');
  await shot(olivia, 'profile-2fa');
  // Her authenticator app reads the QR code's URL; she types its code and her password.
  const url = await olivia.locator('code.wrap').textContent();
  const enrol = olivia.getByRole('group', { name: 'Two-factor authentication' });
  await enrol.getByLabel('Code').fill(URI.parse(url).generate());
  await enrol.getByLabel('Current password').fill('demo-owner-1');
  await enrol.getByRole('button', { name: 'Turn on' }).click();
  await olivia.getByText('Two-factor authentication is on.').waitFor(WAIT);
  await olivia.getByText('On. To turn it off, enter a current code.').waitFor(WAIT);

  // Sign out ends the sign-in on the server too: a copy of the refresh token is worthless.
  const kept = await olivia.evaluate(() => JSON.parse(sessionStorage.getItem('crm.session')).refreshToken);
  const loggedOut = olivia.waitForResponse((r) => (r.request().postData() ?? '').includes('logout('), WAIT);
  await olivia.getByRole('button', { name: 'Sign out' }).click();
  await olivia.getByRole('heading', { name: 'Sign in' }).waitFor(WAIT);
  ok((await (await loggedOut).json()).data?.logout === true, 'sign out tells the server');
  ok(await olivia.evaluate(() => sessionStorage.getItem('crm.session')) === null, 'the tab forgot its tokens');
  // One try with the kept copy: refused (without the logout it would be a valid refresh).
  const reused = await olivia.evaluate(async (token) => {
    const res = await fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'mutation($r: String!) { refreshToken(refreshToken: $r) { accessToken } }', variables: { r: token } }),
    });
    return (await res.json()).errors?.[0]?.extensions?.code ?? 'accepted';
  }, kept);
  ok(reused === 'UNAUTHENTICATED', `the refresh token was revoked at sign out: ${reused}`);

  // Ada's minute is up: the banner went by itself, and Quinn's history says how it ended.
  await ada.getByText(/Your session as Quinn ended: time ran out/).waitFor({ timeout: 90_000 });
  ok(!(await banner(ada).isVisible()), 'banner gone when the session expired');
  ok(await ada.getByTestId('who').textContent() === 'Ada Admin', 'Ada is back in her own account after the expiry');
  const expired = quinn.getByTestId('session').filter({ hasText: 'The export, as Quinn allowed' });
  // The server's sweep (every 30 s) records the end at the expiry time.
  const recorded = async () => {
    await quinn.reload();
    await expired.waitFor(WAIT);
    return (await expired.textContent()).includes('time ran out');
  };
  let seen = await recorded();
  for (let i = 0; i < 15 && !seen; i++) {
    await quinn.waitForTimeout(3000);
    seen = await recorded();
  }
  ok(seen, 'the server recorded the expiry in the access history');

  // ---- 4. Four-eyes review: Sam marks Olivia's account; Ada asks, Sam denies with a note,
  // Ada asks again, Sam approves, Ada enters read & write, Sam watches live and ends it.
  await sam.getByRole('link', { name: 'Teams', exact: true }).click();
  await sam.getByLabel('Search teams').fill('Olivia');
  const mark = row(sam, 'olivia@demo.test').getByTestId('mark-review').getByRole('checkbox');
  await mark.click();
  await sam.waitForFunction(() => document.querySelector('[data-testid="team-olivia@demo.test"] [data-testid="mark-review"] input')?.checked);
  await ada.reload();
  await ada.getByLabel('Search teams').fill('Olivia');
  const askReview = async (why) => {
    await row(ada, 'olivia@demo.test').getByRole('button', { name: /Ask for review/ }).click();
    const dialog = ada.getByRole('dialog');
    await dialog.getByLabel(/Reason/).fill(why);
    await dialog.getByRole('button', { name: 'Ask for review' }).click();
    await dialog.getByText(/Asked\./).waitFor(WAIT);
    await dialog.getByRole('button', { name: 'Close' }).click();
  };
  await askReview('Ticket #90: fix the payout account');
  await sam.getByRole('link', { name: 'Reviews', exact: true }).click();
  const firstAsk = sam.getByTestId('pending-review').filter({ hasText: 'Ticket #90' });
  await firstAsk.waitFor(WAIT);
  await axe(sam, 'reviews');
  await firstAsk.getByLabel(/Note/).fill('Look read-only first');
  await firstAsk.getByRole('button', { name: 'Deny' }).click();
  await sam.getByTestId('decided-review').filter({ hasText: 'Look read-only first' }).waitFor(WAIT);
  await ada.getByTestId('toast').filter({ hasText: /Sam Super denied your session/ }).waitFor(WAIT);
  await askReview('Ticket #91: fix the payout account');
  const secondAsk = sam.getByTestId('pending-review').filter({ hasText: 'Ticket #91' });
  await secondAsk.waitFor(WAIT);
  await shot(sam, 'reviews');
  await secondAsk.getByRole('button', { name: 'Approve' }).click();
  await ada.getByTestId('toast').filter({ hasText: /Sam Super approved your session/ }).waitFor(WAIT);
  // Her open row says so at once, and until when.
  const approvedRow = row(ada, 'olivia@demo.test').getByTestId('review-approved');
  await approvedRow.waitFor(WAIT);
  ok(/Approved by Sam Super for read & write, 30 min: start by \d{1,2}:\d\d/.test(await approvedRow.textContent()),
    `the row says what was approved and until when: ${await approvedRow.textContent()}`);
  await row(ada, 'olivia@demo.test').getByRole('button', { name: /^Impersonate/ }).click();
  // The dialog preselects what was approved (read & write), not read-only.
  ok(await ada.getByRole('dialog').getByLabel('Mode').inputValue() === 'READ_WRITE', 'the dialog preselects the approved mode');
  await ada.getByRole('dialog').getByTestId('dialog-review').waitFor(WAIT);
  await ada.getByRole('dialog').getByLabel(/Reason/).fill('Ticket #91: fix the payout account');
  await ada.getByRole('dialog').getByRole('button', { name: 'Start session' }).click();
  await banner(ada).getByText('read & write').waitFor(WAIT);
  // Sam follows the session he approved, operation by operation.
  const watched = sam.getByTestId('watched-session').filter({ hasText: 'Ticket #91' });
  await watched.waitFor(WAIT);
  await watched.getByRole('button', { name: 'Watch' }).click();
  // In staff words: Olivia's account, not "your"; no background status checks.
  await watched.getByTestId('live-activity').getByText("Entered Olivia's account").waitFor(WAIT);
  await ada.getByRole('link', { name: 'Businesses & leads' }).click();
  await watched.getByTestId('live-activity').getByText(/Viewed Olivia's businesses and leads/).first().waitFor(WAIT);
  const live = await watched.getByTestId('live-activity').textContent();
  ok(!/\byour\b/.test(live) && !live.includes("session's status"), `the live view speaks to staff: ${live}`);
  await shot(sam, 'watch-session');
  await watched.getByRole('button', { name: 'End session' }).click();
  await ada.getByText(/Your session as Olivia ended: ended by an admin/).waitFor(WAIT);
  ok(!(await banner(ada).isVisible()), "the reviewer ended Ada's session and her banner went");

  // ---- 5. Webhooks: Sam adds an endpoint (a receiver here that checks each signature with the
  // Standard Webhooks algorithm), sends a test event, sees it delivered, rotates the secret.
  const hooks = [];
  const receiverServer = createHttpServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      hooks.push({ id: req.headers['webhook-id'], ts: req.headers['webhook-timestamp'], sig: req.headers['webhook-signature'] ?? '', body });
      res.writeHead(204).end();
    });
  });
  await new Promise((done) => receiverServer.listen(0, '127.0.0.1', done));
  servers.push({ kill: () => receiverServer.close() });
  const signedWith = (h, secret) => {
    const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
    const mac = createHmac('sha256', key).update(`${h.id}.${h.ts}.${h.body}`).digest('base64');
    return h.sig.split(' ').includes(`v1,${mac}`);
  };
  await sam.getByRole('link', { name: 'Webhooks', exact: true }).click();
  await sam.getByRole('heading', { name: 'Webhooks' }).waitFor(WAIT);
  await sam.getByText('No endpoints yet.').waitFor(WAIT);
  await sam.getByLabel('URL').fill(`http://127.0.0.1:${receiverServer.address().port}/hook`);
  await sam.getByLabel('Description (optional)').fill('The SIEM');
  await sam.getByRole('button', { name: 'Add endpoint' }).click();
  const secret = (await sam.getByTestId('webhook-secret').first().textContent()).trim();
  ok(secret.startsWith('whsec_'), 'the new endpoint\'s secret is shown once');
  const card = sam.getByTestId('webhook').first();
  await card.getByRole('button', { name: 'Send a test event' }).click();
  await card.getByText(/Test event queued/).waitFor(WAIT);
  let delivered = false;
  for (let i = 0; i < 20 && !delivered; i++) {
    await sam.waitForTimeout(500);
    delivered = hooks.some((h) => JSON.parse(h.body).type === 'webhook.test');
  }
  ok(delivered, 'the test event reached the receiver');
  ok(hooks.every((h) => signedWith(h, secret)), 'every delivery is signed with the endpoint\'s secret');
  // The page follows without a reload: "delivered at …", never "pending · 0 tries".
  await sam.getByTestId('webhook').first().getByTestId('delivery').filter({ hasText: 'webhook.test' }).filter({ hasText: /delivered at/ }).waitFor(WAIT);
  ok(!(await sam.getByTestId('webhook').first().textContent()).includes('next try'), 'no "next try" for a first try');
  await axe(sam, 'webhooks');
  await shot(sam, 'webhooks');
  await sam.getByTestId('webhook').first().getByRole('button', { name: 'Rotate secret' }).click();
  const rotated = (await sam.getByTestId('webhook').first().getByTestId('webhook-secret').textContent()).trim();
  ok(rotated.startsWith('whsec_') && rotated !== secret, 'a rotation shows the new secret once');

  // ---- 6. Passkeys, on a server that asks a passkey for every session
  // (IMPERSONATION_STEP_UP=passkey), at http://localhost:<port> (WebAuthn needs a domain, and
  // localhost is a secure context), with Chromium's virtual authenticator (DevTools protocol).
  const passkeyPort = await freePort();
  const passkeyDir = mkdtempSync(join(tmpdir(), 'crm-passkeys-'));
  const passkeyServer = await startServer(passkeyDir, { BIND_ADDR: `127.0.0.1:${passkeyPort}`, IMPERSONATION_STEP_UP: 'passkey' });
  servers.push(passkeyServer.child);
  const local = `http://localhost:${passkeyPort}`;
  const pk = await newPage();
  const cdp = await pk.context().newCDPSession(pk);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId: authenticator } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  const signInAt = async () => {
    await pk.goto(`${local}/`);
    await pk.getByLabel('Email').fill('admin@demo.test');
    await pk.getByLabel('Password').fill('demo-admin-1');
    await pk.getByRole('button', { name: 'Sign in' }).click();
    await pk.getByRole('heading', { name: 'Two-factor authentication' }).waitFor(WAIT);
  };
  await signInAt();
  await pk.getByLabel('The 6-digit code from your authenticator app').fill(totp('admin@demo.test', false, passkeyDir));
  await pk.getByRole('button', { name: 'Verify' }).click();
  await pk.getByTestId('who').waitFor(WAIT);
  // Without a passkey, the Teams List says so before any dialog opens, with a link.
  await pk.getByRole('link', { name: 'Teams', exact: true }).click();
  await pk.getByTestId('needs-passkey').waitFor(WAIT);
  ok(await row(pk, 'olivia@demo.test').getByRole('button', { name: /^Impersonate/ }).isDisabled(),
    'Impersonate waits for a passkey on a passkey-only deployment');
  await axe(pk, 'teams, passkey needed');
  // A wrong password is refused before the device makes a passkey.
  await pk.getByTestId('needs-passkey').getByRole('link', { name: /add a passkey/ }).click();
  const keysFirst = pk.getByRole('group', { name: 'Passkeys' });
  await keysFirst.getByLabel('Passkey name').fill('Wrong password key');
  await keysFirst.getByLabel('Current password').fill('not-my-password');
  await keysFirst.getByLabel('A new code from your authenticator app').fill('000000');
  await keysFirst.getByRole('button', { name: 'Add a passkey' }).click();
  await keysFirst.getByRole('alert').waitFor(WAIT);
  const credentials = (await cdp.send('WebAuthn.getCredentials', { authenticatorId: authenticator })).credentials;
  ok(credentials.length === 0, `a wrong password leaves no passkey on the device: ${credentials.length}`);
  // Registration on the Profile page: a name and the password.
  await pk.getByRole('link', { name: 'Profile', exact: true }).click();
  const keys = pk.getByRole('group', { name: 'Passkeys' });
  await keys.getByText('No passkeys yet.').waitFor(WAIT);
  await keys.getByLabel('Passkey name').fill('Virtual key');
  await keys.getByLabel('Current password').fill('demo-admin-1');
  // Ada has TOTP: a new passkey needs a fresh code (the one that signed her in is used up).
  await keys.getByLabel('A new code from your authenticator app').fill(totp('admin@demo.test', true, passkeyDir));
  await keys.getByRole('button', { name: 'Add a passkey' }).click();
  await keys.getByTestId('passkey').filter({ hasText: 'Virtual key' }).waitFor(WAIT);
  ok((await keys.getByTestId('passkey').textContent()).includes('not used yet'), 'the new passkey is listed, not used yet');
  await axe(pk, 'profile with a passkey');
  await shot(pk, 'passkeys');
  // Sign-in's second step with the passkey instead of a code.
  await pk.getByRole('button', { name: 'Sign out' }).click();
  await signInAt();
  await pk.getByRole('button', { name: 'Use a passkey' }).click();
  await pk.getByTestId('who').waitFor(WAIT);
  ok(await pk.getByTestId('who').textContent() === 'Ada Admin', 'signed in with the passkey');
  // A session needs a fresh passkey assertion: the dialog asks for it, then starts.
  await pk.getByRole('link', { name: 'Teams', exact: true }).click();
  await row(pk, 'olivia@demo.test').getByRole('button', { name: /^Impersonate/ }).click();
  const stepUpDialog = pk.getByRole('dialog');
  await stepUpDialog.getByLabel(/Reason/).fill('Ticket #99: check the invoice');
  await stepUpDialog.getByRole('button', { name: 'Start session' }).click();
  await stepUpDialog.getByText("Confirm it's you.").waitFor(WAIT);
  ok(await stepUpDialog.getByLabel('Authenticator code').count() === 0, 'a passkey-only deployment offers no code');
  await axe(pk, 'step-up');
  await shot(pk, 'step-up');
  await stepUpDialog.getByRole('button', { name: 'Use a passkey' }).click();
  await banner(pk).waitFor(WAIT);
  ok((await banner(pk).textContent()).includes('Signed in as Olivia'), 'the session started after the passkey step-up');
  // Elevate offers only what this deployment accepts: a passkey, no code field.
  await banner(pk).getByRole('button', { name: 'Elevate' }).click();
  await banner(pk).getByTestId('elevate-passkey-only').waitFor(WAIT);
  ok(await banner(pk).getByLabel('Your authenticator code').count() === 0, 'Elevate offers no code on a passkey-only deployment');
  ok(await banner(pk).getByRole('button', { name: 'Allow with a passkey' }).isVisible(), 'and offers the passkey');

  // ---- 7. Every page at 390×844: nothing scrolls sideways, the audit log keeps its
  // sentences, and each page has its loading and empty states in words.
  const phone = await newPage({ width: 390, height: 844 });
  await signIn(phone, 'super@demo.test', 'demo-super-1', true);
  for (const [link, heading, name] of [
    ['Teams', 'Teams', 'teams'],
    ['Businesses & leads', 'Businesses & leads', 'work'],
    ['Sessions', 'Running sessions', 'sessions'],
    ['History', 'Impersonation history', 'history'],
    ['Reviews', 'Reviews', 'reviews'],
    ['Webhooks', 'Webhooks', 'webhooks'],
    ['Audit log', 'Audit log', 'audit-log'],
    ['Profile', 'Profile settings', 'profile'],
    ['Support access', 'Support access', 'support-access'],
  ]) {
    await phone.getByRole('link', { name: link, exact: true }).click();
    await phone.getByRole('heading', { name: heading, exact: true }).waitFor(WAIT);
    await phone.waitForFunction(() => !document.querySelector('[aria-busy="true"]'), null, WAIT);
    await fits(phone, `${heading} at 390 px`);
    await shot(phone, `phone-${name}`);
  }
  // The audit log on a phone: one card per row, the sentence visible.
  await phone.getByRole('link', { name: 'Audit log', exact: true }).click();
  const sentence = phone.getByTestId('audit-sentence').first();
  await sentence.waitFor(WAIT);
  ok(await sentence.isVisible() && (await sentence.boundingBox()).width > 150, 'the audit log shows its sentences on a phone');
  await axe(phone, 'audit log at 390 px');
  // A new team's Businesses & leads says it is empty, in words.
  await phone.getByRole('link', { name: 'Businesses & leads', exact: true }).click();
  await phone.getByRole('heading', { name: 'Businesses & leads', exact: true }).waitFor(WAIT);
  await phone.getByRole('button', { name: 'New team' }).click();
  await phone.getByLabel('New team name').fill('Phone team');
  await phone.getByRole('button', { name: 'Create' }).click();
  await phone.getByRole('combobox', { name: 'Team', exact: true }).locator('option', { hasText: 'Phone team' }).waitFor({ state: 'attached', ...WAIT });
  await phone.getByRole('combobox', { name: 'Team', exact: true }).selectOption({ label: 'Phone team' });
  await phone.getByRole('link', { name: 'Businesses & leads', exact: true }).click();
  await phone.getByTestId('no-businesses').waitFor(WAIT);
  ok(true, "a new team's Businesses & leads says it has none yet");

  ok(problems.length === 0, `no console errors or outside requests:\n  ${problems.join('\n  ')}`);
  console.log(`console browser tests: ${checks} checks passed; screenshots in web/test-results/console-*.png`);
} catch (e) {
  console.error(e.message ?? e);
  if (problems.length) console.error(`also seen:\n  ${problems.join('\n  ')}`);
  for (const [i, p] of pages.entries()) {
    await p.screenshot({ path: join(shots, `console-failure-${i + 1}.png`), fullPage: true }).catch(() => {});
  }
  console.error(`each browser context's page at the failure: web/test-results/console-failure-*.png`);
  process.exitCode = 1;
} finally {
  await browser.close();
  child.kill();
  for (const c of servers) c.kill();
}

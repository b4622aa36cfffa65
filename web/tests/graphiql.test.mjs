// Browser test of GraphiQL as the server serves it: headless Chromium from Debian's packages
// (no browser download), driven by playwright-core, with every request outside 127.0.0.1
// blocked. Signs in, runs `me` with the token in the headers editor, checks the answer and the
// docs explorer, runs a subscription over /graphql/ws and sees its event, and keeps
// screenshots (web/test-results/graphiql.png, graphiql-subscription.png).
//
// Usage: node tests/graphiql.test.mjs <server binary>   (run from web/)
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const binary = resolve(process.argv[2] ?? '../target/debug/crm-impersonation');
const chrome = process.env.CHROMIUM ?? '/usr/bin/chromium';
const shots = resolve('test-results');
mkdirSync(shots, { recursive: true });

function fail(msg) {
  console.error(`FAIL ${msg}`);
  process.exitCode = 1;
  throw new Error(msg);
}

async function startServer() {
  const dir = mkdtempSync(join(tmpdir(), 'crm-graphiql-'));
  const child = spawn(binary, [], {
    cwd: dir,
    env: { ...process.env, BIND_ADDR: '127.0.0.1:0', METRICS_ADDR: '127.0.0.1:0', RUST_LOG: 'warn', APP_ENV: 'development' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const port = await new Promise((ok, no) => {
    const timer = setTimeout(() => no(new Error('server did not start')), 60_000);
    lines.on('line', (l) => {
      const m = l.match(/^CRM API listening on http:\/\/127\.0\.0\.1:(\d+)$/);
      if (m) {
        clearTimeout(timer);
        ok(Number(m[1]));
      }
    });
  });
  return { child, port };
}

const { child, port } = await startServer();
const base = `http://127.0.0.1:${port}`;
let browser;
try {
  const login = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      query: 'mutation { login(email: "olivia@demo.test", password: "demo-owner-1") { accessToken } }',
    }),
  }).then((r) => r.json());
  const token = login.data?.login?.accessToken ?? fail(`login: ${JSON.stringify(login)}`);

  browser = await chromium.launch({
    executablePath: chrome,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const outside = [];
  const consoleErrors = [];
  await page.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === '127.0.0.1') return route.continue();
    outside.push(url.href);
    return route.abort();
  });
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
  page.on('pageerror', (e) => consoleErrors.push(String(e)));

  await page.goto(`${base}/graphql`);
  await page.waitForSelector('.graphiql-query-editor .CodeMirror', { timeout: 30_000 });
  // Type into the editors as a user would: the query editor, then the headers editor (its
  // tab is open by default).
  const typeInto = async (locator, text) => {
    await locator.click();
    await page.keyboard.press('Control+A');
    await page.keyboard.insertText(text);
  };
  await typeInto(page.locator('.graphiql-query-editor .CodeMirror'), '{ me { name role } }');
  const headers = JSON.stringify({ Authorization: `Bearer ${token}` });
  await typeInto(page.locator('.graphiql-editor-tool .CodeMirror:visible'), headers);
  await page.click('.graphiql-execute-button');
  const result = page.locator('section.result-window');
  await result.getByText('Olivia Owner').waitFor({ timeout: 15_000 });
  const answer = await result.innerText();
  if (!answer.includes('"role": "USER"')) fail(`answer: ${answer}`);

  await page.click('[aria-label="Show Documentation Explorer"]');
  const docs = page.locator('.graphiql-doc-explorer');
  const queryType = docs.locator('a.graphiql-doc-explorer-type-name', { hasText: /^Query$/ }).first();
  await queryType.waitFor({ timeout: 15_000 });
  await queryType.click();
  await docs.getByText('impersonations').first().waitFor({ timeout: 15_000 });
  await page.screenshot({ path: join(shots, 'graphiql.png') });

  // A subscription over /graphql/ws, signed in by the same headers: Olivia listens to her
  // account's events, then opens a support-access window (over HTTP); the event shows up.
  await page.click('[aria-label="Hide Documentation Explorer"]');
  await typeInto(
    page.locator('.graphiql-query-editor .CodeMirror'),
    'subscription MyAccount {\n  myAccountEvents {\n    kind\n    at\n    notification { message }\n    grant { status mode requestedMinutes }\n  }\n}\n',
  );
  // GraphiQL parses the editor's text after a short debounce and sends subscriptions over the
  // socket only once it has: let it settle before running.
  await page.waitForTimeout(1_000);
  await page.click('.graphiql-execute-button');
  let heard = false;
  // A subscription is not acknowledged: open windows until one is heard (at most 10).
  for (let i = 0; i < 10 && !heard; i++) {
    const grant = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({
        query: 'mutation { grantSupportAccess(reason: "GraphiQL test", mode: READ_ONLY, minutes: 15) { id } }',
      }),
    }).then((r) => r.json());
    if (!grant.data?.grantSupportAccess?.id) fail(`grantSupportAccess: ${JSON.stringify(grant)}`);
    heard = await result
      .getByText('SUPPORT_ACCESS_GRANTED')
      .waitFor({ timeout: 2_000 })
      .then(() => true, () => false);
  }
  if (!heard) fail(`no event in GraphiQL: ${await result.innerText()}`);
  await page.screenshot({ path: join(shots, 'graphiql-subscription.png') });

  if (outside.length) fail(`requests outside 127.0.0.1: ${outside.join(', ')}`);
  if (consoleErrors.length) fail(`console errors: ${consoleErrors.join(' | ')}`);
  console.log(`ok GraphiQL: me answered, docs explorer shows Query, a subscription heard its event; screenshots in ${shots}`);
} catch (e) {
  const pages = browser?.contexts().flatMap((c) => c.pages()) ?? [];
  if (pages[0]) await pages[0].screenshot({ path: join(shots, 'failure.png') }).catch(() => {});
  throw e;
} finally {
  await browser?.close();
  child.kill();
}

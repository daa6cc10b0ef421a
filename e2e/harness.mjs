// The browser tests' harness: it builds the real binary, starts it standalone
// on a free port with a temporary data folder (the embedded default: SQLite,
// built-in queue, mail outbox folder), drives Debian's Chromium with
// playwright-core, checks each page state with axe-core, and fails a test on
// any console error. Nothing is stubbed: the pages talk to the real API.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
export const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
export const artifacts = join(repo, 'test-artifacts');
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--no-first-run'];

let built = '';
// build compiles the binary once per test process, into a folder kept across
// the test files (one per worktree): go build relinks only when a source
// changed, so each file after the first starts in under a second instead of
// paying the ~5 s link again.
export function build() {
  if (built) return built;
  const dir = join(tmpdir(), 'privops-e2e-bin-' + createHash('sha256').update(repo).digest('hex').slice(0, 12));
  mkdirSync(dir, { recursive: true });
  built = join(dir, 'privops');
  execFileSync('go', ['build', '-o', built, './functions'], { cwd: repo, stdio: 'inherit', env: { ...process.env, CGO_ENABLED: '0' } });
  return built;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

// startSuite starts the binary; it resolves once /readyz answers, with the
// base URL, the dev admin token the first start prints, and stop().
export async function startSuite(env = {}) {
  const bin = build();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'privops-e2e-'));
  const base = `http://127.0.0.1:${port}`;
  const proc = spawn(bin, [], {
    cwd: dir, stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, HTTP_ADDR: `127.0.0.1:${port}`, DATA_DIR: join(dir, 'data'), LOG_LEVEL: 'warn', ...env },
  });
  let out = '', errOut = '';
  proc.stdout.on('data', (b) => { out += b; });
  proc.stderr.on('data', (b) => { errOut += b; });
  const exited = new Promise((resolve) => proc.on('exit', resolve));
  for (let i = 0; ; i++) {
    if (proc.exitCode != null) throw new Error(`privops exited: ${errOut}`);
    try {
      const r = await fetch(base + '/readyz');
      // The token goes to stderr when stdout is not a terminal.
      if (r.ok && /Dev admin token[^\n]*\n\n\S+\n/.test(out + errOut)) break;
    } catch { /* not listening yet */ }
    if (i > 200) throw new Error(`privops did not become ready within 20 s: ${out.slice(0, 300)} ${errOut.slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const token = (out + errOut).match(/Dev admin token[^\n]*\n\n(\S+)/)[1];
  return {
    base, token, dir, outbox: join(dir, 'data', 'outbox'),
    // mint runs `privops token` with this suite's data folder (its dev key):
    // mint('--operator', '--role', 'operator-viewer'), mint('--ttl', '1000h').
    mint(...args) {
      return execFileSync(bin, ['token', ...args], { cwd: dir, env: { ...process.env, DATA_DIR: join(dir, 'data'), LOG_LEVEL: 'warn', ...env } }).toString().trim();
    },
    async stop() {
      proc.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10000))]);
      if (proc.exitCode == null) proc.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// decodeQP decodes a quoted-printable body (RFC 2045 §6.7).
function decodeQP(s) {
  const bytes = [];
  const t = s.replace(/=\r?\n/g, '');
  for (let i = 0; i < t.length; i++) {
    if (t[i] === '=' && /^[0-9A-F]{2}$/i.test(t.slice(i + 1, i + 3))) { bytes.push(parseInt(t.slice(i + 1, i + 3), 16)); i += 2; }
    else bytes.push(...Buffer.from(t[i], 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

// mail returns the decoded text of the outbox mail whose file name starts with prefix.
export async function mail(suite, prefix, { timeout = 10000 } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    const f = existsSync(suite.outbox) && readdirSync(suite.outbox).filter((n) => n.startsWith(prefix) && n.endsWith('.eml')).sort().pop();
    if (f) {
      const raw = readFileSync(join(suite.outbox, f), 'utf8');
      const [head, ...body] = raw.split(/\r?\n\r?\n/);
      return { head, text: decodeQP(body.join('\n\n')) };
    }
    if (Date.now() > end) throw new Error(`no mail ${prefix}* in the outbox`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// codeOf reads the one-time code of request id's n-th code mail.
export async function codeOf(suite, id, n = 1) {
  const m = await mail(suite, `${id}-code-${n}`);
  return m.text.match(/\b(\d{6})\b/)[1];
}

// admin calls the admin API with the dev admin token.
export async function admin(suite, method, path, body) {
  const r = await fetch(`${suite.base}/api/admin/demo${path}`, {
    method, headers: { Authorization: `Bearer ${suite.token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : {} };
}

export async function launch() {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

// newPage opens a page that records console errors and page errors. A
// refusal the test provokes on purpose (a wrong code: a 4xx from the API)
// is logged by Chromium as "Failed to load resource"; allow lists those.
export async function newPage(browser, { locale = 'en-GB', allow = [] } = {}) {
  const context = await browser.newContext({ locale, extraHTTPHeaders: { 'Accept-Language': locale } });
  const page = await context.newPage();
  page.errors = [];
  page.allow = allow;
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    // The resource's address follows the text, so an allowance can name
    // the one call it excuses.
    const text = m.text() + (m.location()?.url ? ' ' + m.location().url : '');
    if (page.allow.some((re) => re.test(text))) return;
    page.errors.push(text);
  });
  page.on('pageerror', (e) => page.errors.push(String(e)));
  return page;
}

// check runs axe-core on the page's current state (WCAG 2.x A and AA and best
// practices) and fails on any violation or console error; it saves a screenshot
// named name into test-artifacts/.
export async function check(page, name) {
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
  // Evaluated over the DevTools protocol, which the page's CSP does not govern.
  if (!(await page.evaluate(() => !!window.axe))) await page.evaluate(axeSource);
  const res = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
  assert.deepEqual(res, [], `axe violations on ${name}`);
  assert.deepEqual(page.errors, [], `console errors on ${name}`);
}

// startService runs a webhook service the demo tenant fans out to: it
// exports one item per subject, erases, and says "no data" to the
// verify-after-delete lookup. It does not check signatures (the Go tests do).
export async function startService() {
  const { createServer: createHTTP } = await import('node:http');
  const failed = new Set();
  const srv = createHTTP((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const task = JSON.parse(body || '{}');
      res.setHeader('Content-Type', 'application/json');
      // A subject whose address starts with "flaky" fails its first erasure
      // for good (400), so an admin has a task to retry.
      const email = task.identifiers?.email || '';
      if (task.action === 'erase' && email.startsWith('flaky') && !failed.has(email)) {
        failed.add(email); res.statusCode = 400; res.end('{}'); return;
      }
      if (task.action === 'lookup') { res.statusCode = 404; res.end('{}'); return; }
      if (task.action === 'export') { res.end(JSON.stringify({ items: [{ email: task.identifiers?.email, plan: 'basic' }] })); return; }
      res.end('{"items":1}');
    });
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${srv.address().port}/`, close: () => new Promise((r) => srv.close(r)) };
}

// connect registers the webhook service with the demo tenant (private
// addresses allowed: the service runs on loopback).
export async function connect(suite, service) {
  const s = await fetch(`${suite.base}/api/admin/demo/settings`, {
    method: 'PATCH', headers: { Authorization: `Bearer ${suite.token}`, 'Content-Type': 'application/merge-patch+json' },
    body: JSON.stringify({ allowPrivateConnectors: true }),
  });
  assert.equal(s.status, 200, 'allow private connectors');
  const r = await admin(suite, 'PUT', '/services/crm', {
    name: 'CRM', kind: 'webhook', url: service.url, actions: ['export', 'erase', 'lookup'],
    categories: ['profile'], identifiers: ['email'],
  });
  assert.ok(r.status === 200 || r.status === 201, `register service: ${r.status} ${JSON.stringify(r.body)}`);
}

// submitVerified sends a request through the portal API and confirms it with
// the mailed code, as a subject would without the page.
export async function submitVerified(suite, body) {
  const r = await fetch(`${suite.base}/api/portal/demo/requests`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  const sub = await r.json();
  assert.equal(r.status, 201, JSON.stringify(sub));
  const v = await fetch(`${suite.base}/api/portal/demo/requests/${sub.id}/verify`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${sub.token}` },
    body: JSON.stringify({ code: await codeOf(suite, sub.id) }),
  });
  assert.equal(v.status, 200);
  return sub;
}

// signIn opens the admin console and signs in with the dev admin token.
export async function signIn(page, suite, token = suite.token) {
  await page.goto(`${suite.base}/api/console/`);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await page.getByLabel('Tenant', { exact: true }).fill('demo');
  await page.getByLabel('Bearer token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Requests', exact: true }).waitFor();
}

// followAsSubject opens the privacy center with a request already in this
// tab's session, as after a submission.
export async function followAsSubject(page, suite, sub) {
  await page.goto(`${suite.base}/api/center/demo/`);
  await page.getByRole('button', { name: /Follow a request|查看已提交请求的进度/ }).click();
  await page.getByLabel(/^Reference|^请求编号/).fill(sub.id);
  await page.getByLabel(/Request token|请求令牌/).fill(sub.token);
  await page.getByRole('button', { name: /Show status|查看状态/ }).click();
  await page.getByRole('heading', { name: /^(Your request|您的请求)$/ }).waitFor();
}

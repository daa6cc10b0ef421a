// The console's pages beyond the queue, in a real browser against the real
// binary: services (register, secret once, rotate), legal holds (place → the
// request shows held → release), inbound keys, retention (the legal floor
// refused next to its field, a preview with per-policy counts, the
// sign-off), a breach incident whose clocks count down live and go overdue
// (the browser's clock fast-forwarded), an overdue request highlighted in the
// queue, and the operator's tenant list and health (counts, no subject data).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSuite, launch, newPage, check, admin, startService, submitVerified, signIn } from './harness.mjs';

let suite, browser, service;
before(async () => {
  suite = await startSuite(); browser = await launch(); service = await startService();
  const s = await fetch(`${suite.base}/api/admin/demo/settings`, {
    method: 'PATCH', headers: { Authorization: `Bearer ${suite.token}`, 'Content-Type': 'application/merge-patch+json' },
    body: JSON.stringify({ allowPrivateConnectors: true }),
  });
  assert.equal(s.status, 200);
});
after(async () => { await browser?.close(); await suite?.stop(); await service?.close(); });

const API_REFUSAL = /Failed to load resource: the server responded with a status of 4\d\d/;
const DAY = 86400000;

async function nav(page, name, heading = name) {
  await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name, exact: true }).click();
  await page.getByRole('heading', { name: heading, exact: true, level: 1 }).waitFor();
}

test('services: register a webhook service, its secret shown once, rotate it', async () => {
  const page = await newPage(browser);
  await signIn(page, suite);
  await nav(page, 'Services');
  await check(page, 'console-services-empty');
  await page.getByRole('button', { name: 'Register a webhook service' }).click();
  await page.getByRole('heading', { name: 'Register a webhook service' }).waitFor();
  await page.getByRole('button', { name: 'Register' }).click();
  await page.getByRole('alert').waitFor();
  assert.equal(await page.getByLabel('Id', { exact: true }).getAttribute('aria-invalid'), 'true');
  await check(page, 'console-service-form-errors');
  await page.getByLabel('Id', { exact: true }).fill('crm');
  await page.getByLabel('Name').fill('CRM');
  await page.getByLabel('Webhook URL').fill(service.url);
  await page.getByLabel('lookup').check();
  await page.getByLabel('profile').check();
  await page.getByRole('button', { name: 'Register' }).click();
  await page.getByRole('heading', { name: 'Service crm' }).waitFor();
  const first = await page.locator('#s-secret').innerText();
  assert.ok(first.length >= 20, `a secret is shown: ${first}`);
  await check(page, 'console-service-registered');
  await page.getByRole('button', { name: 'Rotate the signing secret' }).click();
  await page.getByText(/Secret rotated/).waitFor();
  const second = await page.locator('#s-secret').innerText();
  assert.notEqual(second, first);
  assert.equal(await page.locator('table').first().locator('tbody tr').count(), 2, 'two active secrets after a rotation');
  await page.getByRole('button', { name: '← All services' }).click();
  await page.getByRole('link', { name: 'crm' }).waitFor();
  assert.equal(await page.locator('#s-secret').count(), 0, 'the secret is gone once the page is left');
  const stored = await admin(suite, 'GET', '/services/crm');
  assert.deepEqual(stored.body.actions, ['export', 'erase', 'lookup']);
  await check(page, 'console-services');
  // Remove it: a confirmation first, and "Keep it" changes nothing.
  await page.getByRole('link', { name: 'crm' }).click();
  await page.getByRole('heading', { name: 'Service crm' }).waitFor();
  await page.getByRole('button', { name: 'Remove', exact: true }).click();
  await page.getByRole('heading', { name: 'Remove service crm?' }).waitFor();
  await check(page, 'console-service-remove-confirm');
  await page.getByRole('button', { name: 'Keep it' }).click();
  assert.equal((await admin(suite, 'GET', '/services/crm')).status, 200, 'kept');
  await page.getByRole('button', { name: 'Remove', exact: true }).click();
  await page.getByRole('button', { name: 'Remove service crm' }).click();
  await page.getByText('Service crm removed.').waitFor();
  assert.equal((await admin(suite, 'GET', '/services/crm')).status, 404, 'removed');
  await check(page, 'console-service-removed');
  await page.context().close();
});

test('holds: place on a subject, the request shows held, release', async () => {
  const sub = await submitVerified(suite, { type: 'erase', email: 'holdpage@example.com', country: 'DE' });
  const page = await newPage(browser);
  await signIn(page, suite);
  await nav(page, 'Legal holds');
  await page.getByRole('button', { name: 'Place the hold' }).click();
  await page.getByRole('alert').waitFor();
  await check(page, 'console-holds-errors');
  await page.getByLabel('Subject\'s email address').fill('holdpage@example.com');
  await page.getByLabel(/Legal ground/).selectOption('legal-claims');
  await page.getByLabel(/Internal reason/).fill('Litigation 2026-31');
  await page.getByRole('button', { name: 'Place the hold' }).click();
  await page.getByText(/placed: erasures/).waitFor();
  const holdId = (await page.locator('tbody tr').first().locator('td').first().innerText()).trim();
  await check(page, 'console-holds');
  await nav(page, 'Requests');
  await page.getByRole('link', { name: sub.id }).click();
  await page.getByRole('heading', { name: `Request ${sub.id}` }).waitFor();
  assert.match(await page.locator('dl').innerText(), new RegExp(`Legal hold\\s+held: legal-claims \\(subject, ${holdId}\\)`));
  await check(page, 'console-request-held');
  await nav(page, 'Legal holds');
  await page.getByRole('button', { name: `Release hold ${holdId}` }).click();
  await page.getByText(/released: the erasures/).waitFor();
  assert.match(await page.locator('tbody').innerText(), /released/);
  await nav(page, 'Requests');
  await page.getByRole('link', { name: sub.id }).click();
  await page.getByRole('heading', { name: `Request ${sub.id}` }).waitFor();
  assert.doesNotMatch(await page.locator('dl').innerText(), /Legal hold/);
  await page.context().close();
});

test('inbound keys: add (secret once), revoke', async () => {
  const page = await newPage(browser);
  await signIn(page, suite);
  await nav(page, 'Inbound keys');
  await page.getByRole('button', { name: 'Add a key' }).click();
  await page.getByRole('heading', { name: /: its secret \(shown once\)/ }).waitFor();
  const id = (await page.locator('tbody tr td').first().innerText()).trim();
  assert.ok((await page.locator('#k-secret').innerText()).length >= 20);
  await check(page, 'console-keys-added');
  await page.getByRole('button', { name: `Revoke key ${id}` }).click();
  await page.getByText(/revoked/).waitFor();
  assert.equal(await page.locator('#k-secret').count(), 0);
  assert.deepEqual((await admin(suite, 'GET', '/inbound-keys')).body.keys, []);
  await page.context().close();
});

test('retention: the legal floor next to the field, a preview with counts, the sign-off', async () => {
  const page = await newPage(browser, { allow: [API_REFUSAL] });
  await signIn(page, suite);
  await nav(page, 'Retention');
  await page.getByRole('button', { name: 'Add a policy' }).click();
  await page.getByRole('heading', { name: 'Add a retention policy' }).waitFor();
  await page.getByLabel('Id', { exact: true }).fill('closed-requests');
  await page.getByLabel('Keep for (days)').fill('365');
  await page.getByLabel(/approves its preview/).check();
  await page.getByRole('button', { name: 'Save the policy' }).click();
  const err = page.locator('#r-maxAgeDays-error');
  await err.waitFor();
  assert.match(await err.innerText(), /below-legal-floor/);
  assert.equal(await page.getByLabel('Keep for (days)').getAttribute('aria-invalid'), 'true');
  await check(page, 'console-retention-floor-error');
  await page.getByLabel('Keep for (days)').fill('800');
  await page.getByRole('button', { name: 'Save the policy' }).click();
  await page.getByText('Policy closed-requests saved.').waitFor();
  assert.match(await page.locator('tbody').first().innerText(), /preview first/);
  await page.getByRole('button', { name: 'Preview a sweep' }).click();
  const title = page.getByRole('heading', { name: /^Preview at / });
  await title.waitFor();
  const rows = await page.getByRole('table', { name: 'Preview, per policy' }).locator('tbody tr').allInnerTexts();
  assert.equal(rows.length, 1);
  assert.match(rows[0], /^closed-requests\s+\S+.*\s\d+\s+\d+/);
  await check(page, 'console-retention-preview');
  await page.getByRole('button', { name: 'Approve preview of closed-requests' }).click();
  await page.getByText(/approved: the next run/).waitFor();
  assert.match(await page.locator('tbody').first().innerText(), /approved by admin:/);
  await check(page, 'console-retention-approved');
  // A second policy, deleted after a confirmation; the first stays.
  assert.equal((await admin(suite, 'PUT', '/retention/policies/old-codes',
    { category: 'verification-codes', scope: 'suite', maxAgeDays: 30, from: 'created', action: 'delete' })).status, 201);
  await nav(page, 'Retention');
  await page.getByRole('link', { name: 'Edit old-codes' }).click();
  await page.getByRole('heading', { name: 'Edit policy old-codes' }).waitFor();
  await page.getByRole('button', { name: 'Delete the policy' }).click();
  await page.getByRole('heading', { name: 'Delete policy old-codes?' }).waitFor();
  await check(page, 'console-retention-delete-confirm');
  await page.getByRole('button', { name: 'Delete policy old-codes' }).click();
  await page.getByText('Policy old-codes deleted.').waitFor();
  assert.equal((await admin(suite, 'GET', '/retention/policies/old-codes')).status, 404);
  assert.equal((await admin(suite, 'GET', '/retention/policies/closed-requests')).status, 200);
  await page.context().close();
});

test('breach incident: clocks count down live and go overdue; acknowledge; the report', async () => {
  const so = suite.mint('--operator', '--role', 'security-officer', '--sub', 'sec');
  const now = Date.now();
  const r = await fetch(`${suite.base}/api/operator/incidents`, {
    method: 'POST', headers: { Authorization: `Bearer ${so}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ detectedAt: new Date(now - 3600000).toISOString(), awareAt: new Date(now - 1800000).toISOString(), jurisdictions: ['eu-gdpr'],
      tenants: ['demo'], title: 'Backup bucket exposed', nature: 'a storage bucket was public', categories: ['contact details'],
      subjectsApprox: 120, recordsApprox: 540, consequences: 'phishing', measures: 'bucket closed', contact: 'dpo@operator.example', risk: 'high' }),
  });
  const inc = await r.json();
  assert.equal(r.status, 201, JSON.stringify(inc));

  // Until a recipient list is uploaded the campaign answers 404
  // unknown-campaign, which the page shows as "no recipient list yet".
  const page = await newPage(browser, { allow: [/status of 404 .* \S+\/api\/admin\/demo\/incidents\/inc_\w+\/campaign$/] });
  await page.clock.install();
  await signIn(page, suite, suite.mint('--ttl', '2000h'));
  await nav(page, 'Incidents');
  await page.getByRole('link', { name: inc.id }).waitFor();
  await check(page, 'console-incidents');
  await page.getByRole('link', { name: inc.id }).click();
  await page.getByRole('heading', { name: `Incident ${inc.id}` }).waitFor();
  const clocks = page.getByRole('table', { name: /^Clocks/ });
  const gdpr = clocks.locator('tr').filter({ has: page.locator('[data-due]') }).first(); // the processor's 24 h to tell the controller
  const before = await gdpr.locator('[data-due]').innerText();
  assert.match(before, /^(\d+ d )?\d+ h \d+ min left$/);
  await page.clock.runFor(5 * 60000); // five minutes later, without a reload
  const later = await gdpr.locator('[data-due]').innerText();
  assert.notEqual(later, before, 'the clock counted down');
  assert.equal(await gdpr.getAttribute('class'), null);
  await check(page, 'console-incident-running');
  await page.clock.fastForward(2 * DAY); // past its due time
  await page.clock.runFor(2000);
  assert.match(await gdpr.locator('[data-due]').innerText(), /^Overdue by \d+ d \d+ h \d+ min$/);
  assert.equal(await page.getByRole('heading', { name: /Your sign-in/ }).count(), 0, 'a 2000-hour token is not about to end');
  assert.equal(await gdpr.getAttribute('class'), 'overdue');
  await check(page, 'console-incident-overdue');

  await page.getByRole('button', { name: /^Acknowledge version 1$/ }).click();
  await page.getByText('Version 1 acknowledged.').waitFor();
  assert.match(await page.locator('dl').first().innerText(), /Acknowledged\s+.* by admin:/);
  assert.match(await page.locator('main').innerText(), /Notifying the data subjects\s+Approve notifying the data subjects\s+Not started/);
  await page.getByRole('button', { name: 'Approve notifying the data subjects' }).click();
  await page.getByText('Notifying the data subjects approved.').waitFor();
  const up = await fetch(`${suite.base}/api/admin/demo/incidents/${inc.id}/recipients`, {
    method: 'POST', headers: { Authorization: `Bearer ${suite.token}`, 'Content-Type': 'text/csv' },
    body: 'email,language\nann@example.com,en\nbo@example.com,zh-CN\ncy@example.com,en\n',
  });
  assert.ok(up.ok, `recipients: ${up.status} ${await up.text()}`);
  const start = await admin(suite, 'POST', `/incidents/${inc.id}/notify-subjects`);
  assert.ok(start.status === 202 || start.status === 200, JSON.stringify(start.body));
  for (let i = 0; i < 100 && (await admin(suite, 'GET', `/incidents/${inc.id}/campaign`)).body.state !== 'done'; i++) {
    await new Promise((res) => setTimeout(res, 100));
  }
  await page.getByRole('button', { name: '← All incidents' }).click();
  await page.getByRole('link', { name: inc.id }).click();
  await page.getByRole('heading', { name: `Incident ${inc.id}` }).waitFor();
  assert.match(await page.locator('main').innerText(), /State: done[\s\S]*total\s+3\s+sent\s+3\s+failed\s+0/);
  await check(page, 'console-incident-campaign');
  await page.getByRole('button', { name: 'Show the authority report' }).click();
  await page.getByRole('heading', { name: /Authority report/ }).waitFor();
  assert.match(await page.locator('pre.report').innerText(), /Backup bucket exposed|storage bucket was public/);
  await check(page, 'console-incident-report');
  await page.context().close();
});

test('an overdue request is highlighted in the queue (the browser clock 40 days on)', async () => {
  const sub = await submitVerified(suite, { type: 'access', email: 'overdue@example.com', country: 'FR' });
  const fresh = await submitVerified(suite, { type: 'access', email: 'fresh@example.com', country: 'FR' });
  await admin(suite, 'POST', `/requests/${fresh.id}/extend`, { reason: 'many systems' });
  const page = await newPage(browser);
  await page.clock.install({ time: Date.now() + 40 * DAY });
  await signIn(page, suite, suite.mint('--ttl', '2000h'));
  const row = page.locator('tr', { has: page.getByRole('link', { name: sub.id }) });
  await row.waitFor();
  assert.equal(await row.getAttribute('class'), 'overdue');
  assert.match(await row.innerText(), /Overdue by \d+ days/);
  const ok = page.locator('tr', { has: page.getByRole('link', { name: fresh.id }) });
  assert.equal(await ok.getAttribute('class'), null, 'the extended request is not overdue');
  assert.match(await page.locator('main').innerText(), /\d+ shown, \d+ overdue/);
  await check(page, 'console-queue-overdue');
  await page.context().close();
});

test('operator: the tenant list and a tenant\'s health, never a subject', async () => {
  await submitVerified(suite, { type: 'access', email: 'opcount@example.com', country: 'FR' });
  const page = await newPage(browser);
  await page.goto(`${suite.base}/api/console/`);
  await page.getByLabel('Bearer token').fill(suite.mint('--operator', '--role', 'operator-viewer', '--sub', 'olga'));
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Tenants', exact: true }).waitFor();
  const navText = await page.getByRole('navigation', { name: 'Console' }).innerText();
  assert.doesNotMatch(navText, /Requests|Services/, 'an operator gets no tenant pages');
  assert.match(await page.locator('tbody').innerText(), /demo\s+Demo Tenant\s+active/);
  await check(page, 'console-operator-tenants');
  await page.getByRole('link', { name: 'demo' }).click();
  await page.getByRole('heading', { name: 'Tenant demo' }).waitFor();
  const text = await page.locator('main').innerText();
  assert.match(text, /Open requests\s+\d+/);
  assert.match(text, /— awaiting-decision\s+\d+/);
  assert.match(text, /Open incidents\s+1/);
  assert.match(text, /Last retention run\s+none/);
  assert.doesNotMatch(text, /@example\.com|dsr_/, 'no subject, no request id');
  await check(page, 'console-operator-health');
  await page.context().close();
});

test('retention runs: the list and a run\'s report (a suite whose timer fires every 2 seconds)', async () => {
  const fast = await startSuite({ RETENTION_SCHEDULE: '*/2 * * * * *' });
  try {
    const put = await fetch(`${fast.base}/api/admin/demo/retention/policies/codes`, {
      method: 'PUT', headers: { Authorization: `Bearer ${fast.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ category: 'verification-codes', scope: 'suite', maxAgeDays: 30, from: 'created', action: 'delete' }),
    });
    assert.ok(put.status === 201 || put.status === 200, `policy: ${put.status} ${await put.text()}`);
    let run;
    for (let i = 0; i < 100 && !run; i++) {
      const r = await (await fetch(`${fast.base}/api/admin/demo/retention/runs`, { headers: { Authorization: `Bearer ${fast.token}` } })).json();
      run = (r.runs || []).find((x) => x.finishedAt);
      if (!run) await new Promise((res) => setTimeout(res, 200));
    }
    assert.ok(run, 'a run finished');
    const page = await newPage(browser);
    await signIn(page, fast);
    await nav(page, 'Retention');
    await page.getByRole('link', { name: run.id }).click();
    await page.getByRole('heading', { name: `Run ${run.id}` }).waitFor();
    const rows = await page.getByRole('table', { name: 'Run report, per policy' }).locator('tbody tr').allInnerTexts();
    assert.match(rows.join('\n'), /^codes\s+done/m);
    await check(page, 'console-retention-run');
    await page.context().close();
  } finally {
    await fast.stop();
  }
});

test('a pasted token about to expire: the banner takes a new one in place', async () => {
  const page = await newPage(browser);
  await page.clock.install();
  await signIn(page, suite, suite.mint('--ttl', '3m'));
  await nav(page, 'Services');
  await page.clock.fastForward(121000);
  await page.getByRole('heading', { name: 'Your sign-in ends soon' }).waitFor();
  await check(page, 'console-renew-paste');
  await page.getByLabel('Paste a new token').fill(suite.mint('--operator'));
  await page.getByRole('button', { name: 'Use this token' }).click();
  await page.getByText('Paste a token for the same tenant and role').first().waitFor();
  await page.getByLabel('Paste a new token').fill(suite.mint('--ttl', '8h'));
  await page.getByRole('button', { name: 'Use this token' }).click();
  await page.getByRole('heading', { name: /Your sign-in/ }).waitFor({ state: 'detached' });
  assert.equal(await page.getByRole('heading', { name: 'Services', level: 1 }).count(), 1, 'still on the same page');
  await nav(page, 'Legal holds');
  await page.context().close();
});

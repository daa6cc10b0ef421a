// Every string the privacy center shows exists in English and in Simplified
// Chinese: the two catalogues have the same keys, and every key its scripts ask
// for (t('…'), FIELD_MSG, 'e.' + an API code it maps) is in them. No browser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import vm from 'node:vm';
import { repo } from './harness.mjs';

const dir = join(repo, 'functions', 'center', 'assets');
const sandbox = { window: {} };
vm.runInNewContext(readFileSync(join(dir, 'i18n.js'), 'utf8'), sandbox);
const { en, 'zh-Hans': zh } = sandbox.window.PRIVOPS_I18N;
// Every script of the center but the catalogue itself.
const app = readdirSync(dir).filter((f) => f.endsWith('.js') && f !== 'i18n.js').map((f) => readFileSync(join(dir, f), 'utf8')).join('\n');

test('both languages have the same strings', () => {
  assert.deepEqual(Object.keys(zh).sort(), Object.keys(en).sort());
  for (const [k, v] of Object.entries(zh)) {
    assert.ok(v.trim(), `zh-Hans ${k} is empty`);
    assert.deepEqual((v.match(/\{\w+\}/g) || []).sort(), (en[k].match(/\{\w+\}/g) || []).sort(), `placeholders of ${k}`);
  }
});

test('every key the script uses is translated', () => {
  const used = new Set();
  for (const m of app.matchAll(/\bt\('([\w-]+(?:\.[\w-]+)?)'\s*[,)]/g)) used.add(m[1]);
  for (const m of app.matchAll(/'(e\.[\w-]+)'/g)) used.add(m[1]);
  for (const m of app.matchAll(/(?:label|hint): '([\w.-]+)'/g)) used.add(m[1]);
  for (const k of ['access', 'export', 'erase', 'rectify', 'restrict', 'lift-restriction', 'object']) used.add('t.' + k);
  for (const k of ['awaiting-verification', 'awaiting-decision', 'approved', 'in-progress', 'completed', 'partially-completed', 'denied', 'cancelled']) used.add('s.' + k);
  for (const k of ['eu-gdpr', 'uk-gdpr', 'us-ca-ccpa', 'us-co-cpa', 'us-va-vcdpa', 'br-lgpd', 'cn-pipl', 'default']) used.add('g.' + k);
  const missing = [...used].filter((k) => !(k in en) || !(k in zh));
  assert.deepEqual(missing, []);
  assert.ok(used.size > 60, `found only ${used.size} keys: the patterns no longer match app.js`);
});

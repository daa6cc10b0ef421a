/* Inbound keys: the keys the tenant's own systems sign their Service Bus
   messages with. The list (ids only), a new key (its secret shown once) and
   retiring one at once. */
import { state, views, open, h, go, render, fail, problem, call, summary, live, fmt, table } from './core.js';

function loadKeys(note, secret) {
  return call('GET', '/inbound-keys').then((res) => {
    if (!res.ok) { fail([problem(res)]); return; }
    state.keys = res.body.keys || []; state.keySecret = secret || null; state.errors = []; state.note = note || ''; state.arg = '';
    if (state.view !== 'keys' || !note) go('keys');
    else { render(); const t = document.getElementById(secret ? 'k-secret-title' : 'c-live'); if (t) t.focus(); }
  });
}
open.keys = loadKeys;

views.keys = function () {
  const list = state.keys || [];
  const s = state.keySecret;
  return h('div', { class: 'box' }, h('h1', { tabindex: '-1' }, 'Inbound keys'), summary(), live(),
    h('p', {}, 'Your own systems sign the messages they send privops (an HR system asking to erase a leaver) with one of these keys.'),
    s ? h('div', { class: 'secret', role: 'region', 'aria-labelledby': 'k-secret-title' },
      h('h2', { id: 'k-secret-title', tabindex: '-1' }, 'Key ' + s.id + ': its secret (shown once)'),
      h('p', {}, 'Copy it into the sending system now: it is not shown again.'),
      h('p', { class: 'mono', id: 'k-secret' }, s.secret)) : null,
    list.length ? table('Active inbound keys', ['Key', 'Created', ''], list.map((k) => h('tr', {}, h('td', { class: 'mono' }, k.id), h('td', {}, fmt(k.createdAt)),
      h('td', {}, h('button', { type: 'button', class: 'danger', disabled: state.busy, 'aria-label': 'Revoke key ' + k.id, onclick: () => revoke(k) }, 'Revoke')))))
      : h('p', {}, 'No active keys.'),
    h('p', {}, h('button', { type: 'button', disabled: state.busy, onclick: addKey }, 'Add a key')));
};
function addKey() {
  if (state.busy) return;
  state.busy = true; render();
  call('POST', '/inbound-keys').then((res) => {
    state.busy = false;
    if (!res.ok) { fail(['Add a key: ' + problem(res)]); return; }
    loadKeys('Key ' + res.body.id + ' added.', { id: res.body.id, secret: res.body.secret });
  });
}
function revoke(k) {
  if (state.busy) return;
  state.busy = true; render();
  call('DELETE', '/inbound-keys/' + encodeURIComponent(k.id)).then((res) => {
    state.busy = false;
    if (!res.ok) { fail(['Revoke: ' + problem(res)]); return; }
    loadKeys('Key ' + k.id + ' revoked: messages signed with it are refused from now on.');
  });
}

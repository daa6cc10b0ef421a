/* Legal holds: the list (active first), placing one (on a subject, a
   service, a data category or the whole tenant, with its legal ground and
   an internal reason) and releasing one, which restarts the erasures it
   deferred. */
import { HOLD_CATEGORIES, state, views, open, h, go, render, fail, problem, refused, call, summary, live, input, fmt, val, table, options } from './core.js';

const SCOPES = [['subject', 'One subject (by email address)'], ['service', 'One service'], ['data-category', 'One data category'], ['tenant', 'Everything of this tenant']];
const DATA_CATEGORIES = ['customer', 'administrator', 'payment', 'support', 'system-logs', 'dsr-records', 'export-packages', 'breach-records', 'verification-codes', 'rejected-inbound'];
const FIELDS = { email: 'h-email', service: 'h-service', reason: 'h-reason', category: 'h-category', dataCategory: 'h-data-category', scope: 'h-scope' };

function loadHolds(note) {
  return call('GET', '/holds').then((res) => {
    if (!res.ok) { fail([problem(res)]); return; }
    state.holds = res.body.holds || []; state.errors = []; state.note = note || ''; state.arg = '';
    if (state.view !== 'holds' || !note) go('holds');
    else { render(); const l = document.getElementById('c-live'); if (l) l.focus(); }
  });
}
open.holds = loadHolds;

function target(x) {
  if (x.scope === 'subject') return 'subject ' + (x.subjectHash || '').slice(0, 12) + '…';
  if (x.scope === 'service') return 'service ' + x.service;
  if (x.scope === 'data-category') return 'category ' + x.dataCategory;
  return 'the whole tenant';
}

views.holds = function () {
  const list = (state.holds || []).slice().sort((a, b) => (!!a.releasedAt - !!b.releasedAt) || (a.placedAt < b.placedAt ? 1 : -1));
  const scope = state.values['h-scope'] || 'subject';
  return [h('div', { class: 'box' }, h('h1', { tabindex: '-1' }, 'Legal holds'), summary(), live(),
    h('p', {}, 'A legal hold keeps data an erasure or a retention sweep would remove; the subject is told its legal ground, never the internal reason.'),
    list.length ? table('Legal holds, active first', ['Hold', 'Covers', 'Ground', 'Reason', 'Placed', 'Status', ''], list.map((x) => h('tr', {},
      h('td', { class: 'mono' }, x.id), h('td', {}, target(x)), h('td', {}, x.category), h('td', {}, x.reason), h('td', {}, fmt(x.placedAt) + ' by ' + x.placedBy),
      h('td', {}, x.releasedAt ? 'released ' + fmt(x.releasedAt) : h('span', { class: 'badge held' }, 'active')),
      h('td', {}, x.releasedAt ? null : h('button', { type: 'button', class: 'secondary', disabled: state.busy, 'aria-label': 'Release hold ' + x.id, onclick: () => release(x) }, 'Release')))))
      : h('p', {}, 'No legal holds.')),
  h('div', { class: 'box' }, h('h2', {}, 'Place a legal hold'),
    h('form', { novalidate: true, onsubmit: place },
      input('h-scope', 'What it covers', h('select', { onchange: (ev) => { state.values['h-scope'] = ev.target.value; render(); document.getElementById('h-scope').focus(); } }, options(SCOPES, scope))),
      scope === 'subject' ? input('h-email', 'Subject\'s email address', h('input', { type: 'email', autocomplete: 'off', spellcheck: 'false' }), 'Kept only as a keyed hash.') : null,
      scope === 'service' ? input('h-service', 'Service id', h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false' })) : null,
      scope === 'data-category' ? input('h-data-category', 'Data category', h('select', {}, options(DATA_CATEGORIES, state.values['h-data-category']))) : null,
      input('h-category', 'Legal ground (told to the subject)', h('select', {}, options(HOLD_CATEGORIES, state.values['h-category']))),
      input('h-reason', 'Internal reason (never shown to the subject)', h('textarea', {})),
      h('p', {}, h('button', { type: 'submit', disabled: state.busy }, 'Place the hold'))))];
};

function place(ev) {
  ev.preventDefault();
  if (state.busy) return;
  const scope = state.values['h-scope'] || 'subject';
  const body = { scope, category: state.values['h-category'] || HOLD_CATEGORIES[0], reason: val('h-reason') };
  const errs = [];
  if (scope === 'subject') { body.email = val('h-email'); if (!/^\S+@\S+\.\S+$/.test(body.email)) errs.push({ msg: 'Enter the subject\'s email address', field: 'h-email' }); }
  if (scope === 'service') { body.service = val('h-service'); if (!body.service) errs.push({ msg: 'Enter the service id', field: 'h-service' }); }
  if (scope === 'data-category') body.dataCategory = state.values['h-data-category'] || DATA_CATEGORIES[0];
  if (!body.reason) errs.push({ msg: 'Enter the internal reason for the hold', field: 'h-reason' });
  if (errs.length) { state.errors = errs; go('holds', true); return; }
  state.busy = true; render();
  call('POST', '/holds', body).then((res) => {
    state.busy = false;
    if (!res.ok) { refused('Hold', res, FIELDS); return; }
    ['h-email', 'h-service', 'h-reason'].forEach((k) => delete state.values[k]);
    loadHolds('Hold ' + res.body.id + ' placed: erasures of what it covers are deferred.');
  });
}
function release(x) {
  if (state.busy) return;
  state.busy = true; render();
  call('POST', '/holds/' + encodeURIComponent(x.id) + '/release').then((res) => {
    state.busy = false;
    if (!res.ok) { fail(['Release: ' + problem(res)]); return; }
    loadHolds('Hold ' + x.id + ' released: the erasures it deferred start again.');
  });
}

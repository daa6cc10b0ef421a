/* The request queue: filters, days left with overdue requests highlighted,
   unverified requests hidden unless asked, and bulk actions on the requests
   shown after a preview count. */
import { TERMINAL, state, views, open, h, go, render, fail, problem, call, summary, live, input, daysLeft, overdueText, fmt } from './core.js';

const STATUSES = ['awaiting-verification', 'awaiting-decision', 'approved', 'in-progress', 'completed', 'partially-completed', 'denied', 'cancelled'];
const TYPES = ['access', 'export', 'erase', 'rectify', 'restrict', 'lift-restriction', 'object'];

export function loadQueue(more) {
  const f = state.filters, q = ['limit=100'];
  if (f.status) q.push('status=' + f.status);
  if (f.type) q.push('type=' + f.type);
  if (more && state.next) q.push('cursor=' + encodeURIComponent(state.next));
  state.arg = '';
  return call('GET', '/requests?' + q.join('&')).then((res) => {
    if (!res.ok) { fail([problem(res)]); return; }
    state.list = (more ? state.list : []).concat(res.body.requests || []);
    state.next = res.body.next || '';
    state.errors = [];
    if (state.view !== 'queue') go('queue'); else render();
  });
}
open.queue = loadQueue;

views.queue = function viewQueue() {
  const f = state.filters;
  const rows = state.list.filter((r) => f.unverified || f.status === 'awaiting-verification' || r.status !== 'awaiting-verification');
  rows.sort((a, b) => (daysLeft(a) == null) - (daysLeft(b) == null) || (daysLeft(a) || 0) - (daysLeft(b) || 0));
  const sel = (id, label, opts, key) => {
    const s = h('select', { id, onchange: () => { f[key] = s.value; if (state.bulk) state.bulk.preview = null; loadQueue().then(() => document.getElementById(id).focus()); } });
    opts.forEach((o) => s.append(h('option', { value: o[0], selected: f[key] === o[0] }, o[1])));
    return h('div', {}, h('label', { for: id }, label), s);
  };
  const cb = h('input', { type: 'checkbox', id: 'c-unverified', onchange: () => { f.unverified = cb.checked; if (state.bulk) state.bulk.preview = null; render(); document.getElementById('c-unverified').focus(); } });
  cb.checked = f.unverified;
  const overdue = rows.filter((r) => { const d = daysLeft(r); return d != null && d < 0; }).length;
  return h('div', { class: 'box' }, h('h1', { tabindex: '-1' }, 'Requests'), summary(), live(),
    h('div', { class: 'filters', role: 'group', 'aria-label': 'Filters' },
      sel('c-status', 'Status', [['', 'Any']].concat(STATUSES.map((s) => [s, s])), 'status'),
      sel('c-type', 'Type', [['', 'Any']].concat(TYPES.map((s) => [s, s])), 'type'),
      h('div', { class: 'check' }, cb, h('label', { for: 'c-unverified' }, 'Show unverified requests')),
      h('button', { type: 'button', class: 'secondary', onclick: () => loadQueue() }, 'Refresh')),
    h('p', {}, rows.length + ' shown' + (overdue ? ', ' + overdue + ' overdue' : '')),
    rows.length ? h('table', {}, h('caption', { class: 'sr' }, 'Requests, soonest deadline first'),
      h('thead', {}, h('tr', {}, ['Reference', 'Type', 'Status', 'Received', 'Due', 'Days left'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, rows.map((r) => {
        const dl = daysLeft(r);
        return h('tr', { class: dl != null && dl < 0 ? 'overdue' : null },
          h('td', {}, h('a', { href: '#', class: 'mono', onclick: (ev) => { ev.preventDefault(); open.detail(r.id); } }, r.id)),
          h('td', {}, r.type), h('td', {}, h('span', { class: 'badge' }, r.status)), h('td', {}, fmt(r.receivedAt)),
          h('td', {}, r.due && r.due.at ? fmt(r.due.at) : ''), h('td', {}, overdueText(dl)));
      }))) : h('p', {}, 'No requests match.'),
    state.next ? h('p', {}, h('button', { type: 'button', class: 'secondary', onclick: () => loadQueue(true) }, 'Load more')) : null,
    rows.length ? bulkPanel(rows) : null);
};

// BULK says which of the shown requests an action applies to.
const BULK = {
  approve: { label: 'Approve', path: '/approve', eligible: (r) => r.status === 'awaiting-decision' },
  deny: { label: 'Deny', path: '/deny', reason: true, eligible: (r) => r.status === 'awaiting-decision' },
  extend: { label: 'Extend', path: '/extend', reason: true, eligible: (r) => !TERMINAL.test(r.status) && r.status !== 'awaiting-verification' && !r.extension },
};
function bulkPanel(rows) {
  const b = state.bulk || (state.bulk = { action: 'approve', preview: null, running: false });
  const spec = BULK[b.action];
  const sel = h('select', { id: 'c-bulk-action', onchange: () => { b.action = sel.value; b.preview = null; render(); document.getElementById('c-bulk-action').focus(); } });
  Object.keys(BULK).forEach((k) => sel.append(h('option', { value: k, selected: k === b.action }, BULK[k].label)));
  const targets = b.preview;
  return h('form', { class: 'box', novalidate: true, 'aria-labelledby': 'c-bulk-title', onsubmit: (ev) => {
    ev.preventDefault();
    if (b.running) return;
    if (spec.reason && !(state.values['c-bulk-reason'] || '').trim()) { fail(['Enter a reason to ' + spec.label.toLowerCase()], 'c-bulk-reason'); return; }
    if (!targets) {
      // The preview fixes the set: what is shown now and eligible.
      b.preview = rows.filter(spec.eligible).map((r) => r.id);
      state.errors = []; render();
      const p = document.getElementById('c-bulk-preview'); if (p) p.focus();
      return;
    }
    runBulk(spec, targets.slice(), (state.values['c-bulk-reason'] || '').trim());
  } },
    h('h2', { id: 'c-bulk-title' }, 'Bulk action on the requests shown'),
    h('div', { class: 'filters' }, h('div', {}, h('label', { for: 'c-bulk-action' }, 'Action'), sel),
      spec.reason ? h('div', { class: 'wide' }, input('c-bulk-reason', 'Reason (mailed to each subject)', h('textarea', {}))) : null),
    targets ? h('p', { id: 'c-bulk-preview', tabindex: '-1', class: 'notice' },
      spec.label + ' ' + targets.length + ' of the ' + rows.length + ' requests shown (the others are not in a state that allows it).') : null,
    h('p', {}, targets
      ? [h('button', { type: 'submit', disabled: b.running || !targets.length }, spec.label + ' ' + targets.length + ' requests'), ' ',
        h('button', { type: 'button', class: 'secondary', onclick: () => { b.preview = null; render(); } }, 'Cancel')]
      : h('button', { type: 'submit', class: 'secondary' }, 'Preview')));
}
// runBulk applies one action to each request in turn, each with its own
// Idempotency-Key; a refusal is reported and the rest go on.
function runBulk(spec, ids, reason) {
  const b = state.bulk;
  let done = 0;
  const failed = [];
  b.running = true; render();
  const next = () => {
    if (!ids.length) {
      b.running = false; b.preview = null; delete state.values['c-bulk-reason'];
      state.note = spec.label + ': ' + done + ' done' + (failed.length ? ', ' + failed.length + ' refused (' + failed.join('; ') + ')' : '') + '.';
      loadQueue().then(() => { const l = document.getElementById('c-live'); if (l) l.focus(); });
      return;
    }
    const id = ids.shift();
    call('POST', '/requests/' + encodeURIComponent(id) + spec.path, spec.reason ? { reason } : null).then((res) => {
      if (res.ok) done++; else failed.push(id + ': ' + problem(res));
      next();
    });
  };
  next();
}

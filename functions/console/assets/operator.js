/* The operator's pages: the tenant list (status, offboarding state) and a
   tenant's health as counts (open requests by state, overdue, failed tasks,
   the newest retention run, open incidents, dead-lettered inbound
   messages). An operator never sees a subject's data, and the console
   never asks for it: these pages call the operator API only. */
import { state, views, open, h, go, fail, problem, op, summary, live, fmt, table, link } from './core.js';

function loadTenants(more) {
  const q = '/tenants?limit=100' + (more && state.tenantsNext ? '&cursor=' + encodeURIComponent(state.tenantsNext) : '');
  return op('GET', q).then((res) => {
    if (!res.ok) { fail([problem(res)]); return; }
    state.tenants = (more ? state.tenants : []).concat(res.body.tenants || []);
    state.tenantsNext = res.body.next || ''; state.errors = []; state.note = ''; state.arg = '';
    go('tenants');
  });
}
open.tenants = loadTenants;

function offboardingText(t) {
  const o = t.offboarding;
  if (!o) return '—';
  return (o.choice || 'offboarding') + (o.requestedAt ? ', asked ' + fmt(o.requestedAt) : '') + (o.purgeAfter ? ', purge after ' + fmt(o.purgeAfter) : '');
}
views.tenants = function () {
  const list = state.tenants || [];
  return h('div', { class: 'box' }, h('h1', { tabindex: '-1' }, 'Tenants'), summary(), live(),
    h('p', {}, 'Every tenant, its state and counts; never a subject\'s data.'),
    list.length ? table('Tenants', ['Tenant', 'Name', 'Status', 'Offboarding', 'Services', 'Active holds', 'Updated'], list.map((t) => h('tr', {},
      h('td', {}, link(t.id, () => openTenant(t.id), 'mono')), h('td', {}, t.name || ''), h('td', {}, h('span', { class: 'badge' }, t.status)),
      h('td', {}, offboardingText(t)), h('td', { class: 'num' }, String(t.services)), h('td', { class: 'num' }, String(t.activeHolds)), h('td', {}, fmt(t.updatedAt)))))
      : h('p', {}, 'No tenants.'),
    state.tenantsNext ? h('p', {}, h('button', { type: 'button', class: 'secondary', onclick: () => loadTenants(true) }, 'Load more')) : null);
};

function openTenant(id) {
  const base = '/tenants/' + encodeURIComponent(id);
  return Promise.all([op('GET', base), op('GET', base + '/health')]).then(([t, hl]) => {
    if (!t.ok) { fail([problem(t)]); return; }
    if (!hl.ok) { fail(['Health: ' + problem(hl)]); return; }
    state.tenantView = t.body; state.health = hl.body; state.errors = []; state.note = ''; state.arg = id;
    go('tenant');
  });
}
open.tenant = openTenant;

views.tenant = function () {
  const t = state.tenantView, hl = state.health;
  const open = Object.keys(hl.openRequests || {});
  const n = open.reduce((s, k) => s + hl.openRequests[k], 0);
  const r = hl.retention || {};
  const d = h('dl', {});
  [['Status', t.status], ['Offboarding', offboardingText(t)], ['Suspended', t.suspension ? fmt(t.suspension.at) + ': ' + t.suspension.reason : ''],
    ['Counted at', fmt(hl.at)]].forEach(([k, v]) => { if (v) d.append(h('dt', {}, k), h('dd', {}, v)); });
  const row = (label, value, bad) => h('tr', { class: bad ? 'overdue' : null }, h('th', { scope: 'row' }, label), h('td', { class: 'num' }, String(value)));
  return h('div', { class: 'box' },
    h('p', {}, h('button', { type: 'button', class: 'secondary', onclick: () => loadTenants() }, '← All tenants')),
    h('h1', { tabindex: '-1' }, 'Tenant ', h('span', { class: 'mono' }, t.id)), summary(), live(), d,
    h('h2', {}, 'Health'),
    h('table', {}, h('caption', { class: 'sr' }, 'Health counts'), h('tbody', {},
      row('Open requests', n),
      open.map((k) => row('— ' + k, hl.openRequests[k])),
      row('Overdue requests', hl.overdue, hl.overdue > 0),
      row('Failed tasks', hl.failedTasks, hl.failedTasks > 0),
      row('Open incidents', hl.openIncidents, hl.openIncidents > 0),
      row('Dead-lettered inbound messages', hl.deadLettered, hl.deadLettered > 0),
      h('tr', { class: r.state === 'completed-with-failures' ? 'overdue' : null }, h('th', { scope: 'row' }, 'Last retention run'),
        h('td', {}, r.state + (r.runId ? ' (' + r.runId + (r.finishedAt ? ', ' + fmt(r.finishedAt) : '') + ')' : ''))))),
    (hl.truncated || []).length ? h('p', {}, 'Counts that stopped at the scan limit (at least): ' + hl.truncated.join(', ')) : null);
};

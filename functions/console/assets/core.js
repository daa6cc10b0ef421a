/* The console's core: the page state, the element builder, the admin and
   operator API calls, the error summary and the router every page
   registers with (views). Pages are ES modules; this one imports none. */
// Module code runs after every import is evaluated: core.js runs first.
performance.mark('privops-start');
export const KEY = 'privops:console';
export const DAY = 86400000;
export const TERMINAL = /^(completed|partially-completed|denied|cancelled)$/;
export const HOLD_CATEGORIES = ['legal-obligation', 'legal-claims', 'freedom-of-expression', 'public-interest', 'public-health', 'archiving-research'];
export const OPERATOR_ROLES = ['operator-admin', 'security-officer', 'operator-viewer'];

let saved = {};
try { saved = JSON.parse(sessionStorage.getItem(KEY) || '{}') || {}; } catch (e) { saved = {}; }
// state is the whole page: a render draws it, nothing else is kept.
export const state = {
  tenant: saved.tenant || '', token: saved.token || '', refresh: saved.refresh || '', operator: !!saved.operator,
  view: 'signin', filters: { status: '', type: '', unverified: false },
  list: [], next: '', request: null, errors: [], note: '', busy: false, values: {}, config: {}, page: {},
};
// views maps a view name to its render function; each page module adds its own.
export const views = {};

export function keep() {
  try {
    sessionStorage.setItem(KEY, JSON.stringify({ tenant: state.tenant, token: state.token, refresh: state.refresh, operator: state.operator }));
  } catch (e) { /* memory only */ }
}

export function h(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  Object.keys(attrs || {}).forEach((k) => {
    const v = attrs[k];
    if (v == null || v === false) return;
    if (k.slice(0, 2) === 'on') e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  });
  kids.forEach((c) => add(e, c));
  return e;
}
function add(e, c) {
  if (c == null || c === false) return;
  if (Array.isArray(c)) { c.forEach((x) => add(e, x)); return; }
  e.append(c.nodeType ? c : document.createTextNode(String(c)));
}
export function fmt(s) { return s ? new Date(s).toISOString().slice(0, 16).replace('T', ' ') + ' UTC' : ''; }
export function daysLeft(r) {
  if (!r.due || !r.due.at || TERMINAL.test(r.status)) return null;
  return Math.ceil((new Date(r.due.at) - Date.now()) / DAY);
}
export function overdueText(dl) {
  return dl == null ? '—' : dl < 0 ? h('span', { class: 'overdue-text' }, 'Overdue by ' + -dl + ' days') : String(dl);
}

// request calls the API at path with the signed-in token; it answers
// {ok, status, body, type}. onExpired (set by the session module) runs on a
// 401 that says the token expired, so the page can renew it.
export const hooks = { beforeCall: () => Promise.resolve(), onUnauthorized: null };
export function request(method, path, body, extra) {
  return hooks.beforeCall().then(() => {
    const headers = { Authorization: 'Bearer ' + state.token, Accept: 'application/json' };
    if (body) headers['Content-Type'] = 'application/json';
    if (method !== 'GET') headers['Idempotency-Key'] = crypto.randomUUID();
    Object.assign(headers, extra || {});
    return fetch(path, { method, headers, body: body ? JSON.stringify(body) : undefined, cache: 'no-store', credentials: 'omit' })
      .then((r) => {
        const ct = r.headers.get('Content-Type') || '';
        return (ct.indexOf('json') >= 0 ? r.json() : r.text()).then((b) => ({ ok: r.ok, status: r.status, body: b, type: ct }));
      }, () => ({ ok: false, status: 0, body: { message: 'the server could not be reached' } }));
  }).then((res) => {
    if (res.status === 401 && hooks.onUnauthorized) hooks.onUnauthorized(res);
    return res;
  });
}
// call is a tenant admin call (/api/admin/{tenant}...), op an operator call.
export function call(method, path, body, extra) { return request(method, '/api/admin/' + encodeURIComponent(state.tenant) + path, body, extra); }
export function op(method, path, body, extra) { return request(method, '/api/operator' + path, body, extra); }

export function problem(res) {
  const b = res.body || {};
  if (res.status === 401) return 'The token was refused (' + (b.code || 'invalid-token') + '): sign in again.';
  return (b.message || b.detail || b.title || 'request failed') + (b.code ? ' (' + b.code + ')' : '');
}

export function render() {
  const who = document.getElementById('who');
  const nav = document.getElementById('nav');
  const root = document.getElementById('console');
  who.replaceChildren();
  nav.replaceChildren();
  if (state.token && state.view !== 'signin') {
    who.append(h('span', {}, state.operator ? 'Operator ' : 'Tenant ' + state.tenant + ' '),
      h('button', { type: 'button', class: 'secondary', onclick: () => hooks.signOut() }, 'Sign out'));
    nav.append(navBar());
  }
  const v = views[state.view]();
  root.replaceChildren(...[].concat(v).filter(Boolean), hooks.banner ? hooks.banner() : '');
}
// go shows view and moves focus to its heading (or the error summary).
export function go(view, focusSummary) {
  state.view = view;
  render();
  const root = document.getElementById('console');
  const t = (focusSummary && root.querySelector('.summary')) || root.querySelector('h1');
  if (t) t.focus();
}
export function fail(msgs, field) { state.errors = msgs.map((m) => ({ msg: m, field })); go(state.view, true); }
// refused shows an API refusal next to the field it names (problem+json
// "field", mapped to a control id by fields), or in the summary only.
export function refused(label, res, fields, fallback) {
  const f = res.body && res.body.field && fields && fields[res.body.field];
  fail([label + ': ' + problem(res)], f || fallback);
}
export function flash(note) {
  state.note = note; render();
  const l = document.getElementById('c-live'); if (l) l.focus();
}

// NAV lists the pages of each kind of sign-in: a tenant admin's, an operator's.
const NAV = {
  tenant: [['queue', 'Requests'], ['services', 'Services'], ['holds', 'Legal holds'], ['keys', 'Inbound keys'], ['retention', 'Retention'], ['incidents', 'Incidents']],
  operator: [['tenants', 'Tenants']],
};
export const open = {}; // view name → loader (pages register theirs)
function navBar() {
  const cur = state.view === 'detail' ? 'queue' : state.view === 'incident' ? 'incidents' : state.view === 'tenant' ? 'tenants' : state.view;
  return h('ul', {}, NAV[state.operator ? 'operator' : 'tenant'].map(([v, label]) => h('li', {},
    h('a', { href: '#' + v, 'aria-current': v === cur ? 'page' : null, onclick: (ev) => { ev.preventDefault(); state.note = ''; state.errors = []; open[v](); } }, label))));
}

export function summary() {
  if (!state.errors.length) return null;
  return h('div', { class: 'summary', role: 'alert', tabindex: '-1', 'aria-labelledby': 'c-err' },
    h('h2', { id: 'c-err' }, 'There is a problem'),
    h('ul', {}, state.errors.map((e) => h('li', {}, e.field ? h('a', { href: '#' + e.field, onclick: (ev) => {
      ev.preventDefault(); const f = document.getElementById(e.field); if (f) f.focus();
    } }, e.msg) : e.msg))));
}
export function live() { return h('p', { role: 'status', tabindex: '-1', class: state.note ? 'notice' : 'sr', id: 'c-live' }, state.note); }
// input labels control; an error about it is shown beside it and described.
export function input(id, label, control, hint) {
  control.id = id;
  if (state.values[id] != null) {
    if (control.type === 'checkbox') control.checked = !!state.values[id];
    else control.value = state.values[id];
  }
  const ev = control.tagName === 'SELECT' || control.type === 'checkbox' ? 'change' : 'input';
  control.addEventListener(ev, () => { state.values[id] = control.type === 'checkbox' ? control.checked : control.value; });
  const err = state.errors.filter((e) => e.field === id)[0];
  const described = [];
  if (hint) described.push(id + '-hint');
  if (err) { control.setAttribute('aria-invalid', 'true'); described.push(id + '-error'); }
  if (described.length) control.setAttribute('aria-describedby', described.join(' '));
  if (control.type === 'checkbox') {
    return h('div', { class: 'check' }, control, h('label', { for: id }, label), hint ? h('span', { id: id + '-hint', class: 'hint' }, hint) : null,
      err ? h('p', { id: id + '-error', class: 'error' }, err.msg) : null);
  }
  return h('div', {}, h('label', { for: id }, label), hint ? h('span', { id: id + '-hint', class: 'hint' }, hint) : null,
    err ? h('p', { id: id + '-error', class: 'error' }, err.msg) : null, control);
}
export function options(values, selected) {
  return values.map((v) => { const [val, label] = Array.isArray(v) ? v : [v, v]; return h('option', { value: val, selected: val === selected }, label); });
}
export function val(id) { return (state.values[id] == null ? '' : String(state.values[id])).trim(); }
export function table(caption, heads, rows) {
  return h('table', {}, h('caption', { class: 'sr' }, caption),
    h('thead', {}, h('tr', {}, heads.map((c) => h('th', { scope: 'col' }, c || h('span', { class: 'sr' }, 'Actions'))))), h('tbody', {}, rows));
}
// download saves text as a file.
export function download(text, name, type) {
  const a = h('a', { href: URL.createObjectURL(new Blob([text], { type: type || 'text/plain' })), download: name });
  document.body.append(a); a.click(); a.remove();
}
// link is an in-page link that runs fn.
export function link(text, fn, cls) { return h('a', { href: '#', class: cls || null, onclick: (ev) => { ev.preventDefault(); fn(); } }, text); }

/* The privacy center's core: where it is mounted (#privops-center and its
   data-api, data-tenant, data-name, data-lang, data-contact), the state of
   the page, the strings (window.PRIVOPS_I18N, from i18n.js), the element
   builder, the portal API call, and the pieces every view renders with: the
   language switch, the heading, the error summary and a labelled field.

   The request token lives in memory and in sessionStorage (this tab only,
   gone when the tab closes; "Forget" clears it at once): a reload keeps the
   subject where they were, and nothing outlives the tab or goes into a URL. */
// Module code runs after every import is evaluated: core.js runs first.
if (window.performance && performance.mark) performance.mark('privops-start');
export const root = document.getElementById('privops-center');
export const I18N = window.PRIVOPS_I18N;
// ready: there is an element to mount on and the strings are loaded.
export const ready = !!(root && I18N);
const d = ready ? root.dataset : {};
export const tenant = d.tenant, api = d.api, name = d.name || d.tenant, contact = d.contact || '';
const KEY = 'privops:' + tenant;
export const COUNTRIES = ('AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ ' +
  'CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR ' +
  'GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP ' +
  'KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ ' +
  'NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW ' +
  'SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ ' +
  'UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW').split(' ');
export const TYPES = ['access', 'export', 'erase', 'rectify', 'restrict', 'lift-restriction', 'object'];
// Which field an API error code belongs to (the rest go in the summary only).
const FIELD_OF = {
  'invalid-type': 'type', 'invalid-email': 'email', 'invalid-country': 'country', 'invalid-region': 'region',
  'invalid-phone': 'phone', 'invalid-user-id': 'userId', 'invalid-details': 'details', 'changes-required': 'changeField',
  'invalid-change': 'changeValue', 'wrong-code': 'code', 'code-expired': 'code', 'too-many-attempts': 'code',
  'too-many-codes': 'code', 'unknown-request': 'token'
};
export const FIELD_MSG = { type: 'e.type', email: 'e.email', country: 'e.country', region: 'e.region', phone: 'e.phone', userId: 'e.userId',
  details: 'e.details', changeField: 'e.changeField', changeValue: 'e.changeValue', code: 'e.code', ref: 'e.ref', token: 'e.token' };

const saved = load();
export const state = {
  lang: ready && I18N[saved.lang] ? saved.lang : (ready && I18N[d.lang] ? d.lang : 'en'),
  view: 'loading', id: saved.id || '', token: saved.token || '',
  values: {}, errors: [], busy: false, status: null, note: ''
};

export function t(key, vars) {
  var s = (I18N[state.lang] && I18N[state.lang][key]) || I18N.en[key] || key;
  return s.replace(/\{(\w+)\}/g, function (_, k) { return vars && vars[k] != null ? vars[k] : ''; });
}
export function load() {
  try { return JSON.parse(sessionStorage.getItem(KEY) || '{}') || {}; } catch (e) { return {}; }
}
export function save(patch) {
  var s = load();
  Object.keys(patch).forEach(function (k) { if (patch[k] == null) delete s[k]; else s[k] = patch[k]; });
  try { sessionStorage.setItem(KEY, JSON.stringify(s)); } catch (e) { /* private mode: memory only */ }
}
export function forget() {
  try { sessionStorage.removeItem(KEY); } catch (e) { /* nothing stored */ }
  state.id = state.token = ''; state.status = null;
  go('form');
}

// h builds an element: h('p', {class: 'x', onclick: f}, 'text', child).
export function h(tag, attrs) {
  var e = document.createElement(tag);
  Object.keys(attrs || {}).forEach(function (k) {
    var v = attrs[k];
    if (v == null || v === false) return;
    if (k.slice(0, 2) === 'on') e.addEventListener(k.slice(2), v);
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v === true ? '' : v);
  });
  for (var i = 2; i < arguments.length; i++) append(e, arguments[i]);
  return e;
}
function append(e, c) {
  if (c == null || c === false) return;
  if (Array.isArray(c)) { c.forEach(function (x) { append(e, x); }); return; }
  e.append(c.nodeType ? c : document.createTextNode(String(c)));
}

export function fmtDate(s) {
  if (!s) return '';
  return new Intl.DateTimeFormat(state.lang, { dateStyle: 'long', timeZone: 'UTC' }).format(new Date(s));
}
export function fmtSize(n) {
  return n < 1024 ? n + ' B' : n < 1048576 ? Math.ceil(n / 1024) + ' KB' : (n / 1048576).toFixed(1) + ' MB';
}

// call sends a request to the portal API; it resolves to {ok, status, body}.
export function call(method, path, body, headers) {
  var h2 = { Accept: 'application/json' };
  if (body) h2['Content-Type'] = 'application/json';
  if (state.token && path !== '/requests') h2.Authorization = 'Bearer ' + state.token;
  Object.keys(headers || {}).forEach(function (k) { h2[k] = headers[k]; });
  return fetch(api + path, { method: method, headers: h2, body: body ? JSON.stringify(body) : undefined, credentials: 'omit', cache: 'no-store' })
    .then(function (r) {
      return r.text().then(function (txt) {
        var b = {};
        try { b = txt ? JSON.parse(txt) : {}; } catch (e) { b = {}; }
        return { ok: r.ok, status: r.status, body: b };
      });
    }, function () { return { ok: false, status: 0, body: { code: 'network' } }; });
}

// apiErrors turns a refusal into field errors.
export function apiErrors(res) {
  var code = (res.body && res.body.code) || (res.status === 0 ? 'network' : 'unknown');
  var field = FIELD_OF[code] || '';
  var key = 'e.' + code;
  if (!I18N.en[key]) key = field ? FIELD_MSG[field] : 'e.unknown';
  return [{ field: field, msg: key }];
}

// ---- rendering -------------------------------------------------------

// views maps a view name to its render function (the view modules add theirs);
// hooks holds what a field needs from the form (toggleDependent).
export const views = {};
export const hooks = {};

export function go(view, focusSummary) {
  state.view = view;
  if (!focusSummary) state.errors = [];
  render();
  var target = focusSummary && root.querySelector('.summary') || root.querySelector('h1');
  if (target) target.focus();
}

export function render() {
  document.documentElement.lang = state.lang;
  var skip = document.querySelector('[data-i18n=skip]');
  if (skip) skip.textContent = t('skip');
  var box = h('div', { class: 'pc' }, langSwitch(), views[state.view]());
  if (contact) box.append(h('p', {}, t('contact', { contact: contact })));
  root.replaceChildren(box);
}

function langSwitch() {
  return h('div', { class: 'langs', role: 'group', 'aria-label': t('langs') },
    [['en', 'English'], ['zh-Hans', '简体中文']].map(function (l) {
      return h('button', { type: 'button', lang: l[0], 'aria-pressed': String(state.lang === l[0]),
        onclick: function () { state.lang = l[0]; save({ lang: l[0] }); render(); root.querySelector('[aria-pressed=true]').focus(); } }, l[1]);
    }));
}

export function heading(key) { return h('h1', { tabindex: '-1' }, t(key, { name: name })); }

export function summary() {
  if (!state.errors.length) return null;
  return h('div', { class: 'summary', role: 'alert', tabindex: '-1', 'aria-labelledby': 'pc-err-title' },
    h('h2', { id: 'pc-err-title' }, t('errTitle')),
    h('ul', {}, state.errors.map(function (e) {
      if (!e.field) return h('li', {}, t(e.msg));
      return h('li', {}, h('a', { href: '#pc-' + e.field, onclick: function (ev) {
        ev.preventDefault(); var f = document.getElementById('pc-' + e.field); if (f) f.focus();
      } }, t(e.msg)));
    })));
}
function errorOf(field) {
  for (var i = 0; i < state.errors.length; i++) if (state.errors[i].field === field) return state.errors[i];
  return null;
}

// field renders a labelled control with its hint and error.
export function field(nameKey, control, opts) {
  opts = opts || {};
  var id = 'pc-' + nameKey, err = errorOf(nameKey), described = [];
  if (opts.hint) described.push(id + '-hint');
  if (err) described.push(id + '-err');
  control.id = id;
  control.name = nameKey;
  if (described.length) control.setAttribute('aria-describedby', described.join(' '));
  if (err) control.setAttribute('aria-invalid', 'true');
  if (opts.required) control.setAttribute('aria-required', 'true');
  if (state.values[nameKey] != null && control.tagName !== 'SELECT') control.value = state.values[nameKey];
  control.addEventListener('input', function () { state.values[nameKey] = control.value; });
  control.addEventListener('change', function () {
    state.values[nameKey] = control.value;
    // Show or hide the fields that depend on this one, in place: a
    // re-render would reset a keyboard user's type-ahead in a select.
    if (opts.toggles && hooks.toggleDependent) hooks.toggleDependent();
  });
  return h('div', { class: 'field' },
    h('label', { for: id }, t(opts.label || nameKey), ' ', h('span', { class: 'hint-inline' }, '(' + t(opts.required ? 'required' : 'optional') + ')')),
    opts.hint ? h('span', { class: 'hint', id: id + '-hint' }, t(opts.hint)) : null,
    err ? h('span', { class: 'error', id: id + '-err' }, t(err.msg)) : null,
    control);
}
export function select(nameKey, options) {
  var s = h('select', {});
  options.forEach(function (o) {
    var opt = h('option', { value: o[0] }, o[1]);
    if ((state.values[nameKey] || '') === o[0]) opt.selected = true;
    s.append(opt);
  });
  return s;
}

export function showErrors(errs) { state.errors = errs; go(state.view, true); }

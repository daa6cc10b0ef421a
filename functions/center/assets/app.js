/* The privacy center: a data subject's request form, the one-time-code step,
   the status page and the export download, on the portal API. Plain script,
   no build step. It mounts on the element #privops-center, whose data-api
   names the portal API of the tenant (same origin on the privacy center,
   another origin when embedded on the tenant's own site, over CORS).

   The request token lives in memory and in sessionStorage (this tab only,
   gone when the tab closes; "Forget" clears it at once): a reload keeps the
   subject where they were, and nothing outlives the tab or goes into a URL. */
(function () {
  'use strict';
  if (window.performance && performance.mark) performance.mark('privops-start');
  var root = document.getElementById('privops-center');
  var I18N = window.PRIVOPS_I18N;
  if (!root || !I18N) return;
  var d = root.dataset;
  var tenant = d.tenant, api = d.api, name = d.name || d.tenant, contact = d.contact || '';
  var KEY = 'privops:' + tenant;
  var COUNTRIES = ('AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ ' +
    'CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR ' +
    'GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP ' +
    'KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ ' +
    'NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW ' +
    'SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ ' +
    'UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW').split(' ');
  var TYPES = ['access', 'export', 'erase', 'rectify', 'restrict', 'lift-restriction', 'object'];
  // Which field an API error code belongs to (the rest go in the summary only).
  var FIELD_OF = {
    'invalid-type': 'type', 'invalid-email': 'email', 'invalid-country': 'country', 'invalid-region': 'region',
    'invalid-phone': 'phone', 'invalid-user-id': 'userId', 'invalid-details': 'details', 'changes-required': 'changeField',
    'invalid-change': 'changeValue', 'wrong-code': 'code', 'code-expired': 'code', 'too-many-attempts': 'code',
    'too-many-codes': 'code', 'unknown-request': 'token'
  };
  var FIELD_MSG = { type: 'e.type', email: 'e.email', country: 'e.country', region: 'e.region', phone: 'e.phone', userId: 'e.userId',
    details: 'e.details', changeField: 'e.changeField', changeValue: 'e.changeValue', code: 'e.code', ref: 'e.ref', token: 'e.token' };

  var saved = load();
  var state = {
    lang: I18N[saved.lang] ? saved.lang : (I18N[d.lang] ? d.lang : 'en'),
    view: 'loading', id: saved.id || '', token: saved.token || '',
    values: {}, errors: [], busy: false, status: null, note: ''
  };

  function t(key, vars) {
    var s = (I18N[state.lang] && I18N[state.lang][key]) || I18N.en[key] || key;
    return s.replace(/\{(\w+)\}/g, function (_, k) { return vars && vars[k] != null ? vars[k] : ''; });
  }
  function load() {
    try { return JSON.parse(sessionStorage.getItem(KEY) || '{}') || {}; } catch (e) { return {}; }
  }
  function save(patch) {
    var s = load();
    Object.keys(patch).forEach(function (k) { if (patch[k] == null) delete s[k]; else s[k] = patch[k]; });
    try { sessionStorage.setItem(KEY, JSON.stringify(s)); } catch (e) { /* private mode: memory only */ }
  }
  function forget() {
    try { sessionStorage.removeItem(KEY); } catch (e) { /* nothing stored */ }
    state.id = state.token = ''; state.status = null;
    go('form');
  }

  // h builds an element: h('p', {class: 'x', onclick: f}, 'text', child).
  function h(tag, attrs) {
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

  function fmtDate(s) {
    if (!s) return '';
    return new Intl.DateTimeFormat(state.lang, { dateStyle: 'long', timeZone: 'UTC' }).format(new Date(s));
  }
  function fmtSize(n) {
    return n < 1024 ? n + ' B' : n < 1048576 ? Math.ceil(n / 1024) + ' KB' : (n / 1048576).toFixed(1) + ' MB';
  }

  // call sends a request to the portal API; it resolves to {ok, status, body}.
  function call(method, path, body, headers) {
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
  function apiErrors(res) {
    var code = (res.body && res.body.code) || (res.status === 0 ? 'network' : 'unknown');
    var field = FIELD_OF[code] || '';
    var key = 'e.' + code;
    if (!I18N.en[key]) key = field ? FIELD_MSG[field] : 'e.unknown';
    return [{ field: field, msg: key }];
  }

  // ---- rendering -------------------------------------------------------

  function go(view, focusSummary) {
    state.view = view;
    if (!focusSummary) state.errors = [];
    render();
    var target = focusSummary && root.querySelector('.summary') || root.querySelector('h1');
    if (target) target.focus();
  }

  function render() {
    document.documentElement.lang = state.lang;
    var skip = document.querySelector('[data-i18n=skip]');
    if (skip) skip.textContent = t('skip');
    var views = { loading: viewLoading, form: viewForm, code: viewCode, status: viewStatus, lookup: viewLookup };
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

  function heading(key) { return h('h1', { tabindex: '-1' }, t(key, { name: name })); }

  function summary() {
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
  function field(nameKey, control, opts) {
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
      if (opts.toggles) toggleDependent();
    });
    return h('div', { class: 'field' },
      h('label', { for: id }, t(opts.label || nameKey), ' ', h('span', { class: 'hint-inline' }, '(' + t(opts.required ? 'required' : 'optional') + ')')),
      opts.hint ? h('span', { class: 'hint', id: id + '-hint' }, t(opts.hint)) : null,
      err ? h('span', { class: 'error', id: id + '-err' }, t(err.msg)) : null,
      control);
  }
  function select(nameKey, options) {
    var s = h('select', {});
    options.forEach(function (o) {
      var opt = h('option', { value: o[0] }, o[1]);
      if ((state.values[nameKey] || '') === o[0]) opt.selected = true;
      s.append(opt);
    });
    return s;
  }

  function viewLoading() { return [heading('title'), h('p', { role: 'status' }, t('loading'))]; }

  function viewForm() {
    var v = state.values;
    var names;
    try { names = new Intl.DisplayNames([state.lang], { type: 'region' }); } catch (e) { names = { of: function (c) { return c; } }; }
    var collator = new Intl.Collator(state.lang);
    var countries = COUNTRIES.map(function (c) { return [c, names.of(c) || c]; })
      .sort(function (a, b) { return collator.compare(a[1], b[1]); });
    var busy = state.busy;
    var form = h('form', { novalidate: true, onsubmit: submit, 'aria-busy': String(busy) },
      field('type', select('type', [['', t('choose')]].concat(TYPES.map(function (x) { return [x, t('t.' + x)]; }))),
        { required: true, hint: 'typeHint', toggles: true }),
      field('email', h('input', { type: 'email', autocomplete: 'email', spellcheck: 'false', maxlength: '254' }), { required: true, hint: 'emailHint' }),
      field('country', select('country', [['', t('choose')]].concat(countries)), { required: true, hint: 'countryHint', toggles: true }),
      h('div', { id: 'pc-when-us', hidden: v.country !== 'US' },
        field('region', select('region', [['', t('regionOther')], ['CA', t('r.CA')], ['CO', t('r.CO')], ['VA', t('r.VA')]]))),
      h('div', { id: 'pc-when-rectify', hidden: v.type !== 'rectify' },
        field('changeField', h('input', { type: 'text', maxlength: '64', autocomplete: 'off' }), { required: true, hint: 'changeFieldHint' }),
        field('changeValue', h('input', { type: 'text', maxlength: '1000', autocomplete: 'off' }), { required: true })),
      h('fieldset', {}, h('legend', {}, t('idsTitle')), h('p', { class: 'hint' }, t('idsHint')),
        field('userId', h('input', { type: 'text', autocomplete: 'username', maxlength: '128', spellcheck: 'false' }), { hint: 'userIdHint' }),
        field('phone', h('input', { type: 'tel', autocomplete: 'tel', maxlength: '16' }), { hint: 'phoneHint' })),
      field('details', h('textarea', { maxlength: '4000', rows: '4' }), { hint: 'detailsHint' }),
      h('div', { class: 'actions' },
        h('button', { type: 'submit', disabled: busy }, t(busy ? 'sending' : 'submit')),
        h('button', { type: 'button', class: 'secondary', onclick: function () { go('lookup'); } }, t('follow'))));
    return [heading('title'), h('p', {}, t('intro', { name: name })), summary(), form];
  }

  function toggleDependent() {
    var us = document.getElementById('pc-when-us'), rect = document.getElementById('pc-when-rectify');
    if (us) us.hidden = state.values.country !== 'US';
    if (rect) rect.hidden = state.values.type !== 'rectify';
  }

  // validate mirrors the portal API's checks (shared/dsr Submission.Validate).
  function validate(v) {
    var e = [];
    var add = function (f) { e.push({ field: f, msg: FIELD_MSG[f] }); };
    if (TYPES.indexOf(v.type) < 0) add('type');
    var email = (v.email || '').trim();
    if (email.length > 254 || !/^[^\s@<>()",;:]+@[^\s@<>()",;:]+\.[^\s@<>()",;:]+$/.test(email)) add('email');
    if (COUNTRIES.indexOf(v.country) < 0) add('country');
    if (v.type === 'rectify') {
      if (!/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/.test(v.changeField || '')) add('changeField');
      if (!(v.changeValue || '').trim() || new TextEncoder().encode(v.changeValue).length > 1000) add('changeValue');
    }
    if (v.userId && !/^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$/.test(v.userId)) add('userId');
    if (v.phone && !/^\+[1-9][0-9]{6,14}$/.test(v.phone)) add('phone');
    if (v.details && new TextEncoder().encode(v.details).length > 4000) add('details');
    return e;
  }

  function showErrors(errs) { state.errors = errs; go(state.view, true); }

  function digest(s) {
    return crypto.subtle.digest('SHA-256', new TextEncoder().encode(s)).then(function (b) {
      return Array.from(new Uint8Array(b)).map(function (x) { return x.toString(16).padStart(2, '0'); }).join('');
    });
  }

  function submit(ev) {
    ev.preventDefault();
    if (state.busy) return; // a double click sends once
    var v = state.values;
    var errs = validate(v);
    if (errs.length) { showErrors(errs); return; }
    var body = { type: v.type, email: v.email.trim(), country: v.country, language: state.lang };
    if (v.country === 'US' && v.region) body.region = v.region;
    if (v.userId) body.userId = v.userId;
    if (v.phone) body.phone = v.phone;
    if (v.details && v.details.trim()) body.details = v.details;
    if (v.type === 'rectify') body.changes = [{ field: v.changeField, value: v.changeValue }];
    state.busy = true; state.errors = []; render();
    // The same body sent again (a reload, a retry after a lost answer) goes
    // with the same Idempotency-Key, so the portal returns the first request.
    // Only a hash of the body is kept, never the body.
    digest(JSON.stringify(body)).then(function (hash) {
      var s = load();
      var key = s.idemHash === hash && s.idemKey ? s.idemKey : crypto.randomUUID();
      save({ idemKey: key, idemHash: hash });
      return call('POST', '/requests', body, { 'Idempotency-Key': key });
    }).then(function (res) {
      state.busy = false;
      if (!res.ok) { showErrors(apiErrors(res)); return; }
      state.id = res.body.id; state.token = res.body.token;
      save({ id: state.id, token: state.token, idemKey: null, idemHash: null });
      state.values = {};
      go(res.body.status === 'awaiting-verification' ? 'code' : 'status');
      if (state.view === 'status') refresh();
    });
  }

  function viewCode() {
    var busy = state.busy;
    return [heading('codeTitle'), h('p', {}, t('codeIntro')), summary(),
      state.note ? h('p', { class: 'notice', role: 'status' }, t(state.note)) : h('p', { class: 'sr', role: 'status' }),
      h('form', { novalidate: true, onsubmit: verify },
        field('code', h('input', { type: 'text', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: '6', class: 'code', spellcheck: 'false' }),
          { required: true, hint: 'codeHint' }),
        h('div', { class: 'actions' },
          h('button', { type: 'submit', disabled: busy }, t('verify')),
          h('button', { type: 'button', class: 'secondary', disabled: busy, onclick: resend }, t('resend')))),
      h('p', {}, h('button', { type: 'button', class: 'secondary', onclick: forget }, t('forget')))];
  }

  function verify(ev) {
    ev.preventDefault();
    if (state.busy) return;
    var code = (state.values.code || '').trim();
    state.note = '';
    if (!/^[0-9]{6}$/.test(code)) { showErrors([{ field: 'code', msg: 'e.code' }]); return; }
    state.busy = true; render();
    call('POST', '/requests/' + state.id + '/verify', { code: code }).then(function (res) {
      state.busy = false;
      if (!res.ok && res.body.code !== 'already-verified') { showErrors(apiErrors(res)); return; }
      state.values = {};
      refresh(true);
    });
  }

  function resend() {
    if (state.busy) return;
    state.busy = true; render();
    call('POST', '/requests/' + state.id + '/resend').then(function (res) {
      state.busy = false;
      if (!res.ok) { showErrors(apiErrors(res)); return; }
      state.values = {}; state.note = 'resent'; state.errors = [];
      render();
      var c = document.getElementById('pc-code'); if (c) c.focus();
    });
  }

  // refresh reads the status; moved says to move focus to the new view.
  function refresh(moved) {
    return call('GET', '/requests/' + state.id).then(function (res) {
      if (!res.ok) {
        if (res.status === 404) { forget(); return; }
        showErrors(apiErrors(res)); return;
      }
      state.status = res.body;
      var view = res.body.status === 'awaiting-verification' ? 'code' : 'status';
      if (moved || view !== state.view) go(view);
      else { render(); }
    });
  }

  function viewStatus() {
    var s = state.status;
    if (!s) return viewLoading();
    var rows = [
      ['reference', h('span', { class: 'token' }, s.id)],
      ['request', t('t.' + s.type)],
      ['status', h('strong', {}, t('s.' + s.status))],
      ['received', fmtDate(s.receivedAt)]
    ];
    if (s.dueAt && !/^(completed|partially-completed|denied|cancelled)$/.test(s.status)) {
      rows.push(['due', fmtDate(s.dueAt)]);
      rows.push(['law', t(I18N.en['g.' + s.regime] ? 'g.' + s.regime : 'g.default')]);
      if (s.rule) rows.push(['rule', h('span', { lang: 'en' }, s.rule)]);
    }
    var dl = h('dl', {});
    rows.forEach(function (r) { dl.append(h('dt', {}, t(r[0])), h('dd', {}, r[1])); });
    var p = s.progress, pkg = s.package;
    return [heading('statusTitle'), summary(), h('p', { class: 'sr', role: 'status', id: 'pc-live' }), dl,
      s.extended || s.extensionReason ? h('div', { class: 'notice' }, h('p', {}, t('extended')),
        s.extensionReason ? h('p', {}, t('extensionReason'), ' ', s.extensionReason) : null) : null,
      s.paused ? h('div', { class: 'notice warn' }, h('p', {}, t('paused')),
        s.question ? h('p', {}, t('question'), ' ', s.question) : null) : null,
      s.status === 'denied' ? h('div', { class: 'notice warn' }, h('p', {}, t('deniedReason'), ' ', s.reason || ''), h('p', {}, t('complain'))) : null,
      p && p.total ? h('div', { class: 'field' }, h('label', { for: 'pc-progress' }, t('progress')),
        h('progress', { id: 'pc-progress', max: String(p.total), value: String(p.ended), 'aria-describedby': 'pc-progress-text' }),
        h('span', { class: 'hint', id: 'pc-progress-text' }, t('progressText', { ended: p.ended, total: p.total }))) : null,
      pkg ? (pkg.url && !pkg.expired
        ? h('p', {}, h('a', { class: 'button', href: pkg.url, download: '' }, t('download', { size: fmtSize(pkg.bytes || 0) })), ' ',
          t('downloadUntil', { date: fmtDate(pkg.expiresAt) }))
        : h('p', {}, t('downloadExpired'))) : null,
      h('h2', {}, t('token')), h('p', {}, h('span', { class: 'token' }, state.token)), h('p', { class: 'hint' }, t('tokenHint')),
      h('div', { class: 'actions' },
        h('button', { type: 'button', onclick: function () {
          refresh().then(function () { var l = document.getElementById('pc-live'); if (l) l.textContent = t('updated'); });
        } }, t('refresh')),
        h('button', { type: 'button', class: 'secondary', onclick: forget }, t('forget')))];
  }

  function viewLookup() {
    var form = h('form', { novalidate: true, onsubmit: lookup },
      field('ref', h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', maxlength: '100' }), { required: true }),
      field('token', h('input', { type: 'password', autocomplete: 'off', spellcheck: 'false' }), { required: true, label: 'tokenLabel' }),
      h('div', { class: 'actions' }, h('button', { type: 'submit' }, t('lookup')),
        h('button', { type: 'button', class: 'secondary', onclick: function () { go('form'); } }, t('back'))));
    return [heading('lookupTitle'), h('p', {}, t('lookupIntro')), summary(), form];
  }

  function lookup(ev) {
    ev.preventDefault();
    var ref = (state.values.ref || '').trim(), tok = (state.values.token || '').trim(), e = [];
    if (!/^dsr_[A-Za-z0-9_-]{1,96}$/.test(ref)) e.push({ field: 'ref', msg: 'e.ref' });
    if (!tok) e.push({ field: 'token', msg: 'e.token' });
    if (e.length) { showErrors(e); return; }
    state.id = ref; state.token = tok;
    call('GET', '/requests/' + ref).then(function (res) {
      if (!res.ok) { state.id = state.token = ''; showErrors(apiErrors(res)); return; }
      save({ id: ref, token: tok });
      state.values = {}; state.status = res.body;
      go(res.body.status === 'awaiting-verification' ? 'code' : 'status');
    });
  }

  if (state.id && state.token) refresh();
  else { state.view = 'form'; render(); }
  // The form is on screen and answers input: e2e/measure.mjs reads this mark.
  if (window.performance && performance.mark) performance.mark('privops-interactive');
})();

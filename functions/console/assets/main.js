/* The admin console's entry point (type="module"; no build step): it loads
   every page module, each of which registers its view and loader, and
   starts the session. A tenant admin's token shows the tenant's pages, an
   operator's token the tenant list only. */
import { state, open, hooks, render } from './core.js';
import { start } from './session.js';
import './queue.js';
import './request.js';
import './services.js';
import './holds.js';
import './keys.js';
import './retention.js';
import './incidents.js';
import './operator.js';

// home is where a sign-in lands.
hooks.home = () => (state.operator ? open.tenants() : open.queue());
// snapshot and restore carry the page across a sign-in at the provider
// (kept in sessionStorage for this tab): the view, its subject (a request,
// service, incident or tenant id), the queue's filters and the form values,
// never a token or a secret.
hooks.snapshot = () => ({ view: state.view, arg: state.arg || '', filters: state.filters,
  values: Object.fromEntries(Object.entries(state.values).filter(([k]) => k !== 'c-token' && k !== 'c-renew-token')) });
hooks.restore = (s) => {
  state.filters = s.filters || state.filters;
  const loader = open[s.view];
  const values = s.values || {};
  const p = loader ? loader(s.arg || undefined) : hooks.home();
  Promise.resolve(p).then(() => { if (Object.keys(values).length) { Object.assign(state.values, values); render(); } });
};
start();

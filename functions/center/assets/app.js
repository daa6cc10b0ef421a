/* The privacy center: a data subject's request form, the one-time-code step,
   the status page and the export download, on the portal API. ES modules,
   no build step: core.js (state, strings, elements, the API call), form.js
   (the form and "follow a request"), status.js (code step and status). It
   mounts on the element #privops-center, whose data-api names the portal API
   of the tenant (same origin on the privacy center, another origin when
   embedded on the tenant's own site, over CORS). */
import { ready, state, render } from './core.js';
import { refresh } from './status.js';
import './form.js';

if (ready) {
  if (state.id && state.token) refresh();
  else { state.view = 'form'; render(); }
  // The form is on screen and answers input: e2e/measure.mjs reads this mark.
  if (window.performance && performance.mark) performance.mark('privops-interactive');
}

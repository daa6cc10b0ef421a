// Measures the first load of the privacy center and of the admin console in
// Chromium against the real binary on the embedded default: bytes
// transferred (the page and every file it loads, from Resource and
// Navigation Timing) and time to interactive (navigation start to the app's
// 'privops-interactive' mark, set once the form, or the console's sign-in
// form, is rendered and answers input), plus DOMContentLoaded and load. Each
// run is a fresh browser context (cold HTTP cache); prints the medians of
// RUNS (default 7) per page. Run: node e2e/measure.mjs
import { loadavg, cpus } from 'node:os';
import { startSuite, launch } from './harness.mjs';

const runs = Number(process.env.RUNS || 7);
const suite = await startSuite();
const browser = await launch();
const pages = [['privacy center', '/api/center/demo/'], ['admin console', '/api/console/']];
const all = {};
try {
  for (const [label, path] of pages) {
    const results = (all[label] = []);
    // One warm-up load: the first ever load also pays for Chromium's own start.
    for (let i = 0; i <= runs; i++) {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(suite.base + path, { waitUntil: 'load' });
      await page.waitForFunction(() => performance.getEntriesByName('privops-interactive').length > 0);
      const m = await page.evaluate(() => {
        const nav = performance.getEntriesByType('navigation')[0];
        const res = performance.getEntriesByType('resource');
        return {
          bytes: nav.transferSize + res.reduce((n, r) => n + r.transferSize, 0),
          body: nav.decodedBodySize + res.reduce((n, r) => n + r.decodedBodySize, 0),
          files: 1 + res.length,
          tti: performance.getEntriesByName('privops-interactive')[0].startTime,
          script: performance.getEntriesByName('privops-interactive')[0].startTime - performance.getEntriesByName('privops-start')[0].startTime,
          response: nav.responseEnd,
          dcl: nav.domContentLoadedEventEnd,
          load: nav.loadEventEnd,
        };
      });
      if (i > 0) results.push(m);
      await context.close();
    }
  }
} finally {
  await browser.close();
  await suite.stop();
}
for (const [label] of pages) {
  const results = all[label];
  const median = (k) => { const v = results.map((r) => r[k]).sort((a, b) => a - b); return v[Math.floor(v.length / 2)]; };
  console.log(`${label} first load, median of ${results.length} cold loads:`);
  console.log(`  transferred: ${median('bytes')} bytes (${(median('bytes') / 1024).toFixed(1)} KB) in ${median('files')} files; ${median('body')} bytes decoded`);
  console.log(`  time to interactive: ${median('tti').toFixed(0)} ms (DOMContentLoaded ${median('dcl').toFixed(0)} ms, load ${median('load').toFixed(0)} ms)`);
  console.log(`  of which: page answered at ${median('response').toFixed(0)} ms; the script's own start-up ${median('script').toFixed(0)} ms`);
}
console.log(`load average (1, 5, 15 min) when done: ${loadavg().map((x) => x.toFixed(2)).join(' ')} on ${cpus().length} CPUs`);

// browser_driver — headless Chromium (Debian's /usr/bin/chromium) driven
// by playwright-core (tests/clients), for tests/integration/browser.py:
// one JSON command a line on stdin, one JSON answer a line on stdout
// ({"ok": true, "value": ...} or {"ok": false, "error": "..."}).
//
// The browser runs with its background networking off and with a host
// resolver that resolves nothing: it can only reach the IP literals it is
// sent to (the test's agent on 127.0.0.1). Every request it makes is
// recorded, so that a test can assert that nothing left the machine.
'use strict';

const readline = require('readline');
const { chromium } = require('playwright-core');

const ARGS = [
  '--headless=new',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-default-apps',
  '--disable-sync',
  '--disable-extensions',
  '--disable-domain-reliability',
  '--disable-breakpad',
  '--disable-client-side-phishing-detection',
  '--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,AutofillServerCommunication,CertificateTransparencyComponentUpdater',
  '--metrics-recording-only',
  '--no-first-run',
  '--no-default-browser-check',
  '--no-pings',
  '--password-store=basic',
  '--use-mock-keychain',
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
];

let browser, page;
const requests = [];
let navigations = 0;
const consoleErrors = [];

async function launch() {
  const args = ARGS.slice();
  if (process.getuid && process.getuid() === 0) args.push('--no-sandbox');
  browser = await chromium.launch({
    executablePath: process.env.HEED_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args,
  });
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  page = await ctx.newPage();
  page.on('request', (r) => requests.push(r.url()));
  page.on('framenavigated', (f) => { if (f === page.mainFrame()) navigations++; });
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
}

const commands = {
  async goto(c) { await page.goto(c.url, { waitUntil: 'load', timeout: c.timeout_ms || 30000 }); },
  async eval(c) { return await page.evaluate(c.expr); },
  // Polls the expression (page.evaluate, as the DevTools protocol runs it:
  // waitForFunction's eval() would be refused by the page's own CSP).
  async wait(c) {
    const deadline = Date.now() + (c.timeout_ms || 10000);
    let last;
    for (;;) {
      try { last = await page.evaluate(c.expr); } catch (e) { last = 'error: ' + e.message; }
      if (last && !(typeof last === 'string' && last.startsWith('error: '))) return last;
      if (Date.now() > deadline) throw new Error('timed out waiting for ' + c.expr + ' (last: ' + JSON.stringify(last) + ')');
      await new Promise((r) => setTimeout(r, 50));
    }
  },
  async fill(c) { await page.fill(c.sel, c.value, { timeout: c.timeout_ms || 10000 }); },
  async click(c) { await page.click(c.sel, { timeout: c.timeout_ms || 10000 }); },
  async screenshot(c) { await page.screenshot({ path: c.path, fullPage: true }); return c.path; },
  async requests() { return requests.slice(); },
  async navigations() { return navigations; },
  async console_errors() { return consoleErrors.slice(); },
  async close() { if (browser) await browser.close(); browser = null; },
};

(async () => {
  await launch();
  process.stdout.write(JSON.stringify({ ok: true, value: 'ready' }) + '\n');
  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    let c;
    try { c = JSON.parse(line); } catch (e) { continue; }
    let answer;
    try {
      const fn = commands[c.cmd];
      if (!fn) throw new Error('unknown command ' + c.cmd);
      answer = { ok: true, value: (await fn(c)) ?? null };
    } catch (e) {
      answer = { ok: false, error: String((e && e.message) || e) };
    }
    process.stdout.write(JSON.stringify(answer) + '\n');
    if (c.cmd === 'close') break;
  }
  if (browser) await browser.close();
  process.exit(0);
})().catch((e) => {
  console.error(e && e.stack || e);
  process.exit(1);
});

// SPDX-License-Identifier: ISC
// One headless Debian Chromium, driven by pytest (tests/lib/rallytest/browser.py)
// over stdin/stdout: a JSON request a line, {"id", "op", ...}, answered by one
// JSON line, {"id", "ok": true, "value"} or {"id", "ok": false, "error"}.
//
//   context {options}          a fresh profile (cookies, storage); 1280x800
//   page {ctx}                 a tab in it
//   call {page, method, args}  page[method](...args); "keyboard.press" works too
//   run {page, code, args}     the body of an async function (page, ctx, args, lib)
//   axe {page, options}        axe-core's violations on the page
//   events {ctx, clear}        what the context saw: dialogs, console, page
//                              errors, requests, CSP violations, downloads
//   close {ctx}
//
// Everything a page does that a test may assert on is recorded per context:
// a dialog is recorded and dismissed, so an alert() from injected code shows
// up as an event instead of blocking the page.
'use strict';

const fs = require('fs');
const path = require('path');
const readline = require('readline');
const { chromium } = require('playwright-core');

const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;

// As root Chromium needs --no-sandbox; the rest keep it off the network,
// which this machine does not have (tests/browser/README.md).
const ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--disable-default-apps', '--disable-extensions',
  '--metrics-recording-only', '--no-default-browser-check',
  '--disable-features=Translate,MediaRouter,OptimizationHints',
];

// Reports each CSP violation of a document the init script runs in (those
// that may run script at all: never a sandboxed frame's).
const CSP_LISTENER = `
  document.addEventListener('securitypolicyviolation', (e) => {
    window.__rallyCsp && window.__rallyCsp({
      directive: e.violatedDirective, blocked: e.blockedURI,
      sample: e.sample, source: e.sourceFile, document: e.documentURI });
  });`;

let browser;
const contexts = new Map();
const pages = new Map();
let nextId = 1;

function frameUrl(msg) {
  try { return msg.location().url; } catch (e) { return ''; }
}

async function newContext(options) {
  const ctx = await browser.newContext(Object.assign({
    viewport: { width: 1280, height: 800 },
    ignoreHTTPSErrors: true,         // the emulator's throwaway CA
    acceptDownloads: true,
    locale: 'en-GB',
    timezoneId: 'UTC',
  }, options || {}));
  const id = nextId++;
  const events = { dialogs: [], console: [], pageErrors: [], requests: [], csp: [],
                   downloads: [] };
  const watch = (page) => {
    page.setDefaultTimeout(10000);
    page.setDefaultNavigationTimeout(15000);
    page.on('dialog', (d) => {
      events.dialogs.push({ type: d.type(), message: d.message(), url: page.url() });
      d.dismiss().catch(() => {});
    });
    page.on('console', (m) => events.console.push({
      type: m.type(), text: m.text(), url: frameUrl(m) }));
    page.on('pageerror', (e) => events.pageErrors.push({ message: String(e && e.message) }));
    page.on('request', (r) => events.requests.push({
      url: r.url(), method: r.method(), resourceType: r.resourceType(),
      frame: r.frame() ? r.frame().url() : '' }));
    page.on('download', (d) => events.downloads.push({ suggested: d.suggestedFilename() }));
  };
  await ctx.exposeBinding('__rallyCsp', (source, v) => {
    events.csp.push(Object.assign({ frame: source.frame.url() }, v));
  });
  await ctx.addInitScript(CSP_LISTENER);
  ctx.on('page', watch);
  contexts.set(id, { ctx, events });
  return id;
}

async function newPage(ctxId) {
  const c = contexts.get(ctxId);
  if (!c) throw new Error(`no context ${ctxId}`);
  const page = await c.ctx.newPage();
  const id = nextId++;
  pages.set(id, { page, ctxId });
  return id;
}

function pageOf(id) {
  const p = pages.get(id);
  if (!p) throw new Error(`no page ${id}`);
  return p;
}

// A value JSON can carry: Buffers (screenshots) and handles become null.
function plain(v) {
  if (v === undefined || v === null || Buffer.isBuffer(v)) return null;
  if (typeof v === 'object' && typeof v.then === 'function') return null;
  if (typeof v === 'object' && v.constructor && v.constructor.name !== 'Object' &&
      !Array.isArray(v)) return null;
  return v;
}

const lib = {
  fs, path,
  // Clicks (or presses on) what start() does and returns the download's text.
  async download(page, start) {
    const [d] = await Promise.all([page.waitForEvent('download'), start()]);
    const file = await d.path();
    return { name: d.suggestedFilename(), text: fs.readFileSync(file, 'utf8') };
  },
  // What has keyboard focus, and whether the page draws a focus indicator.
  async focused(page) {
    return page.evaluate(() => {
      const el = document.activeElement;
      if (!el || el === document.body) return null;
      const cs = getComputedStyle(el);
      const outline = cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) > 0;
      const shadow = cs.boxShadow && cs.boxShadow !== 'none';
      return {
        tag: el.tagName.toLowerCase(), id: el.id, name: el.getAttribute('name'),
        type: el.getAttribute('type'), text: (el.innerText || el.value || '').trim(),
        href: el.getAttribute('href'), focusVisible: el.matches(':focus-visible'),
        indicator: Boolean(outline || shadow),
      };
    });
  },
};

const ops = {
  async context(req) { return newContext(req.options); },
  async page(req) { return newPage(req.ctx); },
  async call(req) {
    const { page } = pageOf(req.page);
    let target = page;
    const parts = req.method.split('.');
    for (const p of parts.slice(0, -1)) target = target[p];
    const fn = target[parts[parts.length - 1]];
    if (typeof fn !== 'function') throw new Error(`no method ${req.method}`);
    return plain(await fn.apply(target, req.args || []));
  },
  async run(req) {
    const { page, ctxId } = pageOf(req.page);
    const fn = new AsyncFunction('page', 'ctx', 'args', 'lib', req.code);
    return plain(await fn(page, contexts.get(ctxId).ctx, req.args || {}, lib));
  },
  async axe(req) {
    const { page } = pageOf(req.page);
    // evaluate() is not subject to the page's CSP, which allows no script.
    await page.evaluate(AXE_SOURCE);
    return page.evaluate(async (options) => {
      const r = await window.axe.run(document, options);
      return r.violations.map((v) => ({
        id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.map((n) => ({ target: n.target, html: n.html.slice(0, 300),
                                     summary: n.failureSummary })),
      }));
    }, Object.assign({ iframes: false, resultTypes: ['violations'] }, req.options || {}));
  },
  async events(req) {
    const c = contexts.get(req.ctx);
    if (!c) throw new Error(`no context ${req.ctx}`);
    const out = JSON.parse(JSON.stringify(c.events));
    if (req.clear) for (const k of Object.keys(c.events)) c.events[k].length = 0;
    return out;
  },
  async close(req) {
    const c = contexts.get(req.ctx);
    if (!c) return null;
    for (const [id, p] of pages) if (p.ctxId === req.ctx) pages.delete(id);
    contexts.delete(req.ctx);
    await c.ctx.close();
    return null;
  },
};

function reply(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

async function main() {
  browser = await chromium.launch({
    executablePath: process.env.RALLY_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ARGS,
  });
  reply({ id: 0, ok: true, value: { version: browser.version() } });
  const rl = readline.createInterface({ input: process.stdin });
  // One request at a time, in order: pytest waits for each answer.
  let chain = Promise.resolve();
  rl.on('line', (line) => {
    chain = chain.then(async () => {
      let req;
      try {
        req = JSON.parse(line);
        const op = ops[req.op];
        if (!op) throw new Error(`unknown op ${req.op}`);
        reply({ id: req.id, ok: true, value: (await op(req)) ?? null });
      } catch (e) {
        reply({ id: req ? req.id : null, ok: false, error: String(e && e.stack || e) });
      }
    });
  });
  rl.on('close', () => { chain.then(() => browser.close()).then(() => process.exit(0)); });
}

main().catch((e) => {
  reply({ id: 0, ok: false, error: String(e && e.stack || e) });
  process.exit(1);
});

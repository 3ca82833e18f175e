// heed's dashboard: plain JavaScript, no library, nothing from elsewhere.
// It reads the agent's API with the token kept in sessionStorage:
//   /v1/ui/checks     a page of checks, filtered and paged by the agent
//   /v1/ui/services   the catalog's services with their health
//   /v1/checks/:id, /v1/checks/:id/history, /v1/events?check=ID
// and polls them, so that what it shows follows the agent without reload.
// Every value from the API goes in through textContent, never as HTML.
'use strict';

const POLL_MS = 1000;          // the list and a check page: one request a second
const HISTORY_EVERY_MS = 30000; // uptime and sparklines are asked again this often
const PAGE = 50;
const TOKEN_KEY = 'heed-token';

const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
};
const SVG = 'http://www.w3.org/2000/svg';
const svg = (tag, attrs) => {
  const e = document.createElementNS(SVG, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  return e;
};

// ---- the API, with the token -------------------------------------------------------

class NeedToken extends Error {}

function token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }

async function api(path) {
  const headers = { Accept: 'application/json' };
  if (token()) headers.Authorization = 'Bearer ' + token();
  const res = await fetch(path, { headers, cache: 'no-store' });
  let body = null;
  try { body = await res.json(); } catch (e) { body = null; }
  if (res.status === 401 || (res.status === 403 && body && body.code === 'bad_token')) {
    askToken(res.status === 401 ? 'This agent needs a token.' : 'That token is not one of this agent\'s.',
             !!token());
    throw new NeedToken();
  }
  if (!res.ok) {
    const err = new Error((body && body.error) || ('HTTP ' + res.status));
    err.status = res.status;
    throw err;
  }
  return body;
}

let tokenWaiters = [];
function askToken(why, refused) {
  const d = $('token-dialog');
  $('token-why').textContent = why + ' Give an API token (it stays in this tab only).';
  $('token-error').hidden = !refused;
  $('token-error').textContent = refused ? 'The token was refused.' : '';
  if (!d.open) { d.showModal(); $('token-input').focus(); }
}

function tokenGiven(t) {
  if (t) sessionStorage.setItem(TOKEN_KEY, t); else sessionStorage.removeItem(TOKEN_KEY);
  $('token-dialog').close();
  const w = tokenWaiters; tokenWaiters = [];
  w.forEach((f) => f());
  refreshNow(true);
}

// ---- formatting ------------------------------------------------------------------

function fmtMs(ms) {
  if (ms === null || ms === undefined) return '';
  if (ms < 1) return ms.toFixed(2) + ' ms';
  if (ms < 1000) return ms.toFixed(ms < 10 ? 1 : 0) + ' ms';
  return (ms / 1000).toFixed(2) + ' s';
}
function fmtPct(p) {
  if (p === null || p === undefined) return '–';
  if (p >= 99.995) return '100%';
  return p.toFixed(2) + '%';
}
function fmtAgo(ts) {
  if (!ts) return '';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(ts)) / 1000));
  if (s < 60) return s + ' s ago';
  if (s < 3600) return Math.floor(s / 60) + ' min ago';
  if (s < 86400) return Math.floor(s / 3600) + ' h ago';
  return Math.floor(s / 86400) + ' d ago';
}

function sparkline(points) {
  const w = 120, h = 24;
  const s = svg('svg', { width: w, height: h, viewBox: `0 0 ${w} ${h}`, class: 'spark' });
  if (!points || points.length === 0) return s;
  const max = Math.max(...points.map((p) => p[1]), 0.001);
  const step = points.length > 1 ? w / (points.length - 1) : 0;
  const pts = points.map((p, i) => `${(i * step).toFixed(1)},${(h - 2 - (p[1] / max) * (h - 4)).toFixed(1)}`);
  if (points.length === 1) pts.push(`${w},${pts[0].split(',')[1]}`);
  s.appendChild(svg('polyline', { points: pts.join(' ') }));
  const t = svg('title', {}); t.textContent = 'latency, last hour (max ' + fmtMs(max) + ')';
  s.appendChild(t);
  return s;
}

function statusCell(status) {
  const td = el('td', 'status');
  td.appendChild(el('span', 'dot st-' + status));
  td.appendChild(document.createTextNode(' ' + status));
  return td;
}

function tags(list) {
  const f = document.createDocumentFragment();
  (list || []).forEach((t) => f.appendChild(el('span', 'tag', t)));
  return f;
}

// ---- the list of checks and services --------------------------------------------------

const view = {
  route: '',        // '' (checks), 'services', 'check'
  status: '',
  q: '',
  tag: '',
  sort: '',         // '' by id, 'status': the worst first
  ns: '',           // the tenant to show (ns=; '*' every tenant); '' the token's own
  after: '',        // the page's after=
  pages: [],        // the after= of the pages before, for "Previous"
  next: null,
  historyAt: 0,     // when uptime and sparklines were last asked for
  history: new Map(), // key -> {uptime, spark}, kept between history reads
  checkId: '',
  checkNs: '',
  range: '24h',
  chartAt: 0,
  tags: new Set(),
};

function listQuery(withHistory) {
  const p = new URLSearchParams();
  if (view.q) p.set('q', view.q);
  if (view.tag) p.set('tag', view.tag);
  if (view.status) p.set('status', view.status);
  if (view.ns) p.set('ns', view.ns);
  if (view.sort && view.route !== 'services') p.set('sort', view.sort);
  p.set('limit', String(PAGE));
  if (view.after) p.set('after', view.after);
  if (withHistory) p.set('history', '1');
  return p.toString();
}

function setCounts(c) {
  for (const k of ['total', 'passing', 'warning', 'critical', 'maintenance']) $('count-' + k).textContent = c[k] || 0;
  // The tab's title tells of trouble while the tab is in the background.
  const bad = (c.critical || 0) + (c.warning || 0);
  document.title = bad ? `(${c.critical || 0} critical, ${c.warning || 0} warning) heed` : 'heed';
}

function setHead(cols) {
  const head = $('checks-head');
  head.textContent = '';
  const tr = el('tr');
  cols.forEach((c) => tr.appendChild(el('th', '', c)));
  head.appendChild(tr);
}

function renderChecks(data) {
  setHead(['Status', 'Check', 'Target', 'Output', 'Latency', '24 h', '7 d', '30 d', 'Last hour', 'Changed']);
  setCounts(data.counts);
  const tbody = $('rows');
  const frag = document.createDocumentFragment();
  for (const c of data.checks) {
    const key = c.tenant + '/' + c.id;
    if (c.uptime || c.spark) view.history.set(key, { uptime: c.uptime, spark: c.spark });
    const h = view.history.get(key) || {};
    (c.tags || []).forEach((t) => view.tags.add(t));
    const tr = el('tr', 'check st-' + c.status);
    tr.dataset.check = c.id;
    tr.dataset.status = c.status;
    tr.appendChild(statusCell(c.status));
    const name = el('td', 'name');
    const a = el('a', '', c.name);
    a.href = '#/check/' + encodeURIComponent(c.id) + (view.ns ? '?ns=' + encodeURIComponent(c.tenant) : '');
    name.appendChild(a);
    if (c.tenant !== 'default') name.appendChild(el('span', 'tenant', c.tenant));
    if (c.name !== c.id) name.appendChild(el('div', 'note', c.id));
    name.appendChild(el('div')).appendChild(tags(c.tags));
    tr.appendChild(name);
    tr.appendChild(el('td', 'target', c.target || c.kind));
    const out = el('td', 'out', c.output);
    out.title = c.output;
    tr.appendChild(out);
    tr.appendChild(el('td', 'num latency', c.last_checked ? fmtMs(c.latency_ms) : ''));
    const u = h.uptime || {};
    tr.appendChild(el('td', 'num up24', fmtPct(u['24h'])));
    tr.appendChild(el('td', 'num up7', fmtPct(u['7d'])));
    tr.appendChild(el('td', 'num up30', fmtPct(u['30d'])));
    const sp = el('td', 'sparkcell');
    sp.appendChild(sparkline(h.spark));
    tr.appendChild(sp);
    tr.appendChild(el('td', 'num', fmtAgo(c.last_change)));
    frag.appendChild(tr);
  }
  tbody.textContent = '';
  tbody.appendChild(frag);
  $('empty').hidden = data.checks.length > 0;
  view.next = data.next;
  const first = view.pages.length * PAGE;
  $('page-info').textContent = data.matched
    ? `${first + 1}–${first + data.checks.length} of ${first + data.matched}` : '';
  $('page-next').disabled = !data.next;
  $('page-prev').disabled = view.pages.length === 0;
  $('page-first').disabled = view.pages.length === 0;
  const dl = $('tag-list');
  if (dl.childElementCount !== view.tags.size) {
    dl.textContent = '';
    [...view.tags].sort().forEach((t) => { const o = el('option'); o.value = t; dl.appendChild(o); });
  }
}

function renderServices(data) {
  setHead(['Status', 'Service', 'Node', 'Address', 'Checks']);
  setCounts(data.counts);
  const tbody = $('rows');
  const frag = document.createDocumentFragment();
  for (const s of data.services) {
    (s.tags || []).forEach((t) => view.tags.add(t));
    const tr = el('tr', 'service st-' + s.status);
    tr.dataset.service = s.id;
    tr.dataset.status = s.status;
    tr.appendChild(statusCell(s.status));
    const name = el('td', 'name', s.name);
    if (s.name !== s.id) name.appendChild(el('div', 'note', s.id));
    name.appendChild(el('div')).appendChild(tags(s.tags));
    tr.appendChild(name);
    tr.appendChild(el('td', '', s.node));
    tr.appendChild(el('td', '', s.address ? s.address + (s.port ? ':' + s.port : '') : (s.port ? ':' + s.port : '')));
    const ck = el('td', 'out');
    const line = (status, text) => {
      const d = el('div');
      d.appendChild(el('span', 'dot st-' + status));
      d.appendChild(document.createTextNode(' ' + text));
      ck.appendChild(d);
    };
    s.checks.filter((c) => !c.node_check)
      .forEach((c) => line(c.status, c.name + (c.output ? ' — ' + c.output : '')));
    // Its node's checks count too (Consul's rule): shown as one line.
    const node = s.checks.filter((c) => c.node_check);
    if (node.length) {
      const rank = { passing: 0, warning: 1, critical: 2, maintenance: 3 };
      const worst = node.reduce((w, c) => (rank[c.status] > rank[w] ? c.status : w), 'passing');
      const bad = node.filter((c) => c.status !== 'passing').length;
      line(worst, `node ${s.node}: ${node.length} checks` + (bad ? `, ${bad} not passing` : ''));
    }
    tr.appendChild(ck);
    frag.appendChild(tr);
  }
  tbody.textContent = '';
  tbody.appendChild(frag);
  $('empty').hidden = data.services.length > 0;
  $('page-info').textContent = data.matched > data.services.length
    ? `first ${data.services.length} of ${data.matched}` : '';
  ['page-next', 'page-prev', 'page-first'].forEach((b) => { $(b).disabled = true; });
}

// ---- a check's page ------------------------------------------------------------------

function fact(dl, k, v) {
  if (v === null || v === undefined || v === '') return;
  dl.appendChild(el('dt', '', k));
  dl.appendChild(el('dd', '', v));
}

function renderCheck(c) {
  $('cv-dot').className = 'dot st-' + c.status;
  $('cv-name').textContent = c.name || c.id;
  $('check-view').dataset.status = c.status;
  const dl = $('cv-facts');
  dl.textContent = '';
  fact(dl, 'Status', c.status + (c.reason ? ' (' + c.reason + ')' : ''));
  fact(dl, 'Id', c.id);
  fact(dl, 'Target', c.target);
  fact(dl, 'Service', c.service_id);
  fact(dl, 'Tags', (c.tags || []).join(', '));
  fact(dl, 'Interval', c.interval);
  fact(dl, 'Latency', c.last_checked ? fmtMs(c.latency_ms) : '');
  fact(dl, 'Last checked', c.last_checked ? c.last_checked + ' (' + fmtAgo(c.last_checked) + ')' : '');
  fact(dl, 'Last change', c.last_change ? c.last_change + ' (' + fmtAgo(c.last_change) + ')' : '');
  $('cv-output').textContent = c.output || '';
}

const RANGE_MS = { '1h': 3600e3, '24h': 86400e3, '168h': 7 * 86400e3, '720h': 30 * 86400e3 };
const STEP_MS = { '1m': 60e3, '1h': 3600e3 };
const COLOURS = { passing: '#2e7d32', warning: '#e6a100', critical: '#c62828', maintenance: '#5c6bc0' };

// The history chart: the range asked (now back to its start) left to
// right; average latency per step as a line (dots when there are few
// steps); under it a band coloured by each step's worst status.
function renderChart(h) {
  const box = $('cv-chart');
  box.textContent = '';
  const pts = h.points || [];
  $('cv-chart-note').textContent = pts.length
    ? `${pts.length} points, step ${h.step}: average latency; the band shows the worst status of each step`
    : 'No history in this range yet.';
  const W = 1000, H = 220, L = 50, B = 22;
  const s = svg('svg', { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'img' });
  s.appendChild(svg('line', { x1: L, y1: H - B, x2: W, y2: H - B, class: 'axis' }));
  s.appendChild(svg('line', { x1: L, y1: 0, x2: L, y2: H - B, class: 'axis' }));
  const t1 = Date.now(), t0 = t1 - (RANGE_MS[view.range] || RANGE_MS['24h']);
  const x = (t) => L + Math.max(0, Math.min(1, (t - t0) / (t1 - t0))) * (W - L - 4);
  const lab = (txt, xx, yy, anchor) => {
    const t = svg('text', { x: xx, y: yy, 'text-anchor': anchor || 'start' });
    t.textContent = txt;
    s.appendChild(t);
  };
  lab(new Date(t0).toLocaleString(), L, H - 1);
  lab('now', W - 2, H - 1, 'end');
  if (pts.length) {
    const ts = pts.map((p) => Date.parse(p.ts));
    const max = Math.max(...pts.map((p) => p.latency_ms.avg), 0.001);
    const y = (v) => H - B - (v / max) * (H - B - 10);
    pts.forEach((p, i) => {
      const end = STEP_MS[h.step] ? ts[i] + STEP_MS[h.step] : (i + 1 < ts.length ? ts[i + 1] : t1);
      const x0 = x(ts[i]), w = Math.max(1, x(end) - x0);
      s.appendChild(svg('rect', { x: x0, y: H - B + 3, width: w, height: 6, fill: COLOURS[p.status] || '#aaa' }));
    });
    s.appendChild(svg('polyline', { class: 'lat', points: pts.map((p, i) => `${x(ts[i]).toFixed(1)},${y(p.latency_ms.avg).toFixed(1)}`).join(' ') }));
    if (pts.length <= 120) {
      pts.forEach((p, i) => s.appendChild(svg('circle', { cx: x(ts[i]), cy: y(p.latency_ms.avg), r: 2.5, fill: '#4a6fa5' })));
    }
    lab(fmtMs(max), L - 4, 10, 'end');
    lab('0', L - 4, H - B, 'end');
  }
  box.appendChild(s);
}

// The events of GET /v1/events?check=ID, newest first: the event object of
// src/agent/notifier.h with its "deliveries".
function renderEvents(list) {
  const tbody = $('cv-events');
  tbody.textContent = '';
  for (const e of list) {
    const tr = el('tr', 'event st-' + (e.status || ''));
    tr.dataset.event = e.id || '';
    tr.appendChild(el('td', 'num', e.time || ''));
    const change = el('td', '');
    change.appendChild(el('span', 'dot st-' + (e.old_status || '')));
    change.appendChild(document.createTextNode(' ' + (e.old_status || '?') + ' → '));
    change.appendChild(el('span', 'dot st-' + (e.status || '')));
    change.appendChild(document.createTextNode(' ' + (e.status || '?') + (e.kind ? ' (' + e.kind + ')' : '')));
    tr.appendChild(change);
    tr.appendChild(el('td', 'out', e.output || ''));
    const dl = el('td', '');
    for (const d of e.deliveries || []) {
      const x = el('div', 'delivery', d.notifier + ': ' + d.state +
        (d.attempts > 1 ? ' (' + d.attempts + ' attempts)' : ''));
      if (d.last_error) x.title = d.last_error;
      dl.appendChild(x);
    }
    tr.appendChild(dl);
    tbody.appendChild(tr);
  }
  $('cv-events-table').hidden = list.length === 0;
  $('cv-no-events').hidden = list.length > 0;
}

// ---- refreshing -------------------------------------------------------------------------

let timer = null, busy = false, again = false;

function setLive(ok, msg) {
  $('live').className = 'live ' + (ok ? 'ok' : 'bad');
  $('live').title = ok ? 'live: updated ' + new Date().toLocaleTimeString() : msg;
  $('error').hidden = ok;
  if (!ok) $('error').textContent = msg;
}

async function refresh(force) {
  if (busy) { again = again || force; return; }
  busy = true;
  try {
    if (view.route === 'check') {
      const id = encodeURIComponent(view.checkId);
      const ns = view.checkNs ? 'ns=' + encodeURIComponent(view.checkNs) : '';
      const c = await api('/v1/checks/' + id + (ns ? '?' + ns : ''));
      renderCheck(c);
      if (force || Date.now() - view.chartAt > 10000) {
        view.chartAt = Date.now();
        renderChart(await api('/v1/checks/' + id + '/history?since=' + view.range + (ns ? '&' + ns : '')));
        let events = [];
        try { events = await api('/v1/events?check=' + id + '&limit=50' + (ns ? '&' + ns : '')); } catch (e) {
          if (e instanceof NeedToken) throw e;
          events = []; // no events endpoint (yet), or none for this check
        }
        renderEvents(Array.isArray(events) ? events : []);
      }
    } else if (view.route === 'services') {
      renderServices(await api('/v1/ui/services?' + listQuery(false)));
    } else {
      const withHistory = force || Date.now() - view.historyAt > HISTORY_EVERY_MS;
      const data = await api('/v1/ui/checks?' + listQuery(withHistory));
      if (withHistory) view.historyAt = Date.now();
      renderChecks(data);
    }
    setLive(true);
    if (!document.body.dataset.ready) {
      document.body.dataset.ready = '1';
      // When the first data was painted, from the navigation's start: the
      // frame after it was put in the document (bench/ui reads it).
      requestAnimationFrame(() => setTimeout(() => {
        document.body.dataset.firstRenderMs = String(Math.round(performance.now()));
      }, 0));
    }
  } catch (e) {
    if (!(e instanceof NeedToken)) {
      setLive(false, e.status ? 'The agent answered ' + e.status + ': ' + e.message
        : 'Cannot reach the agent: ' + e.message);
    }
  } finally {
    busy = false;
    if (again) { again = false; setTimeout(() => refresh(true), 0); }
  }
}

function refreshNow(force) {
  clearInterval(timer);
  refresh(force);
  timer = setInterval(() => {
    if (!$('token-dialog').open && !document.hidden) refresh(false);
  }, POLL_MS);
}

function route() {
  const h = location.hash.replace(/^#\/?/, '');
  $('list-view').hidden = h.startsWith('check/');
  $('check-view').hidden = !h.startsWith('check/');
  $('nav-checks').className = h === '' ? 'on' : '';
  $('nav-services').className = h === 'services' ? 'on' : '';
  if (h.startsWith('check/')) {
    view.route = 'check';
    const [idPart, query] = h.slice(6).split('?');
    view.checkId = decodeURIComponent(idPart);
    view.checkNs = new URLSearchParams(query || '').get('ns') || '';
    view.chartAt = 0;
  } else {
    view.route = h === 'services' ? 'services' : '';
    view.after = ''; view.pages = [];
  }
  $('filter-text').placeholder = view.route === 'services' ? 'Filter: name, id, node, address…' : 'Filter: id, name, target, output…';
  refreshNow(true);
}

function filtersChanged() {
  view.q = $('filter-text').value.trim();
  view.tag = $('filter-tag').value.trim();
  view.ns = $('filter-ns').value.trim();
  view.after = ''; view.pages = [];
  refreshNow(true);
}

function debounce(f, ms) {
  let t = null;
  return () => { clearTimeout(t); t = setTimeout(f, ms); };
}

document.addEventListener('DOMContentLoaded', () => {
  $('filter-text').addEventListener('input', debounce(filtersChanged, 200));
  $('filter-tag').addEventListener('input', debounce(filtersChanged, 200));
  $('filter-ns').addEventListener('input', debounce(filtersChanged, 300));
  $('statuses').addEventListener('click', (ev) => {
    const b = ev.target.closest('button');
    if (!b) return;
    view.status = b.dataset.status;
    $('statuses').querySelectorAll('button').forEach((x) => x.classList.toggle('on', x === b));
    view.after = ''; view.pages = [];
    refreshNow(true);
  });
  $('sort-status').addEventListener('click', () => {
    view.sort = view.sort ? '' : 'status';
    $('sort-status').classList.toggle('on', !!view.sort);
    view.after = ''; view.pages = [];
    refreshNow(true);
  });
  $('page-next').addEventListener('click', () => {
    if (!view.next) return;
    view.pages.push(view.after); view.after = view.next; refreshNow(true);
  });
  $('page-prev').addEventListener('click', () => { view.after = view.pages.pop() || ''; refreshNow(true); });
  $('page-first').addEventListener('click', () => { view.after = ''; view.pages = []; refreshNow(true); });
  $('cv-ranges').addEventListener('click', (ev) => {
    const b = ev.target.closest('button');
    if (!b) return;
    view.range = b.dataset.range;
    $('cv-ranges').querySelectorAll('button').forEach((x) => x.classList.toggle('on', x === b));
    refreshNow(true);
  });
  $('token-form').addEventListener('submit', (ev) => { ev.preventDefault(); tokenGiven($('token-input').value.trim()); });
  $('token-clear').addEventListener('click', () => { $('token-input').value = ''; tokenGiven(''); });
  $('token-button').addEventListener('click', () => askToken('Change the token.', false));
  window.addEventListener('hashchange', route);
  route();
});

// The operator console: sign-in, the map, the work list, an outage's page with the operator
// actions, reliability, and the live stream. Plain JavaScript with no build step; Leaflet from
// the OS package (/vendor/leaflet). Everything it shows comes from /api/v1/console/* and the
// documented API; the key is sent once at sign-in, after which a HttpOnly session cookie is used
// and the CSRF token is kept in memory only.
'use strict';

const STATE = {
  session: null,          // {name, scopes, csrf_token, expires_at, secure, tile_url, tile_attribution}
  outages: new Map(),     // event_id -> row of oms_console_outages
  sort: { key: 'customers_out', dir: -1 },
  selected: null,         // event_id of the open outage page
  detail: null,           // its oms_console_outage document
  editing: false,         // an action form is being filled: refreshes wait
  live: false,
  downSince: null,
  substations: [],
};

// Each state's code, symbol (as drawn on the map) and words.
const LABELS = {
  predicted: ['PRD', '◌', 'predicted'], detected: ['DET', '◌', 'detected'], confirmed: ['CNF', '●', 'confirmed'],
  in_progress: ['WRK', '◉', 'crew working'], restored: ['RST', '○', 'restored'], closed: ['CLS', '·', 'closed'],
  cancelled: ['CXL', '✕', 'cancelled'], merged: ['MRG', '→', 'merged'], momentary: ['MOM', '◎', 'momentary'],
};
const ACTIVE = new Set(['predicted', 'detected', 'confirmed', 'in_progress']);
const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------- API

class APIError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

async function api(path, { method = 'GET', body } = {}) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') {
    headers['X-CSRF-Token'] = STATE.session ? STATE.session.csrf_token : '';
    if (body !== undefined) headers['Content-Type'] = 'application/json';
  }
  const response = await fetch(path, {
    method, headers, credentials: 'same-origin', cache: 'no-store',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!response.ok) {
    const detail = (data && (data.detail || data.title)) || `${response.status} ${response.statusText}`;
    if (response.status === 401 && path !== '/api/v1/console/session') showSignIn('Your session has ended: sign in again.');
    throw new APIError(response.status, detail);
  }
  return data;
}

// ---------------------------------------------------------------- formatting

function text(value) { return value === null || value === undefined ? '' : String(value); }
function time(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return d.toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}
function age(iso) {
  const minutes = Math.max(0, Math.floor((Date.now() - new Date(iso).getTime()) / 60000));
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  return hours < 48 ? `${hours}h ${String(minutes % 60).padStart(2, '0')}m` : `${Math.floor(hours / 24)}d ${hours % 24}h`;
}
function stateOf(row) { return row.momentary && !ACTIVE.has(row.status) ? 'momentary' : row.status; }
function badge(state) {
  const [code, shape, words] = LABELS[state] || [state.toUpperCase(), '●', state];
  const span = el('span', { class: `badge st-${state}`, title: words }, `${shape} ${code}`);
  return span;
}
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') node.className = value; else node.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(text(child)));
  return node;
}
function number(n) { return Number(n || 0).toLocaleString(); }
function localInput(date) {
  const d = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 16);
}

// ---------------------------------------------------------------- sign-in

function showSignIn(message = '') {
  STATE.session = null;
  stopStream();
  $('console-view').hidden = true;
  $('who').hidden = true;
  $('connection').hidden = true;
  $('sign-in-view').hidden = false;
  $('sign-in-error').textContent = message;
  $('key').value = '';
  $('key').focus();
}

async function signIn(event) {
  event.preventDefault();
  $('sign-in-error').textContent = '';
  $('sign-in-button').disabled = true;
  try {
    const session = await api('/api/v1/console/session', { method: 'POST', body: { key: $('key').value.trim() } });
    $('key').value = '';
    await start(session);
  } catch (error) {
    $('sign-in-error').textContent = error.status === 401 ? 'Sign-in refused: unknown or revoked API key.' : `Sign-in failed: ${error.message}`;
  } finally {
    $('sign-in-button').disabled = false;
  }
}

async function signOut() {
  try { await api('/api/v1/console/session', { method: 'DELETE' }); } catch { /* signed out anyway */ }
  showSignIn('Signed out.');
}

function canOperate() {
  const scopes = STATE.session ? STATE.session.scopes : [];
  return scopes.includes('operate') || scopes.includes('admin');
}

async function start(session) {
  STATE.session = session;
  $('sign-in-view').hidden = true;
  $('console-view').hidden = false;
  $('who').hidden = false;
  $('connection').hidden = false;
  $('who-name').textContent = `${session.name} (${session.scopes.join(', ')})`;
  $('insecure').hidden = session.secure;
  document.body.classList.toggle('read-only', !canOperate());
  initMap();
  await Promise.all([refreshAll(), loadNetwork(true)]);
  // The map and the list are drawn: marked for `oms bench console` (time from navigation start).
  requestAnimationFrame(() => performance.mark('oms-console-drawn'));
  startStream();
  route();
}

// ---------------------------------------------------------------- the work list

async function refreshAll() {
  const rows = await api('/api/v1/console/outages?recent_minutes=60');
  STATE.outages = new Map(rows.map((row) => [row.event_id, row]));
  renderList();
  renderOutageMarkers(true);
  await refreshSummary();
}

// The work list: the map's outages (substation and feeder filters, `onMap`) narrowed by state.
function filtered() {
  const state = $('filter-state').value;
  return [...STATE.outages.values()].filter((row) => {
    if (state === 'active' && !ACTIVE.has(row.status)) return false;
    if (state !== 'active' && state !== 'all' && stateOf(row) !== state) return false;
    return onMap(row);
  });
}

function sortValue(row, key) {
  if (key === 'feeds') return row.feeds.length;
  if (key === 'status') return Object.keys(LABELS).indexOf(stateOf(row));
  const value = row[key];
  return value === null || value === undefined ? '' : value;
}

// The list keeps one <tr> per outage and rebuilds a row's cells only when what it shows changed:
// during a storm a redraw touches the changed rows and the order, not a thousand rows.
const rowCache = new Map();  // event_id -> {tr, shown}
const LIST_LIMIT = 500;

function rowCells(row) {
  return [
    row.event_id,
    `${row.device_kind === 'dp' ? 'DP' : row.device_kind} ${text(row.device)}`,
    stateOf(row),
    number(row.customers_out),
    number(row.meters_out),
    Number(row.confidence_score).toFixed(2),
    row.feeds.map((f) => f === 'call_center' ? `calls(${row.calls})` : f).join(' '),
    age(row.first_detected_at),
    text(row.crew),
    time(row.etr),
  ];
}

function rowElement(row) {
  const cells = rowCells(row);
  const shown = cells.join('\u0001') + (row.event_id === STATE.selected ? '\u0002' : '');
  let cached = rowCache.get(row.event_id);
  if (cached && cached.shown === shown) return cached.tr;
  const tr = cached ? cached.tr : el('tr', { tabindex: '0', 'data-id': row.event_id, title: row.event_id });
  tr.className = row.event_id === STATE.selected ? 'selected' : '';
  tr.replaceChildren(
    el('td', {}, cells[0]), el('td', {}, cells[1]), el('td', {}, badge(cells[2])),
    el('td', { class: 'num' }, cells[3]), el('td', { class: 'num' }, cells[4]), el('td', { class: 'num' }, cells[5]),
    el('td', {}, cells[6]), el('td', { title: time(row.first_detected_at) }, cells[7]), el('td', {}, cells[8]),
    el('td', {}, cells[9]));
  rowCache.set(row.event_id, { tr, shown });
  return tr;
}

function renderList() {
  const { key, dir } = STATE.sort;
  const rows = filtered().sort((a, b) => {
    const x = sortValue(a, key), y = sortValue(b, key);
    if (x < y) return -dir;
    if (x > y) return dir;
    return a.event_id < b.event_id ? -1 : 1;
  });
  const body = document.querySelector('#outage-table tbody');
  const shown = rows.slice(0, LIST_LIMIT).map(rowElement);
  const current = body.children;
  let same = current.length === shown.length;
  for (let i = 0; same && i < shown.length; i++) same = current[i] === shown[i];
  if (!same) body.replaceChildren(...shown);
  if (rowCache.size > 4 * LIST_LIMIT) {
    const keep = new Set(shown.map((tr) => tr.dataset.id));
    for (const id of rowCache.keys()) if (!keep.has(id)) rowCache.delete(id);
  }
  $('list-count').textContent = `${rows.length} outage${rows.length === 1 ? '' : 's'}${rows.length > LIST_LIMIT ? ` (first ${LIST_LIMIT} shown: filter to narrow)` : ''}`;
  for (const th of document.querySelectorAll('#outage-table th')) {
    if (th.dataset.key === key) th.setAttribute('aria-sort', dir > 0 ? 'ascending' : 'descending');
    else th.removeAttribute('aria-sort');
  }
}

// The merge target suggestions: the active outages, filled when an outage's page opens.
function fillMergeTargets(except) {
  $('outage-ids').replaceChildren(...[...STATE.outages.values()].filter((r) => ACTIVE.has(r.status) && r.event_id !== except)
    .slice(0, 500).map((r) => el('option', { value: r.event_id }, `${r.device_kind} ${text(r.device)}`)));
}

async function refreshSummary() {
  const summary = await api('/api/v1/console/summary');
  $('sum-customers').textContent = number(summary.customers_out);
  $('sum-meters').textContent = number(summary.meters_out);
  $('sum-outages').textContent = number(summary.active_outages);
  $('sum-rate').textContent = Number(summary.events_per_second).toLocaleString();
  $('sum-states').replaceChildren(...Object.entries(summary.by_status).map(([state, n]) =>
    el('li', {}, badge(state), ` ${number(n)}`)));
  $('sum-substations').replaceChildren(...summary.by_substation.slice(0, 6).map((s) =>
    el('li', {}, `${s.substation}: ${number(s.customers_out)} out (${s.outages})`)));
}

// ---------------------------------------------------------------- the map

let map = null;
const layers = {};
const markers = new Map();  // event_id -> L.marker

function initMap() {
  if (map || !window.L) {
    if (!window.L) $('map-note').textContent = 'The map needs Leaflet (Debian package libjs-leaflet); the work list has every outage.';
    return;
  }
  const renderer = L.canvas({ padding: 0.3 });
  map = L.map('map', { preferCanvas: true, renderer, zoomControl: true, keyboard: true, attributionControl: true });
  map.attributionControl.setPrefix(false);
  if (STATE.session.tile_url) {
    L.tileLayer(STATE.session.tile_url, { attribution: STATE.session.tile_attribution, maxZoom: 19 }).addTo(map);
  }
  layers.feeders = L.layerGroup().addTo(map);
  layers.dps = L.layerGroup().addTo(map);
  layers.substations = L.layerGroup().addTo(map);
  layers.meters = L.layerGroup().addTo(map);
  layers.outages = L.layerGroup().addTo(map);
  map.setView([0, 0], 2);
  let timer = null;
  map.on('moveend', () => { clearTimeout(timer); timer = setTimeout(() => loadNetwork(false), 200); });
}

async function loadNetwork(fit) {
  if (!map) return;
  let bbox = '-180,-85,180,85', zoom = 8;
  if (!fit) {
    const b = map.getBounds().pad(0.25);
    const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
    bbox = [clamp(b.getWest(), -180, 179.9), clamp(b.getSouth(), -89.9, 89), clamp(b.getEast(), -179.9, 180), clamp(b.getNorth(), -89, 89.9)]
      .map((v) => v.toFixed(5)).join(',');
    zoom = map.getZoom();
  }
  let network;
  try { network = await api(`/api/v1/console/network?bbox=${bbox}&zoom=${zoom}`); } catch (error) {
    $('map-note').textContent = `Network not loaded: ${error.message}`;
    return;
  }
  STATE.substations = network.substations;
  fillSubstationFilters(network);
  layers.feeders.clearLayers();
  layers.substations.clearLayers();
  layers.dps.clearLayers();
  for (const feeder of network.feeders) {
    const open = feeder.state && feeder.state !== 'closed' && feeder.state !== 'unknown';
    L.polyline(feeder.path, { color: open ? '#D55E00' : '#0072B2', weight: open ? 4 : 2, dashArray: open ? '8 6' : null, opacity: 0.8 })
      .bindTooltip(`Feeder ${feeder.id}${feeder.state ? ` (${feeder.state})` : ''}`, { sticky: true }).addTo(layers.feeders);
  }
  for (const dp of network.dps) {
    L.circleMarker([dp.lat, dp.lng], { radius: 3, color: '#0072B2', weight: 1, fillOpacity: 0.6 })
      .bindTooltip(`DP ${dp.id}${dp.meters !== null ? `: ${dp.meters} meters` : ''}`).addTo(layers.dps);
  }
  for (const s of network.substations) {
    const down = s.state && s.state !== 'closed' && s.state !== 'unknown';
    L.marker([s.lat, s.lng], {
      title: `Substation ${s.id}${s.name ? ` ${s.name}` : ''}${s.state ? ` (${s.state})` : ''}`,
      icon: L.divIcon({ className: '', html: `<div class="substation-marker${down ? ' down' : ''}">S</div>`, iconSize: [18, 18] }),
      keyboard: false,
    }).addTo(layers.substations);
  }
  const shown = network.dps.length, total = network.dps_total_in_view;
  $('map-note').textContent = zoom < network.dps_from_zoom
    ? `Zoom in to level ${network.dps_from_zoom} to see distribution points.`
    : (shown < total ? `${shown} of ${total} distribution points in view shown: zoom in for all.` : '');
  if (fit && network.substations.length) {
    map.fitBounds(L.latLngBounds(network.substations.map((s) => [s.lat, s.lng])).pad(0.3));
  }
}

function fillSubstationFilters(network) {
  for (const id of ['filter-substation', 'rel-substation']) {
    const select = $(id);
    if (select.options.length > 1) continue;
    for (const s of network.substations) select.append(el('option', { value: s.id }, s.id));
  }
  const feeders = $('feeder-list');
  if (!feeders.options.length) feeders.append(...network.feeders.map((f) => el('option', { value: f.id })));
}

// Outages are drawn on the map's canvas (thousands stay fast in a storm). Each state differs in
// more than colour: predicted and detected are dashed rings, confirmed solid, crew working solid
// with a dotted outline, restored a hollow ring, momentary a thick hollow ring. The work list is
// the accessible form of the map.
const MARKER_STYLE = {
  predicted: { color: '#E69F00', fillColor: '#E69F00', fillOpacity: 0.35, dashArray: '4 3', weight: 3 },
  detected: { color: '#E69F00', fillColor: '#E69F00', fillOpacity: 0.35, dashArray: '4 3', weight: 3 },
  confirmed: { color: '#1b1b1b', fillColor: '#D55E00', fillOpacity: 0.9, dashArray: null, weight: 2 },
  in_progress: { color: '#1b1b1b', fillColor: '#CC79A7', fillOpacity: 0.9, dashArray: '2 3', weight: 2 },
  restored: { color: '#009E73', fillColor: '#009E73', fillOpacity: 0.05, dashArray: null, weight: 3 },
  momentary: { color: '#56B4E9', fillColor: '#56B4E9', fillOpacity: 0.05, dashArray: null, weight: 5 },
};

function markerStyle(row) {
  const base = MARKER_STYLE[stateOf(row)] || { color: '#777', fillColor: '#bbb', fillOpacity: 0.4, dashArray: null, weight: 2 };
  const style = Object.assign({ radius: 6 + Math.min(16, Math.sqrt(row.customers_out || 0) * 0.6) }, base);
  if (row.event_id === STATE.selected) Object.assign(style, { color: '#0072B2', weight: 5, dashArray: null });
  return style;
}

// The map shows every outage the page holds (active, and restored or momentary within the last
// hour, in their own colour and shape), narrowed by the substation and feeder filters only: the
// state filter is the work list's.
function onMap(row) {
  const substation = $('filter-substation').value;
  const feeder = $('filter-feeder').value.trim().toUpperCase();
  if (substation && row.substation !== substation) return false;
  return !(feeder && !(row.feeder || '').toUpperCase().includes(feeder));
}

function renderOutageMarkers(all, ids = []) {
  if (!map) return;
  const targets = all ? [...new Set([...markers.keys(), ...STATE.outages.keys()])] : ids;
  for (const id of targets) {
    const row = STATE.outages.get(id);
    const existing = markers.get(id);
    if (!row || row.lat === null || !onMap(row)) {
      if (existing) { existing.remove(); markers.delete(id); }
      continue;
    }
    const state = stateOf(row);
    const title = `${row.event_id}: ${LABELS[state] ? LABELS[state][2] : state}, ${row.device_kind} ${text(row.device)}, ${row.customers_out} customers out`;
    if (existing) {
      existing.setLatLng([row.lat, row.lng]);
      existing.setStyle(markerStyle(row));
      existing.setRadius(markerStyle(row).radius);
      existing.setTooltipContent(title);
    } else {
      const marker = L.circleMarker([row.lat, row.lng], markerStyle(row)).bindTooltip(title);
      marker.on('click', () => openOutage(id));
      marker.addTo(layers.outages);
      markers.set(id, marker);
    }
  }
  $('map').dataset.outagesDrawn = String(markers.size);
}

// ---------------------------------------------------------------- an outage's page

function route() {
  const match = location.hash.match(/^#\/outage\/(.+)$/);
  if (match) showOutage(decodeURIComponent(match[1])); else closeOutagePanel();
}

function openOutage(id) {
  if (location.hash !== `#/outage/${encodeURIComponent(id)}`) location.hash = `#/outage/${encodeURIComponent(id)}`;
  else showOutage(id);
}

function closeOutagePanel() {
  const was = STATE.selected;
  STATE.selected = null;
  STATE.detail = null;
  STATE.editing = false;
  $('outage').hidden = true;
  layers.meters && layers.meters.clearLayers();
  if (was) { renderOutageMarkers(false, [was]); renderList(); }
}

async function showOutage(id, { keepFocus = false } = {}) {
  const previous = STATE.selected;
  STATE.selected = id;
  if (previous !== id) {
    // Another outage: what was typed for the previous one does not carry over.
    STATE.editing = false;
    for (const field of ['act-crew', 'act-etr', 'act-restore', 'act-into', 'act-device', 'act-remark']) $(field).value = '';
    $('action-result').textContent = '';
  }
  let detail;
  try { detail = await api(`/api/v1/console/outages/${encodeURIComponent(id)}?meters=500`); } catch (error) {
    if (STATE.selected !== id) return;
    $('outage').hidden = false;
    $('outage-title').textContent = `Outage ${id}`;
    $('outage-facts').replaceChildren(el('p', { class: 'error' }, error.message));
    return;
  }
  // Closed or another outage opened meanwhile: this answer is stale.
  if (STATE.selected !== id) return;
  STATE.detail = detail;
  if (previous !== id) fillMergeTargets(id);
  STATE.outages.set(id, Object.assign(STATE.outages.get(id) || {}, detail));
  $('outage-update').hidden = true;
  renderOutage(detail);
  $('outage').hidden = false;
  if (!keepFocus) $('outage').focus();
  renderOutageMarkers(false, [id, previous].filter(Boolean));
  renderList();
}

function renderOutage(d) {
  const state = stateOf(d);
  $('outage-title').textContent = `Outage ${d.event_id}`;
  $('outage-badge').replaceChildren(badge(state));
  const facts = [
    ['Device', `${d.device_kind} ${text(d.device)}`], ['Substation / feeder', `${text(d.substation)} / ${text(d.feeder)}`],
    ['Customers out', number(d.customers_out)], ['Meters out', number(d.meters_out)],
    ['Confidence', Number(d.confidence_score).toFixed(3)], ['Basis', d.basis],
    ['Started', time(d.first_detected_at)], ['Age', age(d.first_detected_at)],
    ['Crew', text(d.crew) || '—'], ['ETR', time(d.etr) || '—'],
    ['Acknowledged', d.acknowledged_at ? `${time(d.acknowledged_at)} by ${text(d.acknowledged_by)}` : 'no'],
    ['Restored', time(d.restored_at) || '—'], ['Feeds', d.feeds.join(', ') || '—'], ['Calls', number(d.calls)],
    ['Cause', text(d.cause_code) || '—'], ['Interruptions', d.interruptions],
  ];
  if (d.parent_outage) facts.push(['Nested in', d.parent_outage]);
  if (d.merged_into) facts.push(['Merged into', d.merged_into]);
  if (d.remark) facts.push(['Remark', d.remark]);
  $('outage-facts').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));

  // Actions: hidden for a key without operate; each enabled only where the status allows it.
  const operate = canOperate();
  $('actions').hidden = !operate;
  if (operate) {
    const allowed = new Set(d.actions);
    for (const button of document.querySelectorAll('#actions [data-action]')) {
      const ok = allowed.has(button.dataset.action) && STATE.live;
      button.disabled = !ok;
      button.title = ok ? '' : (STATE.live ? `not allowed while the outage is ${d.status}` : 'disconnected: actions wait for the connection');
    }
    $('actions-hint').textContent = STATE.live ? `Allowed now: ${d.actions.join(', ') || 'none'}.` : 'Disconnected: actions are blocked until the live connection is back.';
    const cause = $('act-cause');
    if (cause.options.length !== d.cause_codes.length) {
      cause.replaceChildren(...d.cause_codes.map((c) => el('option', { value: c.code }, `${c.code} — ${c.description}`)));
    }
    if (!$('act-restore').value) $('act-restore').value = localInput(new Date());
  }
  $('outage-timeline').replaceChildren(...d.timeline.map((t) => el('li', {},
    el('time', { datetime: t.timestamp }, time(t.timestamp)), ' ',
    el('strong', {}, t.event_type), t.status ? ` → ${t.status}` : '', ': ', text(t.description),
    t.metadata && t.metadata.actor ? ` (by ${t.metadata.actor})` : '')));
  $('outage-steps').replaceChildren(...(d.restoration_steps.length ? d.restoration_steps.map((s) =>
    el('li', {}, el('time', { datetime: s.at }, time(s.at)), ` ${number(s.meters)} meter${s.meters === 1 ? '' : 's'} back`))
    : [el('li', {}, 'none yet')]));
  $('outage-nested').replaceChildren(...(d.nested.length ? d.nested.map((n) => {
    const link = el('a', { href: `#/outage/${encodeURIComponent(n.event_id)}` }, n.event_id);
    return el('li', {}, link, ` ${n.relation}, `, badge(n.status), ` ${number(n.customers_out)} customers out`);
  }) : [el('li', {}, 'none')]));
  $('outage-sources').replaceChildren(...d.sources.map((s) => el('tr', {},
    el('td', {}, s.source_type), el('td', {}, s.source_event_id), el('td', {}, s.evidence),
    el('td', {}, Number(s.correlation_weight).toFixed(2)), el('td', {}, el('time', { datetime: s.detected_at }, time(s.detected_at))))));
  $('outage-meters-count').textContent = `${number(d.meters.length)} of ${number(d.meters_total)} meters shown.`;
  $('outage-meters').replaceChildren(...d.meters.map((m) => el('tr', {},
    el('td', {}, m.meter_number), el('td', {}, m.power_status), el('td', {}, m.communication_status),
    el('td', {}, m.reported ? `own (${m.source_type})` : 'its device'), el('td', {}, time(m.restored_at) || '—'))));
  drawMeters(d);
}

function drawMeters(d) {
  if (!map) return;
  layers.meters.clearLayers();
  for (const m of d.meters) {
    if (m.lat === null || m.lng === null) continue;
    const on = m.power_status === 'on';
    L.circleMarker([m.lat, m.lng], { radius: 4, color: on ? '#009E73' : '#D55E00', weight: 2, fillOpacity: on ? 0.2 : 0.9 })
      .bindTooltip(`${m.meter_number}: power ${m.power_status}`).addTo(layers.meters);
  }
}

function showOnMap() {
  const d = STATE.detail;
  if (!map || !d) return;
  const points = d.meters.filter((m) => m.lat !== null).map((m) => [m.lat, m.lng]);
  if (d.lat !== null) points.push([d.lat, d.lng]);
  if (points.length) map.fitBounds(L.latLngBounds(points).pad(0.2), { maxZoom: 17 });
}

async function act(action) {
  const d = STATE.detail;
  if (!d) return;
  const args = { action };
  const remark = $('act-remark').value.trim();
  if (remark) args.remark = remark;
  const iso = (id) => { const v = $(id).value; return v ? new Date(v).toISOString() : undefined; };
  if (action === 'assign') args.crew = $('act-crew').value.trim();
  if (action === 'etr') args.at = iso('act-etr');
  if (action === 'restore' && iso('act-restore')) args.at = iso('act-restore');
  if (action === 'merge') args.into = $('act-into').value.trim();
  if (action === 'split') args.device = $('act-device').value.trim();
  if (action === 'close') args.cause = $('act-cause').value;
  const result = $('action-result');
  result.textContent = `${action}…`;
  try {
    const answer = await api(`/api/v1/outages/${encodeURIComponent(d.event_id)}/actions`, { method: 'POST', body: args });
    result.textContent = `Done: ${action}${answer && answer.event_id && answer.event_id !== d.event_id ? ` (new outage ${answer.event_id})` : ''}.`;
    for (const id of ['act-crew', 'act-etr', 'act-into', 'act-device', 'act-remark']) $(id).value = '';
    STATE.editing = false;
    await showOutage(d.event_id, { keepFocus: true });
  } catch (error) {
    result.textContent = `Refused: ${error.message}`;
  }
}

// ---------------------------------------------------------------- live

let stream = null;
const pending = new Set();   // outages to fetch (new to the page, or the one whose page is open)
const changed = new Set();   // outages updated from their announcement, to redraw
// What an outage announcement carries of a work-list row (16_live_events.sql).
const ANNOUNCED = ['status', 'confidence_score', 'affected_meters_count', 'affected_customers_count', 'customers_out',
  'meters_out', 'momentary', 'crew', 'etr', 'acknowledged_at', 'acknowledged_by', 'restored_at', 'cause_code'];
let flushTimer = null;
let summaryDue = false;

function setLive(live) {
  STATE.live = live;
  const box = $('connection');
  box.classList.toggle('live', live);
  box.classList.toggle('down', !live);
  if (live) {
    STATE.downSince = null;
    $('connection-text').textContent = `Live · ${new Date().toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}`;
  } else {
    STATE.downSince = STATE.downSince || new Date();
    $('connection-text').textContent = `Disconnected since ${STATE.downSince.toLocaleTimeString()}: reconnecting`;
  }
  if (STATE.detail) renderOutage(STATE.detail);
}

function startStream() {
  stopStream();
  let wasDown = false;
  stream = new EventSource('/api/v1/stream');
  stream.onopen = () => {
    setLive(true);
    // Whatever changed while the stream was away: catch up from the database.
    if (wasDown) { wasDown = false; refreshAll().catch(() => {}); if (STATE.selected) showOutage(STATE.selected, { keepFocus: true }); }
  };
  stream.onerror = () => {
    wasDown = true;
    setLive(false);
    if (stream.readyState === EventSource.CLOSED) {
      // The service refused the stream (session ended?) or is away: check, then try again.
      setTimeout(async () => {
        try { await api('/api/v1/console/session'); startStream(); } catch (error) { if (error.status !== 401) setTimeout(startStream, 3000); }
      }, 2000);
    }
  };
  for (const type of ['outage.opened', 'outage.updated', 'outage.confirmed', 'outage.restored', 'outage.merged']) {
    stream.addEventListener(type, (event) => {
      let change;
      try { change = JSON.parse(event.data); } catch { return; }
      const row = STATE.outages.get(change.event_id);
      if (row && type !== 'outage.merged') {
        // The announcement carries what the list shows: the row is updated from it, no request.
        for (const field of ANNOUNCED) if (field in change) row[field] = change[field];
        changed.add(change.event_id);
        if (change.event_id === STATE.selected) pending.add(change.event_id);
      } else {
        pending.add(change.event_id);  // new to this page (or merged away): fetched whole
      }
      schedule();
    });
  }
  stream.addEventListener('meter.status_changed', () => { refreshSummarySoon(); });
  stream.addEventListener('stream.closed', (event) => {
    let reason = '';
    try { reason = JSON.parse(event.data).reason; } catch { /* none */ }
    if (reason === 'signed_out' || reason === 'key_revoked') showSignIn(reason === 'key_revoked' ? 'Your API key was revoked.' : 'Signed out.');
  });
}

function stopStream() {
  if (stream) { stream.close(); stream = null; }
}

// Changes are coalesced: at most one redraw (and one refetch of outages new to the page) per
// 200 ms, drawn in one frame (with a timer fallback: background tabs get no animation frames).
function schedule() {
  if (flushTimer) return;
  flushTimer = setTimeout(() => {
    let done = false;
    const run = () => { if (done) return; done = true; flushTimer = null; flush(); };
    requestAnimationFrame(run);
    setTimeout(run, 100);
  }, 200);
}

async function flush() {
  const updated = [...changed];
  changed.clear();
  if (updated.length) {
    renderList();
    renderOutageMarkers(false, updated);
    summaryDue = true;
  }
  const ids = [...pending].slice(0, 500);
  ids.forEach((id) => pending.delete(id));
  if (pending.size) schedule();
  if (ids.length) {
    try {
      // 100 ids to a request, the requests side by side: a URL stays a few kilobytes.
      const chunks = [];
      for (let i = 0; i < ids.length; i += 100) chunks.push(ids.slice(i, i + 100));
      const answers = await Promise.all(chunks.map((chunk) =>
        api(`/api/v1/console/outages?ids=${chunk.map(encodeURIComponent).join(',')}`)));
      for (const row of answers.flat()) STATE.outages.set(row.event_id, row);
      renderList();
      renderOutageMarkers(false, ids);
      if (STATE.selected && ids.includes(STATE.selected)) {
        if (STATE.editing) $('outage-update').hidden = false; else showOutage(STATE.selected, { keepFocus: true });
      }
      summaryDue = true;
    } catch {
      // Not lost: the ids wait for the next flush (a reconnection refetches everything anyway).
      ids.forEach((id) => pending.add(id));
      setTimeout(schedule, 1000);
    }
  }
  if (summaryDue) refreshSummarySoon();
}

// The summary is a query over every active outage: at most one every 2 s however busy the storm.
let summaryAt = 0;
let summaryTimer = null;
function refreshSummarySoon() {
  summaryDue = false;
  if (summaryTimer) return;
  const wait = Math.max(0, summaryAt + 2000 - Date.now());
  summaryTimer = setTimeout(() => {
    summaryTimer = null;
    summaryAt = Date.now();
    refreshSummary().catch(() => {});
  }, wait);
}

// ---------------------------------------------------------------- reliability

async function computeReliability(event) {
  if (event) event.preventDefault();
  const from = new Date(`${$('rel-from').value}T00:00:00Z`);
  const to = new Date(`${$('rel-to').value}T00:00:00Z`);
  to.setUTCDate(to.getUTCDate() + 1);
  const params = new URLSearchParams({ from: from.toISOString(), to: to.toISOString() });
  if ($('rel-substation').value) params.set('substation', $('rel-substation').value);
  if ($('rel-feeder').value.trim()) params.set('feeder', $('rel-feeder').value.trim());
  $('rel-error').textContent = '';
  try {
    const [indices, daily] = await Promise.all([
      api(`/api/v1/reliability?${params}`), api(`/api/v1/console/reliability/daily?${params}`)]);
    const fmt = (v, digits) => v === null || v === undefined ? '—' : Number(v).toFixed(digits);
    const items = [['SAIFI', fmt(indices.saifi, 3), 'interruptions per customer'], ['SAIDI', fmt(indices.saidi, 1), 'minutes per customer'],
      ['CAIDI', fmt(indices.caidi, 1), 'minutes per interruption'], ['MAIFI', fmt(indices.maifi, 3), 'momentary per customer']];
    $('rel-indices').replaceChildren(...items.map(([name, value, unit]) =>
      el('div', {}, el('dt', { title: unit }, name), el('dd', {}, value))));
    drawChart(daily, new Set(indices.major_event_days || []));
  } catch (error) {
    $('rel-error').textContent = error.message;
  }
}

function drawChart(days, majorEventDays) {
  const svg = $('rel-chart');
  const ns = 'http://www.w3.org/2000/svg';
  const title = svg.querySelector('title');
  svg.replaceChildren(title);
  const max = Math.max(1, ...days.map((d) => Number(d.saidi)));
  const width = 600 / Math.max(1, days.length);
  days.forEach((d, i) => {
    const h = (Number(d.saidi) / max) * 140;
    const rect = document.createElementNS(ns, 'rect');
    rect.setAttribute('x', (i * width + 1).toFixed(1));
    rect.setAttribute('y', (150 - h).toFixed(1));
    rect.setAttribute('width', Math.max(1, width - 2).toFixed(1));
    rect.setAttribute('height', h.toFixed(1));
    if (majorEventDays.has(d.day)) rect.setAttribute('class', 'med');
    const tip = document.createElementNS(ns, 'title');
    tip.textContent = `${d.day}: SAIDI ${Number(d.saidi).toFixed(2)} min${majorEventDays.has(d.day) ? ' (major event day)' : ''}`;
    rect.append(tip);
    svg.append(rect);
  });
  for (const [y, label] of [[158, days.length ? days[0].day : ''], [10, `${max.toFixed(1)} min`]]) {
    const t = document.createElementNS(ns, 'text');
    t.setAttribute('x', '2');
    t.setAttribute('y', String(y));
    t.textContent = label;
    svg.append(t);
  }
  const total = days.reduce((sum, d) => sum + Number(d.saidi), 0);
  title.textContent = `Daily SAIDI over ${days.length} days, ${total.toFixed(1)} minutes in all; highest ${max.toFixed(1)}`;
}

function selectTab(tab) {
  for (const button of document.querySelectorAll('[role="tab"]')) {
    const selected = button === tab;
    button.setAttribute('aria-selected', String(selected));
    button.tabIndex = selected ? 0 : -1;
    $(button.getAttribute('aria-controls')).hidden = !selected;
  }
  if (tab.id === 'tab-reliability' && !$('rel-indices').children.length) computeReliability();
}

// ---------------------------------------------------------------- wiring

function wire() {
  $('sign-in-form').addEventListener('submit', signIn);
  $('sign-out').addEventListener('click', signOut);
  for (const id of ['filter-state', 'filter-substation', 'filter-feeder']) {
    $(id).addEventListener('input', () => { renderList(); renderOutageMarkers(true); });
  }
  for (const th of document.querySelectorAll('#outage-table th')) {
    th.querySelector('button').addEventListener('click', () => {
      const key = th.dataset.key;
      STATE.sort = STATE.sort.key === key ? { key, dir: -STATE.sort.dir } : { key, dir: key === 'event_id' || key === 'device' ? 1 : -1 };
      renderList();
    });
  }
  const body = document.querySelector('#outage-table tbody');
  body.addEventListener('click', (event) => { const tr = event.target.closest('tr'); if (tr) openOutage(tr.dataset.id); });
  body.addEventListener('keydown', (event) => {
    const tr = event.target.closest('tr');
    if (!tr) return;
    if (event.key === 'Enter' || event.key === ' ') { event.preventDefault(); openOutage(tr.dataset.id); }
    if (event.key === 'ArrowDown' && tr.nextElementSibling) { event.preventDefault(); tr.nextElementSibling.focus(); }
    if (event.key === 'ArrowUp' && tr.previousElementSibling) { event.preventDefault(); tr.previousElementSibling.focus(); }
  });
  $('outage-close').addEventListener('click', () => { location.hash = ''; });
  $('outage-map').addEventListener('click', showOnMap);
  $('outage-reload').addEventListener('click', () => { STATE.editing = false; showOutage(STATE.selected, { keepFocus: true }); });
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && !$('outage').hidden) { location.hash = ''; }
  });
  for (const button of document.querySelectorAll('#actions [data-action]')) {
    button.addEventListener('click', () => act(button.dataset.action));
  }
  $('actions').addEventListener('input', () => { STATE.editing = true; });
  window.addEventListener('hashchange', route);
  for (const tab of document.querySelectorAll('[role="tab"]')) {
    tab.addEventListener('click', () => selectTab(tab));
    tab.addEventListener('keydown', (event) => {
      if (event.key !== 'ArrowRight' && event.key !== 'ArrowLeft') return;
      const tabs = [...document.querySelectorAll('[role="tab"]')];
      const next = tabs[(tabs.indexOf(tab) + (event.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length];
      next.focus();
      selectTab(next);
    });
  }
  $('reliability-form').addEventListener('submit', computeReliability);
  const today = new Date();
  const monthAgo = new Date(today.getTime() - 29 * 86400000);
  $('rel-to').value = today.toISOString().slice(0, 10);
  $('rel-from').value = monthAgo.toISOString().slice(0, 10);
  // Ages on the list move with the clock.
  setInterval(() => { if (STATE.session) renderList(); }, 60000);
}

async function boot() {
  wire();
  try {
    const session = await api('/api/v1/console/session');
    await start(session);
  } catch {
    showSignIn();
  }
}

document.addEventListener('DOMContentLoaded', boot);

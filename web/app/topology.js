// The topology: hosts with their PAs, VM networks as routing domains
// holding their subnets (with VSIDs) and NICs, each NIC tied to the host it
// is placed on. Click a node to open the object; the same content is listed
// below the drawing for the keyboard and for screen readers.
import { html, useState, useEffect, useRef } from '../vendor/htm-preact-standalone.mjs';
import cytoscape from '../vendor/cytoscape.esm.min.mjs';

// fcose lays out compound nodes (subnets inside their VM network) without
// overlaps; index.html loads it as a classic script.
if (window.cytoscapeFcose && !cytoscape.__fcose) {
  cytoscape.use(window.cytoscapeFcose);
  cytoscape.__fcose = true;
}
const kFont = 13;  // labels, in px at zoom 1
import { listAll } from './api.js';
import { Problem } from './views.js';

const style = [
  { selector: 'node', style: { label: 'data(label)', 'text-wrap': 'wrap', 'font-size': kFont, 'text-valign': 'center', color: '#1d2733' } },
  { selector: 'node.host', style: { shape: 'round-rectangle', 'background-color': '#dbe7f5', 'border-color': '#1f5fa8', 'border-width': 2, width: 150, height: 48 } },
  { selector: 'node.network', style: { 'background-color': '#f3f6ea', 'border-color': '#6b8e23', 'border-width': 2, 'text-valign': 'top', 'text-halign': 'center', 'font-weight': 'bold', padding: 18 } },
  { selector: 'node.subnet', style: { 'background-color': '#ffffff', 'border-color': '#9aa5b1', 'border-width': 1, 'border-style': 'dashed', 'text-valign': 'top', padding: 12 } },
  { selector: 'node.nic', style: { shape: 'ellipse', 'background-color': '#ffe8c2', 'border-color': '#c77700', 'border-width': 1, width: 120, height: 44 } },
  { selector: 'node.gateway', style: { shape: 'diamond', 'background-color': '#f5d0d0', width: 70, height: 70 } },
  { selector: 'edge', style: { width: 1.5, 'line-color': '#8795a1', 'target-arrow-shape': 'triangle', 'target-arrow-color': '#8795a1', 'curve-style': 'bezier', label: 'data(label)', 'font-size': kFont - 2, color: '#52606d' } },
  { selector: 'node:selected', style: { 'border-width': 4, 'border-color': '#d64545' } },
];

async function load(who) {
  const [networks, subnets, nics, gateways] = await Promise.all(
    ['vm-networks', 'vm-subnets', 'vm-nics', 'gateways'].map((c) => listAll(c)));
  const hosts = who.role === 'admin' ? await listAll('hosts') : null;
  return { networks, subnets, nics, gateways, hosts };
}

// "host 1", "host 2" in the order a tenant's objects name them.
function hostLabel(model, id) {
  if (!model.hostNumbers) {
    model.hostNumbers = new Map();
    for (const o of [...model.nics, ...model.gateways]) {
      if (o.host_id && !model.hostNumbers.has(o.host_id)) model.hostNumbers.set(o.host_id, model.hostNumbers.size + 1);
    }
  }
  return `host ${model.hostNumbers.get(id) ?? '?'}`;
}

function elementsOf(model) {
  const els = [];
  const hostIds = new Set();
  for (const h of model.hosts || []) {
    hostIds.add(h.id);
    els.push({ data: { id: `host:${h.id}`, label: `${h.name}\n${h.pa || 'no PA'}`, href: `#/hosts/${h.id}` }, classes: 'host' });
  }
  // A tenant does not read hosts: it sees them numbered (which of its NICs
  // share a host), not by name or id.
  const placed = [...model.nics, ...model.gateways].map((o) => o.host_id).filter(Boolean);
  for (const id of placed) {
    if (hostIds.has(id)) continue;
    hostIds.add(id);
    els.push({ data: { id: `host:${id}`, label: hostLabel(model, id) }, classes: 'host' });
  }
  for (const n of model.networks) {
    els.push({ data: { id: `net:${n.id}`, label: `${n.name} · ${n.translation}\nRDID ${n.rdid.slice(0, 8)}`, href: `#/vm-networks/${n.id}` }, classes: 'network' });
  }
  for (const s of model.subnets) {
    els.push({ data: { id: `subnet:${s.id}`, parent: `net:${s.vm_network_id}`, label: `${s.name} ${s.prefix} · VSID ${s.vsid}`, href: `#/vm-subnets/${s.id}` }, classes: 'subnet' });
  }
  for (const nic of model.nics) {
    els.push({ data: { id: `nic:${nic.id}`, parent: `subnet:${nic.vm_subnet_id}`, label: `${nic.vm_name}\n${nic.ip}`, href: `#/vm-nics/${nic.id}` }, classes: 'nic' });
    if (nic.host_id) els.push({ data: { id: `placed:${nic.id}`, source: `nic:${nic.id}`, target: `host:${nic.host_id}`, label: nic.interface || '' } });
  }
  for (const g of model.gateways) {
    els.push({ data: { id: `gw:${g.id}`, parent: `net:${g.vm_network_id}`, label: `${g.name || g.kind}\n${g.kind} ${g.external_ip || ''}`, href: `#/gateways/${g.id}` }, classes: 'gateway' });
    if (g.host_id) els.push({ data: { id: `gwhost:${g.id}`, source: `gw:${g.id}`, target: `host:${g.host_id}`, label: g.name || '' } });
  }
  return els;
}

export function TopologyView({ who }) {
  const [state, setState] = useState({ loading: true });
  const [view, setCy] = useState(null);
  const container = useRef(null);
  const zoom = (factor) => {
    if (!view) return;
    const { cy } = view;
    cy.zoom({ level: cy.zoom() * factor, renderedPosition: { x: cy.width() / 2, y: cy.height() / 2 } });
  };
  useEffect(() => {
    load(who).then((model) => setState({ model })).catch((error) => setState({ error }));
  }, []);
  useEffect(() => {
    if (!state.model || !container.current) return undefined;
    const cy = cytoscape({
      container: container.current,
      elements: elementsOf(state.model),
      style,
      minZoom: 0.2,
      maxZoom: 3,
      layout: window.cytoscapeFcose
        ? { name: 'fcose', quality: 'proof', animate: false, randomize: true, padding: 30, nodeDimensionsIncludeLabels: true,
          idealEdgeLength: 140, nodeRepulsion: 9000, nodeSeparation: 90, tilingPaddingVertical: 20, tilingPaddingHorizontal: 20 }
        : { name: 'cose', animate: false, padding: 30 },
    });
    // Never so small that labels cannot be read: fit, but not below the zoom
    // at which a label is 9 px (pan and zoom show the rest).
    const fit = () => { cy.fit(undefined, 30); if (cy.zoom() * kFont < 9) { cy.zoom(9 / kFont); cy.center(); } };
    fit();
    cy.on('tap', 'node', (e) => { const href = e.target.data('href'); if (href) location.hash = href; });
    container.current.vnetTopology = { cy, fit };  // for the browser test and the buttons
    setCy({ cy, fit });
    return () => cy.destroy();
  }, [state.model]);
  if (state.error) return html`<main><${Problem} error=${state.error} /></main>`;
  const m = state.model;
  return html`<main>
    <h1>Topology</h1>
    <p class="legend"><span class="swatch host"></span> host (PA) <span class="swatch network"></span> VM network (routing domain)
      <span class="swatch subnet"></span> VM subnet (VSID) <span class="swatch nic"></span> VM NIC → its host</p>
    <div class="zoom" role="group" aria-label="Zoom">
      <button type="button" class="secondary" onClick=${() => zoom(1.25)} aria-label="Zoom in">+</button>
      <button type="button" class="secondary" onClick=${() => zoom(0.8)} aria-label="Zoom out">−</button>
      <button type="button" class="secondary" onClick=${() => view?.fit()}>Fit</button>
    </div>
    <div class="topology" ref=${container} data-testid="topology" role="img"
      aria-label="Drawing of the topology; the same is listed below"></div>
    ${state.loading && html`<p class="loading">Loading…</p>`}
    ${m && html`<section class="topology-list">
      <h2>Routing domains</h2>
      ${m.networks.length === 0 && html`<p class="empty">No VM networks yet.</p>`}
      <ul>${m.networks.map((n) => html`<li>
        <a href=${`#/vm-networks/${n.id}`}>${n.name}</a> (RDID ${n.rdid})
        <ul>${m.subnets.filter((s) => s.vm_network_id === n.id).map((s) => html`<li>
          <a href=${`#/vm-subnets/${s.id}`}>${s.name}</a> ${s.prefix}, VSID ${s.vsid}
          <ul>${m.nics.filter((x) => x.vm_subnet_id === s.id).map((x) => html`<li>
            <a href=${`#/vm-nics/${x.id}`}>${x.vm_name}</a> ${x.ip} ${x.mac}
            ${x.host_id ? html` on ${m.hosts ? html`<a href=${`#/hosts/${x.host_id}`}>${m.hosts.find((h) => h.id === x.host_id)?.name || x.host_id}</a>` : hostLabel(m, x.host_id)}` : ' (not placed)'}
          </li>`)}</ul></li>`)}</ul></li>`)}</ul>
      ${m.hosts && html`<h2>Hosts</h2><ul>${m.hosts.map((h) => html`<li>
        <a href=${`#/hosts/${h.id}`}>${h.name}</a> PA ${h.pa || '—'} · ${h.connected ? 'connected' : 'not connected'}${' · '}<a
          href=${`#/hosts/${h.id}/policy`}>policy</a></li>`)}</ul>`}
    </section>`}
  </main>`;
}

// The console's shell: sign-in with a token, the view its role allows, a
// hash router (#/vm-networks/ID), and the menu. Every view is a client of
// the REST API and nothing more.
import { html, render, useState, useEffect } from '../vendor/htm-preact-standalone.mjs';
import { api, token, whenUnauthorized } from './api.js';
import { kinds, adminMenu, tenantMenu } from './kinds.js';
import { ListView, ObjectView, CreateView } from './views.js';
import { TopologyView } from './topology.js';
import { PolicyView } from './policy.js';
import { OverviewView } from './overview.js';

// #/vm-subnets/new?vm_network_id=ID -> ['vm-subnets', 'new'] and { vm_network_id: ID }
function parseRoute() {
  const [path] = location.hash.replace(/^#\/?/, '').split('?');
  return path.split('/').filter(Boolean).map(decodeURIComponent);
}
function parseQuery() {
  const query = location.hash.split('?')[1] || '';
  return Object.fromEntries(new URLSearchParams(query));
}

function SignIn({ onSignedIn, reason }) {
  const [secret, setSecret] = useState('');
  const [error, setError] = useState(reason || '');
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    token.set(secret.trim());
    try {
      const { data } = await api('GET', '/api/v1/whoami');
      onSignedIn(data);
    } catch (err) {
      token.clear();
      setError(err.status === 401 ? 'That token is not valid: it was revoked or never issued.' : `${err.title}: ${err.detail}`);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <main class="signin">
      <h1>vnet console</h1>
      <p>Sign in with an API token. Administrators find the first one in <code>${'<data-dir>/admin.token'}</code>;
         tenants get theirs from an administrator.</p>
      <form onSubmit=${submit}>
        <label for="token">Token</label>
        <input id="token" type="password" autocomplete="off" required value=${secret}
               onInput=${(e) => setSecret(e.target.value)} aria-describedby="signin-error" autofocus />
        <button type="submit" disabled=${busy}>${busy ? 'Signing in…' : 'Sign in'}</button>
        ${error && html`<p id="signin-error" class="error" role="alert">${error}</p>`}
      </form>
    </main>`;
}

function Menu({ who, route }) {
  const items = who.role === 'admin' ? adminMenu : tenantMenu;
  const current = route[0] || '';
  const link = (href, label, key) => html`
    <li><a href=${href} aria-current=${current === key ? 'page' : undefined}>${label}</a></li>`;
  return html`
    <nav aria-label="Main">
      <ul>
        ${link('#/', 'Overview', '')}
        ${link('#/topology', 'Topology', 'topology')}
        ${items.map((c) => link(`#/${c}`, who.role === 'tenant' && kinds[c].tenantLabel ? kinds[c].tenantLabel : kinds[c].label, c))}
      </ul>
    </nav>`;
}

function View({ who, route }) {
  const [first, second, third] = route;
  if (!first) return html`<${OverviewView} who=${who} />`;
  if (first === 'topology') return html`<${TopologyView} who=${who} />`;
  if (!kinds[first] || (kinds[first].admin && who.role !== 'admin')) {
    return html`<main><h1>Not found</h1><p>There is no page at <code>#/${route.join('/')}</code>.</p></main>`;
  }
  if (!second) return html`<${ListView} key=${first} collection=${first} who=${who} />`;
  if (second === 'new') return html`<${CreateView} key=${location.hash} collection=${first} who=${who} initial=${parseQuery()} />`;
  if (first === 'hosts' && third === 'policy') return html`<${PolicyView} key=${second} id=${second} />`;
  return html`<${ObjectView} key=${`${first}/${second}`} collection=${first} id=${second} who=${who} />`;
}

function App() {
  const [who, setWho] = useState(null);
  const [checking, setChecking] = useState(Boolean(token.get()));
  const [reason, setReason] = useState('');
  const [route, setRoute] = useState(parseRoute());

  useEffect(() => {
    // After navigation the keyboard starts at the new page's content, not
    // at the link it left (which may be gone).
    const onHash = () => {
      setRoute(parseRoute());
      window.scrollTo(0, 0);
      setTimeout(() => document.getElementById('content')?.focus({ preventScroll: true }), 0);
    };
    window.addEventListener('hashchange', onHash);
    whenUnauthorized(() => {
      token.clear();
      setWho(null);
      setReason('Your token stopped working (revoked?). Sign in again.');
    });
    if (token.get()) {
      api('GET', '/api/v1/whoami')
        .then(({ data }) => setWho(data))
        .catch(() => token.clear())
        .finally(() => setChecking(false));
    }
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  useEffect(() => {
    const page = route[0] ? (kinds[route[0]]?.label || route[0]) : 'Overview';
    document.title = `${page} · vnet`;
  }, [route]);

  if (checking) return html`<p class="loading">Checking your token…</p>`;
  if (!who) return html`<${SignIn} reason=${reason} onSignedIn=${(w) => { setReason(''); setWho(w); }} />`;
  const signOut = () => { token.clear(); setWho(null); location.hash = '#/'; };
  return html`
    <a class="skip" href="#content" onClick=${(e) => { e.preventDefault(); document.getElementById('content')?.focus(); }}>Skip to content</a>
    <header>
      <a class="brand" href="#/">vnet</a>
      <span class="who" data-testid="who">
        ${who.role === 'admin' ? 'Administrator' : `Tenant ${who.tenant_name}`}
        ${who.token_name ? html` · token ${who.token_name}` : ''}
      </span>
      <button type="button" class="link" onClick=${signOut}>Sign out</button>
    </header>
    <div class="layout">
      <${Menu} who=${who} route=${route} />
      <div id="content" tabindex="-1"><${View} who=${who} route=${route} /></div>
    </div>`;
}

const root = document.getElementById('app');
root.textContent = '';  // the loading note
render(html`<${App} />`, root);

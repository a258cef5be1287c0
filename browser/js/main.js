/* global document, location, history, addEventListener, removeEventListener, Element */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, html, navigate, session } from './lib.js';
import { HomePage } from './pages/home.js';
import { ModelPage } from './pages/model.js';
import { SearchPage } from './pages/search.js';
import { IssuerPage } from './pages/issuer.js';
import { LocalPage } from './pages/local.js';
import { PublishPage } from './pages/publish.js';

const NAV = [['/', 'Home'], ['/search', 'Search'], ['/local', 'Local models'], ['/publish', 'Publish']];

function page(path) {
  const m = /^\/models\/([^/]+)$/.exec(path);
  if (m) return html`<${ModelPage} key=${m[1]} digest=${decodeURIComponent(m[1])} />`;
  const i = /^\/issuers\/([^/]+)$/.exec(path);
  if (i) return html`<${IssuerPage} key=${i[1]} did=${decodeURIComponent(i[1])} />`;
  switch (path) {
    case '/': return html`<${HomePage} />`;
    case '/search': return html`<${SearchPage} />`;
    case '/local': return html`<${LocalPage} />`;
    case '/publish': return html`<${PublishPage} />`;
    default: return html`<main class="page"><h1 id="page-title" tabindex="-1">Not found</h1><p>No page ${path}. <a href="/">Home</a></p></main>`;
  }
}

function SessionBar() {
  const [s, setS] = useState(undefined);
  useEffect(() => { session().then(setS); }, []);
  if (s === undefined) return html`<div class="session"></div>`;
  const logout = async () => {
    await api('/ui/logout', { method: 'POST' }).catch(() => undefined);
    location.assign('/');
  };
  return s.loggedIn
    ? html`<div class="session"><span data-testid="session">Logged in: you can change trust and publish</span><button type="button" onClick=${logout}>Log out</button></div>`
    : s.otherTab
      ? html`<div class="session"><span data-testid="session">Read-only in this tab (it was not opened by the login). Run <code>chorus ui</code> to write from here.</span></div>`
      : html`<div class="session"><span data-testid="session">Read-only. Run <code>chorus ui</code> to log in.</span></div>`;
}

function App() {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const onPop = () => setPath(location.pathname);
    addEventListener('popstate', onPop);
    return () => removeEventListener('popstate', onPop);
  }, []);
  useEffect(() => {
    const h = document.getElementById('page-title');
    if (h && document.activeElement === document.body && history.length > 1) h.focus({ preventScroll: true });
  }, [path]);
  return html`
    <a class="skip" href="#content">Skip to content</a>
    <header class="top">
      <a class="brand" href="/">Chorus</a>
      <nav aria-label="Main"><ul>${NAV.map(([href, label]) => html`<li><a href=${href} aria-current=${path === href ? 'page' : undefined}>${label}</a></li>`)}</ul></nav>
      <${SessionBar} />
    </header>
    <div id="content">${page(path)}</div>`;
}

// Same-origin links navigate inside the app; the JSON API and login are real navigations.
document.addEventListener('click', (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.target instanceof Element ? e.target.closest('a[href]') : null;
  if (!a || a.target || a.origin !== location.origin || a.hasAttribute('download')) return;
  if (/^\/(v1|login|metrics|healthz)(\/|$|\?)/.test(a.pathname)) return;
  if (a.getAttribute('href').startsWith('#')) return;
  e.preventDefault();
  if (a.pathname + a.search !== location.pathname + location.search) navigate(a.pathname + a.search);
});

const root = document.getElementById('app');
root.textContent = '';
render(html`<${App} />`, root);

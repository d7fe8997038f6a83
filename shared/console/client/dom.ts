/// <reference lib="dom" />
/**
 * DOM helpers of the console pages. Every text from the bucket (file names, labels, error messages, params) goes
 * in through text nodes and attribute values, never as markup, so HTML in a file name or a label stays text.
 */

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | undefined | null | ((event: Event) => void)>;

export function h(tag: string, attrs: Attrs = {}, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (typeof value === 'function') el.addEventListener(name.replace(/^on/, ''), value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, ...children);
  return el;
}

export function append(el: Element, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'number' ? String(c) : c);
  }
}

export const fmt = (x: unknown, digits = 4): string =>
  typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : '—';

export const signed = (x: number | undefined, digits = 4): string =>
  x === undefined || !Number.isFinite(x)
    ? '—'
    : `${x > 0 ? '+' : x < 0 ? '−' : '±'}${Math.abs(x).toFixed(digits)}`;

export const seconds = (ms: number | undefined): string =>
  ms === undefined ? '…' : ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;

/** A URL of the console (relative to the page's <base>, so the app works under any mount path). */
export const href = (path: string): string =>
  new URL(path, document.baseURI).pathname + new URL(path, document.baseURI).search;

export class ApiError extends Error {}

export async function api<T>(path: string, init?: RequestInit): Promise<T> {
  const response = await fetch(new URL(path, document.baseURI), {
    ...init,
    // No extra headers on a GET: it must match the page's <link rel=preload> to reuse its response.
    ...(init?.body ? { headers: { 'content-type': 'application/json' } } : {}),
  });
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = { detail: text };
  }
  if (!response.ok) {
    const problem = body as { title?: string; detail?: string };
    throw new ApiError(problem.detail ?? problem.title ?? `HTTP ${response.status}`);
  }
  return body as T;
}

export function section(title: string, ...children: Child[]): HTMLElement {
  return h('section', { class: 'card' }, h('h2', {}, title), ...children);
}

export function table(head: string[], rows: Child[][], attrs: Attrs = {}): HTMLElement {
  return h(
    'table',
    attrs,
    h('thead', {}, h('tr', {}, ...head.map((c) => h('th', {}, c)))),
    h(
      'tbody',
      {},
      ...rows.map((r) =>
        h('tr', {}, ...r.map((c) => (c instanceof HTMLElement && c.tagName === 'TD' ? c : h('td', {}, c)))),
      ),
    ),
  );
}

/** A stable colour per name (steps of the Gantt bar, series of a chart). */
export function colour(i: number): string {
  const palette = ['#2f6fdf', '#d9534f', '#2a9d5c', '#e69f00', '#8e44ad', '#17a2b8', '#6c757d', '#c2185b'];
  return palette[i % palette.length];
}

export function errorBox(message: string): HTMLElement {
  return h('div', { class: 'error', role: 'alert' }, message);
}

/**
 * Asks in `confirmBox` before an action: Confirm POSTs `body` to `path` and shows the server's message (or its
 * error) in `status`, then calls `after`; Cancel closes the box. `ids` name the buttons and the message, for tests.
 */
export function confirmThenPost(
  confirmBox: HTMLElement,
  status: HTMLElement,
  action: {
    text: string;
    path: string;
    body: unknown;
    after: () => void;
    ids: { yes: string; no: string; done: string };
  },
): void {
  confirmBox.replaceChildren(
    h('p', {}, action.text),
    h(
      'button',
      {
        id: action.ids.yes,
        class: 'danger',
        onclick: async () => {
          confirmBox.hidden = true;
          status.replaceChildren(h('p', { class: 'muted' }, 'working…'));
          try {
            const result = await api<{ message: string }>(action.path, {
              method: 'POST',
              body: JSON.stringify(action.body),
            });
            status.replaceChildren(h('p', { class: 'pass', id: action.ids.done }, result.message));
            action.after();
          } catch (error) {
            status.replaceChildren(errorBox((error as Error).message));
          }
        },
      },
      'Confirm',
    ),
    ' ',
    h('button', { id: action.ids.no, onclick: () => (confirmBox.hidden = true) }, 'Cancel'),
  );
  confirmBox.hidden = false;
  status.replaceChildren();
}

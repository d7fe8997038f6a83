/// <reference lib="dom" />
/**
 * DOM helpers of the console pages. Every text from the bucket (file names, labels, error messages, params) goes
 * in through text nodes and attribute values, never as markup, so HTML in a file name or a label stays text.
 */

export { colour, fmt, seconds, signed } from '../format.ts';

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

/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// Runs inside the page (bundled by esbuild into one expression, see checks.ts): what a person looking at the
// page would call text overflowing its box, and every URL the page refers to.

export interface OverflowFinding {
  /** The box the text leaves, described so it can be found (tag, id, classes, the section it is in). */
  element: string;
  /** The start of the text that overflows. */
  text: string;
  /** How it overflows: which box, which side, by how many pixels. */
  detail: string;
}

export interface PageReference {
  url: string;
  /** `a`, `img`, `script`, `link rel=…`, `iframe`, `source`. */
  kind: string;
  element: string;
}

/** Elements whose text is not laid out as text of the page (or not shown). */
const NOT_TEXT = 'script, style, noscript, template, textarea, select, option, svg, canvas, head';

/** Horizontal slack: sub-pixel layout rounds an edge by up to one pixel. */
const SLACK_X = 1;

/**
 * Vertical slack: a glyph's ascent and descent reach past a tight line box (line-height below ~1.2) without any
 * text being cut or overlapping, so a quarter of the font size (at least 2 px) is not overflow.
 */
const slackY = (fontSize: number) => Math.max(2, fontSize * 0.25);

function describe(el: Element): string {
  const name = (e: Element) => {
    const id = e.id ? `#${e.id}` : '';
    const classes = [...e.classList].map((c) => `.${c}`).join('');
    return `${e.tagName.toLowerCase()}${id}${classes}`;
  };
  const parts = [name(el)];
  // Up to the nearest ancestor a person can find: one with an id, or a section with a heading.
  for (let e = el.parentElement; e && e !== document.body && parts.length < 5; e = e.parentElement) {
    if (e.id) {
      parts.unshift(name(e));
      break;
    }
    const heading = e.matches('section, figure, details') ? e.querySelector('h1, h2, h3, figcaption') : null;
    if (heading?.textContent) {
      parts.unshift(`${e.tagName.toLowerCase()} "${heading.textContent.trim().slice(0, 40)}"`);
      break;
    }
    if (e.tagName !== 'TBODY' && e.tagName !== 'THEAD') parts.unshift(name(e));
  }
  return parts.join(' › ');
}

interface Box {
  left: number;
  right: number;
  top: number;
  bottom: number;
}

interface Past {
  side: 'right' | 'left' | 'bottom' | 'top';
  by: number;
}

/** The sides on which `inner` reaches past `outer` by more than the slack, and by how much. */
function beyond(inner: Box, outer: Box, fontSize: number): Past[] {
  const sy = slackY(fontSize);
  const sides: [Past['side'], number, number][] = [
    ['right', inner.right - outer.right, SLACK_X],
    ['left', outer.left - inner.left, SLACK_X],
    ['bottom', inner.bottom - outer.bottom, sy],
    ['top', outer.top - inner.top, sy],
  ];
  return sides.filter(([, by, slack]) => by > slack).map(([side, by]) => ({ side, by }));
}

/** Only the sides along the axes where `style` lets content show (`visible`) or cuts it (`hidden`, `clip`). */
function along(past: Past[], style: CSSStyleDeclaration, test: (overflow: string) => boolean): Past[] {
  return past.filter(({ side }) =>
    test(side === 'left' || side === 'right' ? style.overflowX : style.overflowY),
  );
}

const said = (past: Past[]) => past.map(({ side, by }) => `${Math.round(by)} px past its ${side}`).join(', ');

const isInlineLevel = (style: CSSStyleDeclaration) =>
  style.display === 'inline' || style.display === 'contents';
const isOutOfFlow = (style: CSSStyleDeclaration) =>
  style.position === 'absolute' || style.position === 'fixed';
const scrolls = (v: string) => v === 'auto' || v === 'scroll';
const clips = (v: string) => v === 'hidden' || v === 'clip';
const visible = (v: string) => v === 'visible';

/** The box a text is laid out in: its nearest ancestor that is not inline (a block, cell, flex or grid item…). */
function boxOf(el: Element): Element {
  let e: Element = el;
  while (e.parentElement && isInlineLevel(getComputedStyle(e))) e = e.parentElement;
  return e;
}

/** The padding box of an element: what its overflow clips to. */
function paddingBox(el: Element): Box {
  const r = el.getBoundingClientRect();
  const left = r.left + el.clientLeft;
  const top = r.top + el.clientTop;
  return { left, right: left + el.clientWidth, top, bottom: top + el.clientHeight };
}

/**
 * Text that overflows its box, on three definitions, checked in order for each visible text node (the first
 * that applies is reported, once per box):
 * 1. *spills*: the text's rectangles reach outside the border box of the box it is laid out in (its nearest
 *    non-inline ancestor): a word too long for its cell, a label wider than a fixed-width box.
 * 2. *hangs outside*: the text is in an absolutely positioned box (a label placed beside a bar, a badge) and
 *    reaches outside the in-flow box that box hangs off (its nearest ancestor that is neither inline nor
 *    absolutely positioned; the window for position: fixed): a chart's labels leaving the chart.
 * 3. *cut*: an ancestor with overflow hidden or clip cuts part of the text off, unless that ancestor marks it
 *    as shortened on purpose (text-overflow: ellipsis) and the whole text is in a title attribute to hover.
 *    The walk up stops at a scroll container (overflow auto or scroll): text beyond its edge is reached by
 *    scrolling, which is what a wide table in a scrolling card is for.
 * And the page itself must not be wider than the window (the elements that make it so are named).
 */
export function findOverflow(): OverflowFinding[] {
  const findings: OverflowFinding[] = [];
  const reported = new Set<Element>();
  const add = (el: Element, text: string, detail: string) => {
    if (reported.has(el)) return;
    reported.add(el);
    findings.push({ element: describe(el), text: text.trim().replace(/\s+/g, ' ').slice(0, 80), detail });
  };
  const range = document.createRange();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node as Text;
    const parent = text.parentElement;
    if (!parent || !text.data.trim() || parent.closest(NOT_TEXT)) continue;
    const style = getComputedStyle(parent);
    // Not drawn: display none, visibility hidden, opacity 0, or inside a closed <details> (content-visibility).
    if (!parent.checkVisibility({ opacityProperty: true, visibilityProperty: true })) continue;
    range.selectNodeContents(text);
    const rects = [...range.getClientRects()].filter((r) => r.width > 0 && r.height > 0);
    if (!rects.length) continue;
    const extent: Box = {
      left: Math.min(...rects.map((r) => r.left)),
      right: Math.max(...rects.map((r) => r.right)),
      top: Math.min(...rects.map((r) => r.top)),
      bottom: Math.max(...rects.map((r) => r.bottom)),
    };
    const fontSize = Number.parseFloat(style.fontSize) || 16;

    // 1. Out of its own box, along the axes where that box lets overflow show (the others are case 3, or scroll).
    const box = boxOf(parent);
    const spills = along(
      beyond(extent, box.getBoundingClientRect(), fontSize),
      getComputedStyle(box),
      visible,
    );
    if (spills.length) {
      add(box, text.data, `text spills out of its box: ${said(spills)}`);
      continue;
    }

    // 2. An absolutely positioned box's text outside the in-flow box it hangs off.
    let positioned: Element | null = null;
    let anchor: Element | null = null;
    for (let e: Element | null = box; e; e = e.parentElement) {
      const s = getComputedStyle(e);
      if (isOutOfFlow(s)) {
        positioned = e;
        if (s.position === 'fixed') break;
      } else if (positioned && !isInlineLevel(s)) {
        anchor = e;
        break;
      }
    }
    if (positioned) {
      const outer = anchor
        ? anchor.getBoundingClientRect()
        : { left: 0, top: 0, right: window.innerWidth, bottom: window.innerHeight };
      const hangs = beyond(extent, outer, fontSize);
      if (hangs.length) {
        add(
          box,
          text.data,
          `positioned text hangs outside ${anchor ? describe(anchor) : 'the window'}: ${said(hangs)}`,
        );
        continue;
      }
    }

    // 3. Cut off by an ancestor that hides its overflow, up to the first scroll container.
    for (let e: Element | null = parent; e && e !== document.documentElement; e = e.parentElement) {
      const s = getComputedStyle(e);
      if (scrolls(s.overflowX) || scrolls(s.overflowY)) break;
      if (!clips(s.overflowX) && !clips(s.overflowY)) continue;
      const cut = along(beyond(extent, paddingBox(e), fontSize), s, clips);
      if (!cut.length) continue;
      const titled = parent.closest('[title]');
      const shortened =
        s.textOverflow === 'ellipsis' && !!titled?.getAttribute('title') && e.contains(titled);
      if (!shortened)
        add(e, text.data, `text is cut off (overflow ${s.overflowX} ${s.overflowY}): ${said(cut)}`);
      break;
    }
  }

  const page = document.documentElement;
  if (page.scrollWidth > page.clientWidth + SLACK_X) {
    // The outermost elements past the window's right edge, the ones to fix; content of a box that scrolls or
    // clips does not widen the page.
    const past = (x: Element) => x.getBoundingClientRect().right > page.clientWidth + SLACK_X;
    const contained = (x: Element) => {
      for (let e = x.parentElement; e && e !== document.body; e = e.parentElement)
        if (getComputedStyle(e).overflowX !== 'visible') return true;
      return false;
    };
    const wide = [...document.body.querySelectorAll('*')].filter(
      (e) =>
        past(e) &&
        !(e.parentElement !== document.body && e.parentElement && past(e.parentElement)) &&
        !contained(e),
    );
    findings.push({
      element: wide.slice(0, 3).map(describe).join('; ') || 'body',
      text: (wide[0]?.textContent ?? '').trim().replace(/\s+/g, ' ').slice(0, 80),
      detail: `the page is ${page.scrollWidth - page.clientWidth} px wider than the ${page.clientWidth} px window`,
    });
  }
  return findings;
}

/** Every URL the page refers to: links, images, scripts, stylesheets and other `<link>`s, frames, sources. */
export function pageReferences(): PageReference[] {
  const refs: PageReference[] = [];
  for (const el of document.querySelectorAll(
    'a[href], img[src], script[src], link[href], iframe[src], source[src]',
  )) {
    const tag = el.tagName.toLowerCase();
    const raw = tag === 'a' || tag === 'link' ? el.getAttribute('href') : el.getAttribute('src');
    if (raw === null) continue;
    const kind = tag === 'link' ? `link rel=${el.getAttribute('rel') ?? ''}` : tag;
    refs.push({ url: new URL(raw, document.baseURI).href, kind, element: describe(el) });
  }
  return refs;
}

/** In-page fragment links (`#id`) whose target is not on the page; a bare `#` is the top of the page. */
export function brokenFragments(): PageReference[] {
  const here = location.href.split('#')[0];
  return [...document.querySelectorAll('a[href]')].flatMap((el) => {
    const url = new URL(el.getAttribute('href') ?? '', document.baseURI);
    if (!url.hash || url.hash === '#' || url.href.split('#')[0] !== here) return [];
    const id = decodeURIComponent(url.hash.slice(1));
    if (document.getElementById(id) || document.getElementsByName(id).length) return [];
    return [{ url: url.href, kind: 'a', element: describe(el) }];
  });
}

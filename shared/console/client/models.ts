/// <reference lib="dom" />

import type { Aliases } from '../../registry/model-registry.ts';
import type { VersionRow } from '../console-data.ts';
import { lineChart } from './charts.ts';
import { api, append, confirmThenPost, fmt, h, href, section } from './dom.ts';

interface Overview {
  /** null: the registry holds no model yet. */
  model: string | null;
  models: string[];
  aliases: Aliases;
  versions: VersionRow[];
  rollbackTo: number | null;
}

const METRICS = ['accuracy', 'f1_macro', 'f1_weighted', 'roc_auc'] as const;

/** `model` as a query string, for every link and request of the page. */
const query = (model: string) => `model=${encodeURIComponent(model)}`;

/**
 * One model of the registry (`models?model=<name>`; without it, the server's choice: the only one, or the one
 * promoted last), with a switcher when the registry holds several.
 */
export async function modelsPage(root: HTMLElement, requested: string): Promise<void> {
  // The same URL as the page's preload, so its response is reused.
  const o = await api<Overview>(requested ? `api/models?${query(requested)}` : 'api/models');
  const q = query(o.model ?? '');
  const status = h('div', { id: 'action-status', role: 'status' });
  const confirmBox = h('div', { id: 'confirm', class: 'confirm', hidden: true });

  const act = (text: string, path: string, body: unknown) =>
    confirmThenPost(confirmBox, status, {
      text,
      path,
      body,
      after: () => setTimeout(() => location.reload(), 600),
      ids: { yes: 'confirm-yes', no: 'confirm-no', done: 'action-done' },
    });

  const prod = o.aliases.production;
  const rows = [...o.versions].reverse().map((v) => {
    const lineage = v.lineage as {
      source?: { key?: string; etag?: string };
      dataFingerprint?: string;
      codeVersion?: string;
    };
    const m = (v.metrics ?? {}) as Record<string, number>;
    const aliases = [
      prod === v.version ? 'production' : '',
      o.aliases.staging === v.version ? 'staging' : '',
    ].filter(Boolean);
    const promote =
      prod === v.version
        ? h('span', { class: 'muted' }, 'serving')
        : h(
            'button',
            {
              class: 'promote',
              'data-version': v.version,
              onclick: () =>
                act(
                  `Point production at v${v.version} (now ${prod === null ? 'none' : `v${prod}`})? The inference API follows within its reload interval.`,
                  'api/models/promote',
                  { model: o.model, version: v.version, expectedProduction: prod },
                ),
            },
            `Promote v${v.version}`,
          );
    return h(
      'tr',
      { 'data-version': v.version, class: v.artifact.ok ? '' : 'broken' },
      h('td', {}, h('b', {}, `v${v.version}`), ...aliases.map((a) => h('span', { class: `alias ${a}` }, a))),
      h(
        'td',
        { class: 'stage' },
        h('span', { class: `stage ${v.stage?.stage ?? 'candidate'}` }, v.stage?.stage ?? 'candidate'),
        v.stage?.history.length
          ? h(
              'div',
              { class: 'muted small', title: v.stage.history.at(-1)?.at ?? '' },
              v.stage.history.at(-1)?.reason ?? '',
            )
          : null,
      ),
      h('td', { class: 'muted' }, v.createdAt.replace('T', ' ').slice(0, 19)),
      h('td', { class: 'num' }, fmt(m.accuracy)),
      h('td', { class: 'num' }, fmt(m.f1_macro)),
      h(
        'td',
        {},
        v.gate
          ? h('span', { class: v.gate.passed ? 'pass' : 'fail' }, v.gate.passed ? 'passed' : 'failed')
          : '—',
        v.gate ? h('div', { class: 'muted small' }, v.gate.reason) : null,
        v.promotionHeld ? h('div', { class: 'muted small' }, `held: ${v.promotionHeld.reason}`) : null,
      ),
      h(
        'td',
        { class: 'lineage small' },
        h(
          'div',
          {},
          'source ',
          h('code', {}, lineage.source?.key ?? '—'),
          ` ETag ${lineage.source?.etag ?? '—'}`,
        ),
        h('div', {}, 'data sha256 ', h('code', {}, (lineage.dataFingerprint ?? '—').slice(0, 16))),
        h('div', {}, `code ${lineage.codeVersion ?? '—'}`),
        v.runId
          ? h(
              'div',
              {},
              'run ',
              h('a', { href: href(`run/${encodeURIComponent(v.runId)}`) }, h('code', {}, v.runId)),
            )
          : null,
      ),
      h(
        'td',
        {},
        v.artifact.ok
          ? h('span', { class: 'pass' }, 'sha256 ok')
          : h('span', { class: 'fail', title: v.artifact.problem }, 'BROKEN'),
      ),
      h(
        'td',
        {},
        h('a', { href: href(`models/${v.version}/card?${q}`), class: 'card-link' }, 'card'),
        ' · ',
        h(
          'a',
          { href: href(`models/${v.version}/card.md?${q}`), download: `${o.model}-v${v.version}-card.md` },
          '.md',
        ),
      ),
      h('td', {}, promote),
    );
  });
  const sorted = o.versions;
  const history = lineChart({
    title: 'Metrics by version',
    xLabel: 'version',
    yLabel: 'score',
    series: METRICS.filter((k) =>
      sorted.some((v) => typeof (v.metrics as Record<string, unknown> | null)?.[k] === 'number'),
    ).map((k) => {
      const pts = sorted.filter(
        (v) => typeof (v.metrics as Record<string, unknown> | null)?.[k] === 'number',
      );
      return {
        label: k,
        x: pts.map((v) => v.version),
        y: pts.map((v) => (v.metrics as Record<string, number>)[k]),
      };
    }),
    points: true,
    integerX: true,
    width: 640,
  });
  history.id = 'chart-history';
  history.dataset.versions = sorted.map((v) => v.version).join(',');
  const compareIds = sorted.slice(-5).map((v) => `v${v.version}`);
  const switcher =
    o.models.length > 1
      ? h(
          'nav',
          { id: 'model-switcher', class: 'switcher', 'aria-label': 'models' },
          h('span', { class: 'muted' }, `${o.models.length} models:`),
          ...o.models.map((m) =>
            m === o.model
              ? h('b', { 'aria-current': 'page', 'data-model': m }, m)
              : h('a', { href: href(`models?${query(m)}`), 'data-model': m }, m),
          ),
        )
      : null;
  append(
    root,
    h('p', {}, h('a', { href: href('') }, '← runs')),
    switcher,
    o.model === null
      ? h('h1', {}, 'Models')
      : h('h1', {}, `Model `, h('code', { id: 'model-name' }, o.model)),
    h(
      'p',
      {},
      'production ',
      h('b', { id: 'production' }, prod === null ? 'none' : `v${prod}`),
      o.aliases.staging !== null ? ` · staging v${o.aliases.staging}` : '',
      ' ',
      // Offered only when there is a version to go back to, named on the button.
      o.rollbackTo !== null
        ? h(
            'button',
            {
              id: 'rollback',
              onclick: () =>
                act(
                  `Roll production back from v${prod} to v${o.rollbackTo}, the version that served before it?`,
                  'api/models/rollback',
                  { model: o.model, expectedProduction: prod },
                ),
            },
            `Roll back to v${o.rollbackTo}`,
          )
        : prod !== null
          ? h(
              'span',
              { class: 'muted', id: 'no-rollback' },
              `(no earlier production version to roll back to: v${prod} is the first production has served)`,
            )
          : null,
      compareIds.length >= 2
        ? h(
            'span',
            {},
            ' · ',
            h(
              'a',
              { href: href(`compare?ids=${compareIds.join(',')}&${q}`) },
              `compare ${compareIds.join(', ')}`,
            ),
          )
        : null,
    ),
    confirmBox,
    status,
    o.versions.length
      ? h(
          'table',
          { id: 'versions' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ...[
                'version',
                'stage',
                'registered (UTC)',
                'accuracy',
                'macro-F1',
                'gate',
                'lineage',
                'artifact',
                'model card',
                '',
              ].map((c) => h('th', {}, c)),
            ),
          ),
          h('tbody', {}, ...rows),
        )
      : h(
          'div',
          { class: 'empty', id: 'empty' },
          h(
            'p',
            {},
            o.model === null
              ? 'No model registered yet. A training run whose model passes the quality gate registers one, named after its label column unless params.yaml names it (and promotes the first):'
              : `No versions of ${o.model} yet. A training run whose model passes the quality gate registers one (and promotes the first):`,
          ),
          h(
            'p',
            {},
            h('code', {}, 'npx textops upload data/news.csv'),
            ' (add ',
            h('code', {}, '--bucket <bucket>'),
            ' for a stack on AWS); the ',
            h('a', { href: href('') }, 'runs page'),
            ' follows it.',
          ),
        ),
    o.versions.length ? section('Metric history', history) : null,
    section(
      'Alias history',
      o.aliases.history.length === 0
        ? h(
            'p',
            { class: 'muted' },
            'No alias has moved yet: the first version that passes its gate becomes production, or promote one here (',
            h('code', {}, 'npx textops promote <n>'),
            ').',
          )
        : null,
      h(
        'ol',
        { id: 'alias-history' },
        ...[...o.aliases.history]
          .reverse()
          .map((c) =>
            h(
              'li',
              {},
              `${c.at.replace('T', ' ').slice(0, 19)} ${c.alias} ${c.previous === null ? '—' : `v${c.previous}`} → ${c.version === null ? '—' : `v${c.version}`} (${c.kind}): ${c.reason}`,
            ),
          ),
      ),
    ),
  );
  document.body.dataset.ready = 'models';
}

import type { DatasetReport } from '../ml/dataset.ts';
import type { Metrics } from '../ml/metrics.ts';
import type { Aliases, VersionEntry } from '../registry/model-registry.ts';
import { CONSOLE_NAV, escapeHtml } from './page-chrome.ts';

export { escapeHtml };

/** A model card as data: sections of paragraphs and tables, rendered to Markdown and to HTML from one source. */
interface Table {
  head: string[];
  rows: string[][];
}
interface Section {
  title: string;
  paragraphs: string[];
  tables: Table[];
}
export interface ModelCard {
  title: string;
  sections: Section[];
}

const f = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(4) : '—');
const pct = (part: number, whole: number) => (whole ? `${((100 * part) / whole).toFixed(1)} %` : '—');

interface Lineage {
  source?: { bucket?: string; key?: string; etag?: string };
  overrides?: string | null;
  dataFingerprint?: string;
  dataReport?: DatasetReport;
  params?: {
    features?: {
      analyzer?: string;
      ngram_range?: number[];
      char_ngram_range?: number[];
      max_features?: number;
    };
    train?: {
      classifier?: string;
      logistic_regression?: { C?: number; class_weight?: string | null; nb_blend?: number };
    };
    clean?: Record<string, unknown>;
    evaluate?: { primary_metric?: string; min_score?: number; max_regression?: number };
  };
  codeVersion?: string;
  runId?: string;
  parentProductionVersion?: number | null;
}

/** What the data report says a user of the model should know: small or imbalanced classes, many dropped rows. */
export function limitationsOf(
  report: DatasetReport | undefined,
  metrics: Metrics | null,
  clean?: { lemmatize?: unknown },
): string[] {
  const out: string[] = [];
  if (!report) return ['No data report was recorded for this version.'];
  const counts = Object.entries(report.classCounts);
  if (counts.length) {
    const sorted = [...counts].sort((a, b) => a[1] - b[1]);
    const [smallName, small] = sorted[0];
    const [largeName, large] = sorted[sorted.length - 1];
    if (small < 0.8 * large)
      out.push(
        `Classes are imbalanced: '${smallName}' has ${small} rows, ${(small / large).toFixed(2)} × the largest class '${largeName}' (${large}); expect weaker recall on the smaller classes.`,
      );
    if (small < 100)
      out.push(
        `The class '${smallName}' has only ${small} training rows: its metrics rest on few test rows.`,
      );
  }
  const dropped = report.rowsRead - report.rowsKept;
  if (dropped > 0.05 * report.rowsRead)
    out.push(
      `${dropped} of ${report.rowsRead} rows (${pct(dropped, report.rowsRead)}) were dropped (empty ${report.droppedEmpty}, too short ${report.droppedShort}, no label ${report.droppedMissingLabel}, duplicate ${report.droppedDuplicate}); texts like them are out of its training distribution.`,
    );
  if (metrics) {
    const weakest = [...metrics.labels].sort((a, b) => metrics.per_class[a].f1 - metrics.per_class[b].f1)[0];
    if (weakest)
      out.push(`Weakest class on the test split: '${weakest}' (F1 ${f(metrics.per_class[weakest].f1)}).`);
  }
  // Lemmas only when the recipe made them (clean.lemmatize); a version without recorded params says neither.
  const lemmas = clean?.lemmatize === true ? ' and lemmas' : '';
  out.push(
    `Trained on the text of one uploaded file with English tokenization${lemmas} (wink-nlp): other languages, domains or text lengths are untested.`,
  );
  out.push(
    'A bag-of-n-grams linear model: it does not follow long-range context, sarcasm or negation beyond the n-gram window.',
  );
  return out;
}

export function modelCard(entry: VersionEntry, aliases: Aliases): ModelCard {
  const lineage = entry.lineage as Lineage;
  const metrics = entry.metrics as Metrics | null;
  const report = lineage.dataReport;
  const p = lineage.params;
  const labels = metrics?.labels ?? Object.keys(report?.classCounts ?? {});
  const alias = [
    aliases.production === entry.version ? 'production' : '',
    aliases.staging === entry.version ? 'staging' : '',
  ].filter(Boolean);
  const recipe = [
    p?.features?.analyzer ? `${p.features.analyzer} n-grams` : '',
    p?.features?.ngram_range ? `word ${p.features.ngram_range.join('–')}` : '',
    p?.features?.analyzer && p.features.analyzer !== 'word' && p.features.char_ngram_range
      ? `characters ${p.features.char_ngram_range.join('–')}`
      : '',
    p?.train?.classifier ?? '',
    p?.train?.logistic_regression?.C !== undefined ? `C ${p.train.logistic_regression.C}` : '',
    p?.train?.logistic_regression?.nb_blend !== undefined
      ? `nb_blend ${p.train.logistic_regression.nb_blend}`
      : '',
    p?.train?.logistic_regression?.class_weight
      ? `class_weight ${p.train.logistic_regression.class_weight}`
      : '',
  ].filter(Boolean);
  const sections: Section[] = [
    {
      title: 'Model details',
      paragraphs: [],
      tables: [
        {
          head: ['field', 'value'],
          rows: [
            ['model', entry.model],
            ['version', `v${entry.version}${alias.length ? ` (${alias.join(', ')})` : ''}`],
            ['registered', entry.createdAt],
            ['artifact sha256', entry.sha256],
            ['artifact size', `${entry.bytes} bytes`],
            ['recipe', recipe.join(', ') || '—'],
            ['code version', lineage.codeVersion ?? '—'],
            ['training run', entry.runId ?? '—'],
          ],
        },
      ],
    },
    {
      title: 'Intended use',
      paragraphs: [
        `Classifies a text into one of ${labels.length} classes: ${labels.map((l) => `'${l}'`).join(', ')}. It returns a probability per class; the class with the highest is the label.`,
        'Use it on texts like the training data (below). It is a screening aid: decisions with consequences for people need human review.',
      ],
      tables: [],
    },
    {
      title: 'Training data',
      paragraphs: [
        `Source: ${lineage.source?.key ? `s3://${lineage.source.bucket ?? ''}/${lineage.source.key}` : '—'} (ETag ${lineage.source?.etag ?? '—'}), sha256 ${lineage.dataFingerprint ?? '—'}${lineage.overrides ? `, with overrides ${lineage.overrides}` : ''}.`,
        report
          ? `Columns: text '${report.textColumn}', label '${report.labelColumn}'. ${report.rowsRead} rows read, ${report.rowsKept} kept; dropped: empty ${report.droppedEmpty}, too short ${report.droppedShort}, no label ${report.droppedMissingLabel}, duplicate ${report.droppedDuplicate}.${report.feedbackRows ? ` Plus ${report.feedbackRows} feedback rows (labels sent to POST /feedback), in the training part only.` : ''}`
          : 'No data report recorded.',
      ],
      tables: report
        ? [
            {
              head: ['class', 'rows', 'share'],
              rows: Object.entries(report.classCounts).map(([label, n]) => [
                label,
                String(n),
                pct(n, report.rowsKept),
              ]),
            },
          ]
        : [],
    },
    {
      title: 'Metrics (held-out test split)',
      paragraphs: metrics ? [`${metrics.n} test rows.`] : ['No metrics recorded.'],
      tables: metrics
        ? [
            {
              head: ['metric', 'value'],
              rows: [
                ['accuracy', f(metrics.accuracy)],
                ['macro F1', f(metrics.f1_macro)],
                ['weighted F1', f(metrics.f1_weighted)],
                ['log loss', f(metrics.log_loss)],
                ...(metrics.roc_auc !== undefined ? [['ROC AUC', f(metrics.roc_auc)]] : []),
                ...(metrics.pr_auc !== undefined ? [['PR AUC', f(metrics.pr_auc)]] : []),
              ],
            },
            {
              head: ['class', 'precision', 'recall', 'F1', 'support'],
              rows: metrics.labels.map((l) => {
                const c = metrics.per_class[l];
                return [l, f(c.precision), f(c.recall), f(c.f1), String(c.support)];
              }),
            },
          ]
        : [],
    },
    {
      title: 'Quality gate',
      paragraphs: entry.gate
        ? [
            `${entry.gate.passed ? 'Passed' : 'Failed'}: ${entry.gate.reason}.`,
            ...(entry.promotionHeld ? [`Not promoted: ${entry.promotionHeld.reason}.`] : []),
          ]
        : ['Registered without a gate decision.'],
      tables: [],
    },
    { title: 'Limitations', paragraphs: limitationsOf(report, metrics, p?.clean), tables: [] },
  ];
  return { title: `Model card: ${entry.model} v${entry.version}`, sections };
}

/** Markdown cell text: no line breaks, pipes escaped, HTML inert (a label or file name is data, not markup). */
const md = (s: string) =>
  s
    .replace(/[\r\n]+/g, ' ')
    .replace(/[\\`*_[\]|<>&]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;' })[c] ?? `\\${c}`);

export function cardMarkdown(card: ModelCard): string {
  const lines = [`# ${md(card.title)}`, ''];
  for (const s of card.sections) {
    lines.push(`## ${md(s.title)}`, '');
    const list = s.title === 'Limitations';
    for (const para of s.paragraphs) lines.push(list ? `- ${md(para)}` : md(para), ...(list ? [] : ['']));
    if (list) lines.push('');
    for (const t of s.tables) {
      lines.push(`| ${t.head.map(md).join(' | ')} |`, `| ${t.head.map(() => '---').join(' | ')} |`);
      for (const row of t.rows) lines.push(`| ${row.map(md).join(' | ')} |`);
      lines.push('');
    }
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

/**
 * The card as a page without scripts, with a link to the Markdown of the same card. `console` (its mount path)
 * makes it one of the console's pages: its style sheet and top bar, links relative to the mount. Without it the
 * page stands alone (`textops models card --html` writes it to a file), its style inline.
 */
export function cardHtml(card: ModelCard, markdownHref: string, console?: { base: string }): string {
  const e = escapeHtml;
  const body = card.sections
    .map((s) => {
      const paras =
        s.title === 'Limitations'
          ? `<ul>${s.paragraphs.map((p) => `<li>${e(p)}</li>`).join('')}</ul>`
          : s.paragraphs.map((p) => `<p>${e(p)}</p>`).join('');
      const tables = s.tables
        .map(
          (t) =>
            `<table><thead><tr>${t.head.map((h) => `<th>${e(h)}</th>`).join('')}</tr></thead><tbody>${t.rows
              .map((r) => `<tr>${r.map((c) => `<td>${e(c)}</td>`).join('')}</tr>`)
              .join('')}</tbody></table>`,
        )
        .join('');
      return `<section${console ? ' class="card"' : ''}><h2>${e(s.title)}</h2>${paras}${tables}</section>`;
    })
    .join('\n');
  const links = `<p><a id="markdown" href="${e(markdownHref)}" download>Markdown</a></p>`;
  if (console)
    return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>textops — ${e(card.title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<base href="${e(console.base)}">
<link rel="icon" href="data:,">
<link rel="stylesheet" href="assets/console.css">
</head><body data-page="card" data-ready="card">
${CONSOLE_NAV}
<main id="main">
<h1>${e(card.title)}</h1>
${links}
${body}
</main>
</body></html>
`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${e(card.title)}</title>
<link rel="icon" href="data:,">
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:14px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:56rem;padding:0 1rem;color:#1d2430}
table{border-collapse:collapse;margin:.5rem 0 1rem}th,td{border:1px solid #d9dee7;padding:.25rem .6rem;text-align:left;overflow-wrap:anywhere}
th{background:#f6f8fb}a{color:#2f6fdf}</style></head><body>
${links}
<h1>${e(card.title)}</h1>
${body}
</body></html>
`;
}

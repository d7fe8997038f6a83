/// <reference lib="dom" />
import type { BatchJob } from '../../pipeline/steps/batch-jobs.ts';
import { api, append, h, href } from './dom.ts';

/** A link to a file a job wrote (served by the console as a download). */
const fileLink = (key: string, text: string) =>
  h('a', { href: href(key.split('/').map(encodeURIComponent).join('/')), download: '' }, text);

function outcome(job: BatchJob): HTMLElement {
  const r = job.report;
  if (!r)
    return h(
      'td',
      { class: 'result muted' },
      job.earlier
        ? `No result for this version yet; an earlier version ${job.earlier.state} (job ${job.earlier.jobId}).`
        : 'No result yet: the job is queued or running.',
    );
  if (r.state === 'succeeded')
    return h(
      'td',
      { class: 'result' },
      fileLink(job.files.result, 'predictions'),
      ' · ',
      fileLink(job.files.errors, r.malformed ? `${r.malformed} malformed rows` : 'errors (none)'),
      ' · ',
      fileLink(job.files.report, 'report'),
    );
  return h(
    'td',
    { class: 'result' },
    h('div', { class: 'fail' }, r.error ? `${r.error.name}: ${r.error.message}` : (r.message ?? r.state)),
    fileLink(job.files.report, 'report'),
  );
}

/** The batch jobs page: every file under batch/, its job's state, rows, errors and results. */
export async function batchPage(root: HTMLElement): Promise<void> {
  const { jobs, hint } = await api<{ jobs: BatchJob[]; hint: string }>('api/batch');
  const time = (iso: string | undefined) => (iso ? iso.replace('T', ' ').slice(0, 19) : '—');
  append(
    root,
    h('h1', {}, 'Batch jobs'),
    h(
      'p',
      { class: 'muted' },
      'Files put under batch/ are scored with the production model, one output row per input row, under batch-results/.',
    ),
    jobs.length
      ? h(
          'table',
          { id: 'batch-jobs', class: 'wide' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ...['file', 'state', 'rows', 'malformed', 'model', 'finished (UTC)', 'seconds', 'result'].map(
                (c) => h('th', {}, c),
              ),
            ),
          ),
          h(
            'tbody',
            {},
            ...jobs.map((job) =>
              h(
                'tr',
                { 'data-key': job.key, 'data-state': job.state },
                h(
                  'td',
                  { class: 'source' },
                  h('code', {}, job.key),
                  job.input ? null : h('div', { class: 'muted small' }, 'file deleted since'),
                ),
                h(
                  'td',
                  {},
                  h('span', { class: `state ${job.state === 'pending' ? 'running' : job.state}` }, job.state),
                ),
                h('td', { class: 'num', 'data-rows': job.report?.rows ?? '' }, job.report?.rows ?? '—'),
                h(
                  'td',
                  { class: 'num', 'data-malformed': job.report?.malformed ?? '' },
                  job.report?.malformed ?? '—',
                ),
                h(
                  'td',
                  {},
                  job.report?.model ? `${job.report.model.name} v${job.report.model.version}` : '—',
                ),
                h('td', { class: 'muted' }, time(job.report?.finishedAt)),
                h(
                  'td',
                  { class: 'num' },
                  job.report?.seconds === undefined ? '—' : job.report.seconds.toFixed(1),
                ),
                outcome(job),
              ),
            ),
          ),
        )
      : h('p', { id: 'empty', class: 'empty' }, `No batch jobs yet: ${hint}.`),
  );
  document.body.dataset.ready = 'batch';
}

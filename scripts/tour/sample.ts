// The tour's data: two disjoint samples of labelled news for two runs, and a file the pipeline must refuse.
import { existsSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { seededRandom } from '../../shared/ml/split.ts';
import { sampleCsv, sharedDataPath, toCsv } from '../sample-data.ts';

export interface TourData {
  /** Where the rows come from, for the report. */
  source: string;
  /** The first run's CSV (a small sweep runs on it) and the second's (another sample, a fixed recipe). */
  first: string;
  second: string;
  /** One label only: the pipeline fails the run in Ingest, and the run page shows the error and what to do. */
  unusable: string;
  /** A text to classify on the inference web page. */
  example: string;
}

/** Rows per run: enough for the default quality gate (0.75) on four news topics, few enough for a quick tour. */
export const ROWS_PER_RUN = 800;

const TOPICS: Record<string, { who: string[]; did: string[]; what: string[]; where: string[] }> = {
  World: {
    who: [
      'The prime minister',
      'Rebel leaders',
      'The United Nations envoy',
      'Foreign ministers',
      'The president',
    ],
    did: ['agreed to talks on', 'rejected a plan for', 'called for a ceasefire over', 'signed a treaty on'],
    what: [
      'the disputed border',
      'refugee camps',
      'the peace process',
      'nuclear inspections',
      'the election',
    ],
    where: [
      'in Baghdad on Sunday',
      'after a summit in Geneva',
      'as troops withdrew',
      'amid protests in the capital',
    ],
  },
  Sports: {
    who: ['The striker', 'The home team', 'The defending champion', 'The coach', 'The rookie quarterback'],
    did: ['scored twice in', 'was suspended after', 'clinched the title in', 'lost in straight sets at'],
    what: ['the cup final', 'the season opener', 'the Olympic relay', 'the playoff series', 'the derby'],
    where: ['before a sellout crowd', 'on Saturday night', 'in extra time', 'at the open championship'],
  },
  Business: {
    who: ['Shares of the retailer', 'The central bank', 'The oil company', 'Investors', 'The airline'],
    did: [
      'reported higher profits from',
      'cut its forecast for',
      'raised interest rates after',
      'agreed to buy',
    ],
    what: ['quarterly earnings', 'consumer spending', 'crude prices', 'a rival chain', 'the bond market'],
    where: ['on Wall Street', 'in early trading', 'as inflation rose', 'according to analysts'],
  },
  'Sci/Tech': {
    who: ['The software maker', 'Researchers', 'The space agency', 'The chip company', 'Astronomers'],
    did: [
      'released an update for',
      'discovered a flaw in',
      'launched a probe to study',
      'unveiled a prototype of',
    ],
    what: [
      'its web browser',
      'a distant galaxy',
      'wireless networks',
      'a faster processor',
      'the operating system',
    ],
    where: ['at a developer conference', 'in a journal paper', 'from the launch pad', 'for mobile phones'],
  },
};

/**
 * Made-up news headlines for a machine without `../shared/data`: two sentences from one topic's phrases, a tenth
 * of them with a phrase from another topic, so the model is good but not perfect (its curves and confusion
 * matrix have something to show). Seeded: the same rows every time.
 */
export function generatedNews(rows: number, seed: number): string {
  const random = seededRandom(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)];
  const labels = Object.keys(TOPICS);
  const sentence = (t: string) => {
    const v = TOPICS[t];
    return `${pick(v.who)} ${pick(v.did)} ${pick(v.what)} ${pick(v.where)}.`;
  };
  const body = Array.from({ length: rows }, (_, i) => {
    const label = labels[i % labels.length];
    const other = random() < 0.1 ? pick(labels.filter((l) => l !== label)) : label;
    return [`${sentence(label)} ${sentence(other)}`, label];
  });
  return toCsv([['text', 'topic'], ...body]);
}

/** Sixty rows of one topic: a classifier needs two classes at least. */
function unusable(): string {
  const [header, ...rows] = parse(generatedNews(240, 3)) as string[][];
  return toCsv([header, ...rows.filter((r) => r[1] === 'World')]);
}

/**
 * `auto`: the AG News copy in ../shared/data when it is there (real text, what the docs' screenshots show), else
 * generated headlines; `generated`: always those.
 */
export function tourData(choice: 'auto' | 'generated'): TourData {
  const example = 'Stocks fell sharply after the central bank raised interest rates again.';
  const agnews = sharedDataPath('agnews-7600.csv.gz');
  if (choice === 'generated' || !existsSync(agnews)) {
    return {
      source: `generated news headlines${choice === 'auto' ? ` (${agnews} is not there)` : ''}`,
      first: generatedNews(ROWS_PER_RUN, 1),
      second: generatedNews(ROWS_PER_RUN, 2),
      unusable: unusable(),
      example,
    };
  }
  return {
    source: `AG News, rows 1–${2 * ROWS_PER_RUN} of ${agnews}`,
    first: sampleCsv('agnews-7600.csv.gz', ROWS_PER_RUN),
    second: sampleCsv('agnews-7600.csv.gz', ROWS_PER_RUN, ROWS_PER_RUN),
    unusable: unusable(),
    example,
  };
}

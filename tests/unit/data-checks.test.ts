import { describe, expect, it } from 'vitest';
import { applyOverrides, loadParams } from '../../shared/config/params.ts';
import { checkContract, dataProfile, readProfile, wordCount } from '../../shared/ml/data-contract.ts';
import { histogram } from '../../shared/ml/drift.ts';
import {
  bBitSimilarity,
  type DocRow,
  DuplicateScan,
  decodeDocumentHashes,
  encodeDocumentHashes,
  findConflictingDuplicates,
  minhashSignature,
  RepeatSketch,
  signatureSimilarity,
} from '../../shared/ml/duplicates.ts';
import { HashSet64 } from '../../shared/ml/hash-set64.ts';
import { checkLabels, findLabelIssues, outOfFoldProbabilities } from '../../shared/ml/label-issues.ts';
import { seededRandom } from '../../shared/ml/split.ts';
import { TfidfVectorizer } from '../../shared/ml/tfidf.ts';

const base = loadParams();
const params = applyOverrides(base, { train: { logistic_regression: { nb_blend: 0 } } });

const VOCAB: Record<string, string[]> = {
  sport: ['goal', 'match', 'striker', 'league', 'coach', 'cup', 'score', 'team'],
  money: ['stock', 'market', 'bank', 'profit', 'shares', 'rates', 'investor', 'earnings'],
  tech: ['software', 'chip', 'internet', 'computer', 'phone', 'startup', 'code', 'robot'],
};
const CLASSES = Object.keys(VOCAB).sort();

/** Documents of distinct class words; `flip` of the labels changed to another class (seeded): the planted errors. */
function corpus(perClass: number, flip: number, seed = 7) {
  const random = seededRandom(seed);
  const docs: string[][] = [];
  const truth: number[] = [];
  for (let i = 0; i < perClass; i++)
    for (const [c, words] of CLASSES.map((c) => [c, VOCAB[c]] as const)) {
      const tokens = Array.from({ length: 6 }, () => words[Math.floor(random() * words.length)]);
      tokens.push(`doc${i}${c}`);
      docs.push(tokens);
      truth.push(CLASSES.indexOf(c));
    }
  const y = Int32Array.from(truth);
  const flipped = new Set<number>();
  while (flipped.size < Math.round(flip * y.length)) flipped.add(Math.floor(random() * y.length));
  for (const i of flipped) y[i] = (y[i] + 1 + Math.floor(random() * 2)) % 3;
  const x = TfidfVectorizer.fitTransform(
    docs.map((d) => d.join(' ')),
    params.features,
  ).matrix;
  return { x, y, flipped };
}

describe('label issues (confident learning)', () => {
  it('finds planted label flips: most flagged rows are flips, most flips are flagged', async () => {
    const { x, y, flipped } = corpus(80, 0.05);
    const checked = await checkLabels(x, y, CLASSES, params);
    expect(checked).toBeDefined();
    const flagged = new Set(checked!.issues.map((i) => i.row));
    const hits = [...flagged].filter((r) => flipped.has(r)).length;
    expect(hits / flagged.size).toBeGreaterThanOrEqual(0.8);
    expect(hits / flipped.size).toBeGreaterThanOrEqual(0.8);
    // Sorted most suspect first; the suggested label is never the given one.
    const scores = checked!.issues.map((i) => i.score);
    expect(scores).toEqual([...scores].sort((a, b) => a - b));
    for (const issue of checked!.issues) expect(issue.suggested).not.toBe(issue.given);
    expect(checked!.summary.pairs.reduce((n, p) => n + p.rows, 0)).toBe(checked!.issues.length);
    expect(checked!.keep).toBeNull();
  });

  it('the folds fitted on worker threads give the same probabilities as one after the other', async () => {
    const { x, y } = corpus(40, 0.05);
    const options = { folds: 3, seed: 5 };
    const here = await outOfFoldProbabilities(x, y, 3, params, { ...options, workers: 1 });
    const threads = await outOfFoldProbabilities(x, y, 3, params, { ...options, workers: 2 });
    expect(here.threads).toBe(0);
    expect(threads.threads).toBe(2);
    expect(threads.proba).toEqual(here.proba);
    expect(threads.scored).toEqual(here.scored);
    expect([...here.scored].every((s) => s === 1)).toBe(true);
  });

  it('drop: keeps every row but the flagged ones', async () => {
    const { x, y } = corpus(40, 0.05);
    const drop = applyOverrides(params, { data: { label_issues: 'drop' } });
    const checked = (await checkLabels(x, y, CLASSES, drop))!;
    expect(checked.issues.length).toBeGreaterThan(0);
    expect(checked.keep!.length).toBe(y.length - checked.issues.length);
    expect(checked.summary.dropped).toBe(checked.issues.length);
    for (const issue of checked.issues) expect(checked.keep).not.toContain(issue.row);
  });

  it('the cap holds when every row looks suspect, and the run says the labels look unreliable', async () => {
    const { x, y } = corpus(40, 0);
    // Half the labels drawn at random: a third of those stay right, the rest contradict their words.
    const random = seededRandom(3);
    const wrong = Int32Array.from(y, (c) => (random() < 0.5 ? Math.floor(random() * 3) : c));
    const capped = applyOverrides(params, { data: { label_issues_max_share: 0.1 } });
    const checked = (await checkLabels(x, wrong, CLASSES, capped))!;
    expect(checked.summary.capped).toBe(true);
    expect(checked.issues.length).toBe(Math.floor(0.1 * wrong.length));
    expect(checked.summary.notes.join(' ')).toMatch(/labels look unreliable/);
  });

  it('a class too small for the folds is named and skipped: its rows are never flagged', async () => {
    const { x, y } = corpus(30, 0.05);
    // Two rows of a fourth class, fewer than the 3 folds.
    const labels = [...CLASSES, 'weather'];
    const y4 = Int32Array.from(y);
    y4[0] = 3;
    y4[1] = 3;
    const checked = (await checkLabels(x, y4, labels, params))!;
    expect(checked.summary.skipped).toEqual([{ label: 'weather', rows: 2 }]);
    expect(checked.summary.notes.join(' ')).toMatch(/class 'weather' has 2 training rows/);
    expect(checked.issues.some((i) => i.row === 0 || i.row === 1)).toBe(false);
    expect(checked.summary.thresholds.weather).toBeNull();
  });

  it('a single class: nothing to suspect, said so', async () => {
    const { x } = corpus(10, 0);
    const y = new Int32Array(x.nRows);
    const checked = (await checkLabels(x, y, ['only'], params))!;
    expect(checked.issues).toEqual([]);
    expect(checked.summary.notes.join(' ')).toMatch(/one class/);
  });

  it('off: no check', async () => {
    const { x, y } = corpus(10, 0);
    expect(
      await checkLabels(x, y, CLASSES, applyOverrides(params, { data: { label_issues: 'off' } })),
    ).toBeUndefined();
  });

  it("reads the sweep winner's out-of-fold scores when they fit the rows: no fits, its classes put in the run's order", async () => {
    // Two classes, four rows, as above; the sweep's columns in another order than the run's classes.
    const y = Int32Array.from([0, 0, 1, 1]);
    const x = TfidfVectorizer.fitTransform(['a b', 'a c', 'd e', 'd f'], params.features).matrix;
    const run = ['neg', 'pos'];
    const sweep = { classes: ['pos', 'neg'], folds: 5 };
    // Columns [pos, neg]: row 1 (labelled neg) looks like pos.
    const proba = Float64Array.from([0.1, 0.9, 0.8, 0.2, 0.9, 0.1, 0.7, 0.3]);
    const checked = (await checkLabels(
      x,
      y,
      run,
      applyOverrides(params, { data: { label_issues_max_share: 1 } }),
      {
        ...sweep,
        proba,
      },
    ))!;
    expect(checked.issues.map((i) => [i.row, i.given, i.suggested])).toEqual([[1, 0, 1]]);
    expect(checked.issues[0].score).toBeCloseTo(0.2);
    expect(checked.summary.folds).toBe(5);
    expect(checked.summary.notes.join(' ')).toMatch(/out-of-fold scores from the sweep/);
    // Scores of another row count do not fit: the check fits its own folds and says nothing of the sweep.
    const { x: x3, y: y3 } = corpus(20, 0.05);
    const own = (await checkLabels(x3, y3, CLASSES, params, { ...sweep, classes: CLASSES, proba }))!;
    expect(own.summary.folds).toBe(params.data.label_issues_folds);
    expect(own.summary.notes.join(' ')).not.toMatch(/sweep/);
    expect(own.issues).toEqual((await checkLabels(x3, y3, CLASSES, params))!.issues);
  });

  it('thresholds are the mean self-confidence per class; a row the model predicts as its label is not flagged', async () => {
    // Two classes, four rows: rows 0-1 labelled 0, rows 2-3 labelled 1; row 1 looks like class 1.
    const y = Int32Array.from([0, 0, 1, 1]);
    const proba = Float64Array.from([0.9, 0.1, 0.2, 0.8, 0.1, 0.9, 0.3, 0.7]);
    const r = findLabelIssues(y, proba, 2, { rankBy: 'self_confidence', maxShare: 1 });
    expect(r.thresholds[0]).toBeCloseTo(0.55);
    expect(r.thresholds[1]).toBeCloseTo(0.8);
    expect(r.issues.map((i) => [i.row, i.suggested])).toEqual([[1, 1]]);
    expect(r.issues[0].score).toBeCloseTo(0.2);
    const margin = findLabelIssues(y, proba, 2, { rankBy: 'normalized_margin', maxShare: 1 });
    expect(margin.issues[0].score).toBeCloseTo((0.2 - 0.8 + 1) / 2);
  });
});

describe('conflicting duplicates', () => {
  /** Both passes over `rows`, the sketch and the scan sized for `expectedRows`. */
  const scanOf = (rows: DocRow[], options: { expectedRows: number; maxSigned?: number }) => {
    const sketch = new RepeatSketch(options.expectedRows);
    for (const row of rows) sketch.add(row.doc);
    const scan = new DuplicateScan(sketch, options);
    for (const row of rows) scan.add(row);
    return scan;
  };

  it('exact: equal cleaned documents under two labels, with their lines; same-label copies are not conflicts', () => {
    const report = findConflictingDuplicates([
      { line: 2, label: 'a', doc: 'the same ticket text' },
      { line: 3, label: 'b', doc: 'the same ticket text' },
      { line: 4, label: 'a', doc: 'another text' },
      { line: 5, label: 'a', doc: 'another text' },
    ]);
    expect(report.exactGroups).toBe(1);
    expect(report.exact[0].rows).toEqual([
      { line: 2, label: 'a' },
      { line: 3, label: 'b' },
    ]);
    expect(report.nearPairs).toBe(0);
    expect(report.share).toBeCloseTo(0.5);
  });

  it('near: MinHash finds a one-word edit under another label, not unrelated texts', () => {
    const long =
      'the quarterly results of the company beat the forecasts of every analyst on the street this week';
    const edited = long.replace('week', 'month');
    expect(signatureSimilarity(minhashSignature(long), minhashSignature(edited))).toBeGreaterThan(0.8);
    const report = findConflictingDuplicates([
      { line: 2, label: 'business', doc: long },
      { line: 9, label: 'sports', doc: edited },
      {
        line: 10,
        label: 'sports',
        doc: 'the striker scored twice in the cup final on a rainy evening in the north',
      },
    ]);
    expect(report.nearPairs).toBe(1);
    expect(report.near[0].a.line).toBe(2);
    expect(report.near[0].b.line).toBe(9);
    expect(report.method).toMatch(/MinHash over 3-word shingles, 128 8-bit hashes in 32 bands of 4/);
  });

  it('lists the source lines of rows whatever their gaps: lines skipped, far ahead, and feedback rows at line 0', () => {
    // Lines as a file with multi-line texts and dropped rows gives them, then feedback rows (line 0) at the end.
    const lines = [2, 3, 7, 8, 400, 401, 90_000, 90_001, 0, 0];
    const rows = lines.map((line, i) => ({
      line,
      label: i % 2 ? 'b' : 'a',
      doc: `ticket number ${Math.floor(i / 2)} about the same problem`,
    }));
    for (const expectedRows of [2, rows.length]) {
      const report = scanOf(rows, { expectedRows }).report();
      expect(report.exactGroups).toBe(5);
      expect(report.exact.map((g) => g.rows.map((r) => r.line))).toEqual([
        [2, 3],
        [7, 8],
        [400, 401],
        [90_000, 90_001],
        [0, 0],
      ]);
      expect(report.share).toBe(1);
    }
  });

  it('8-bit signatures estimate the similarity of full ones, corrected for chance agreement', () => {
    const random = seededRandom(3);
    const words = Array.from({ length: 400 }, (_, i) => `w${i}`);
    const text = () => Array.from({ length: 60 }, () => words[Math.floor(random() * words.length)]).join(' ');
    const low8 = (s: Uint32Array) => Uint8Array.from(s, (v) => v & 0xff);
    for (let i = 0; i < 20; i++) {
      const a = text();
      const tokens = a.split(' ');
      // An edit of k of the 60 words: similarities from about 0.9 down to unrelated texts.
      const b = tokens.map((t, j) => (j % 20 < i ? `x${j}` : t)).join(' ');
      const [sa, sb] = [minhashSignature(a), minhashSignature(b)];
      expect(Math.abs(bBitSimilarity(low8(sa), low8(sb)) - signatureSimilarity(sa, sb))).toBeLessThan(0.05);
    }
    const unrelated = bBitSimilarity(low8(minhashSignature(text())), low8(minhashSignature(text())));
    expect(unrelated).toBeLessThan(0.05);
    expect(
      bBitSimilarity(
        low8(minhashSignature('one two three four')),
        low8(minhashSignature('one two three four')),
      ),
    ).toBe(1);
  });

  it('a scan sized for fewer rows than it gets grows and still finds every group and pair', () => {
    const random = seededRandom(5);
    const rows = Array.from({ length: 5000 }, (_, i) => ({
      line: i + 2,
      label: i % 2 ? 'a' : 'b',
      doc: Array.from({ length: 30 }, () => `t${Math.floor(random() * 5000)}`).join(' '),
    }));
    // Every 500th row repeated under the other label, every 700th with its last word changed under the other label.
    for (let i = 0; i < 5000; i += 500)
      rows.push({ line: rows.length + 2, label: rows[i].label === 'a' ? 'b' : 'a', doc: rows[i].doc });
    for (let i = 1; i < 5000; i += 700)
      rows.push({
        line: rows.length + 2,
        label: rows[i].label === 'a' ? 'b' : 'a',
        doc: rows[i].doc.replace(/ \S+$/, ' edited'),
      });
    const report = scanOf(rows, { expectedRows: 10 }).report();
    expect(report.exactGroups).toBe(10);
    expect(report.nearPairs).toBe(8);
    expect(scanOf(rows, { expectedRows: rows.length }).report()).toEqual(report);
    // Signing only the first 1,000 distinct texts: the near pairs among them only (rows 1 and 701 are, the
    // others are past the cut), exact groups all the same, and the method says where it cut.
    const cut = scanOf(rows, { expectedRows: rows.length, maxSigned: 1000 }).report();
    expect(cut.exactGroups).toBe(10);
    expect(cut.nearPairs).toBe(0);
    expect(cut.method).toMatch(/near: the first 1000 distinct texts of 5\d{3}\)/);
    expect(report.method).not.toMatch(/the first/);
  });
});

describe('repeat sketch', () => {
  it('makes every repeated document a candidate, and about 1 % of the others', () => {
    const distinct = Array.from({ length: 50_000 }, (_, i) => `ticket ${i} about a problem`);
    const sketch = new RepeatSketch(distinct.length + 100);
    for (const doc of distinct) sketch.add(doc);
    const falsePositives = sketch.repeatCandidates().size;
    expect(falsePositives).toBeGreaterThan(0);
    expect(falsePositives).toBeLessThan(0.02 * distinct.length);
    for (let i = 0; i < 100; i++) sketch.add(distinct[i * 500]);
    expect(sketch.repeatCandidates().size).toBeGreaterThanOrEqual(100);
    expect(sketch.repeatCandidates().size).toBeLessThanOrEqual(falsePositives + 100);
    expect(sketch.added).toBe(distinct.length + 100);
  });

  it('a sketch far too small takes most documents for repeats, and the scan still reports only the real ones', () => {
    const rows: DocRow[] = Array.from({ length: 10_000 }, (_, i) => ({
      line: i + 2,
      label: i % 3 ? 'a' : 'b',
      doc: `order ${i} arrived late and damaged`,
    }));
    rows.push({ line: 10_002, label: 'b', doc: rows[1].doc }, { line: 10_003, label: 'a', doc: rows[3].doc });
    const tiny = new RepeatSketch(1);
    for (const row of rows) tiny.add(row.doc);
    expect(tiny.repeatCandidates().size).toBeGreaterThan(rows.length / 2);
    const scan = new DuplicateScan(tiny, { expectedRows: rows.length, near: false });
    for (const row of rows) scan.add(row);
    const report = scan.report();
    expect(report.exact.map((g) => g.rows)).toEqual([
      [
        { line: 3, label: 'a' },
        { line: 10_002, label: 'b' },
      ],
      [
        { line: 5, label: 'b' },
        { line: 10_003, label: 'a' },
      ],
    ]);
    expect(report).toEqual(findConflictingDuplicates(rows, { near: false }));
  });
});

describe('document hashes file', () => {
  it("holds each document's hash as the sketch and the scan compute it, (0, 0) for an empty one", () => {
    const docs = ['first ticket', '', 'second ticket', 'first ticket'];
    const words = decodeDocumentHashes(encodeDocumentHashes(docs), docs.length, 'hashes.bin');
    expect([...words.subarray(0, 2)]).toEqual(HashSet64.hashText('first ticket'));
    expect([...words.subarray(2, 4)]).toEqual([0, 0]);
    expect([...words.subarray(6, 8)]).toEqual([...words.subarray(0, 2)]);
    const fromHashes = new RepeatSketch(docs.length);
    for (let i = 0; i < words.length; i += 2) fromHashes.addHash(words[i], words[i + 1]);
    expect(fromHashes.added).toBe(3);
    expect(fromHashes.repeatCandidates().size).toBe(1);
  });

  it('a file of another length is an error that says so', () => {
    expect(() => decodeDocumentHashes(new Uint8Array(12), 2, 'runs/r/data/clean/00000.hashes.bin')).toThrow(
      'runs/r/data/clean/00000.hashes.bin holds 12 bytes, not the 8 a row of its 2 rows',
    );
  });
});

describe('data contract', () => {
  const profileOf = (labels: string[], texts: string[], columns = ['text', 'label']) =>
    dataProfile({ columns, textColumn: 'text', labelColumn: 'label', labels, texts });
  const reference = profileOf(
    [...Array(50).fill('a'), ...Array(50).fill('b')],
    Array.from({ length: 100 }, (_, i) => 'word '.repeat(5 + (i % 20)).trim()),
  );
  const lengthsOn = (p: typeof reference, texts: string[]) =>
    histogram(p.length.edges, texts.map(wordCount)).counts;

  it('passes the same data; flags labels added and missing, class mix, length, columns, each by its action', () => {
    const texts = Array.from({ length: 100 }, (_, i) => 'word '.repeat(5 + (i % 20)).trim());
    const same = checkContract(
      reference,
      { profile: reference, version: '1', unknownTokenShare: 0, lengthCounts: lengthsOn(reference, texts) },
      base.data.checks,
    );
    expect(same.status).toBe('passed');
    const shortTexts = Array.from({ length: 100 }, () => 'two words');
    const changed = profileOf([...Array(90).fill('a'), ...Array(10).fill('c')], shortTexts, [
      'body',
      'label',
    ]);
    const config = {
      ...base.data.checks,
      labels_added: { action: 'fail' as const, threshold: 0 },
    };
    const result = checkContract(
      changed,
      {
        profile: reference,
        version: '3',
        unknownTokenShare: 0.5,
        lengthCounts: lengthsOn(reference, shortTexts),
      },
      config,
    );
    expect(result.status).toBe('failed');
    const outcome = Object.fromEntries(result.checks.map((c) => [c.name, c.outcome]));
    expect(outcome).toEqual({
      labels_added: 'fail',
      labels_missing: 'warn',
      class_mix_psi: 'warn',
      text_length_psi: 'warn',
      unknown_token_share: 'warn',
      columns_changed: 'warn',
    });
    expect(result.checks.find((c) => c.name === 'labels_added')?.detail).toMatch(/new labels: c/);
    expect(result.checks.find((c) => c.name === 'columns_changed')?.detail).toMatch(/added body; gone text/);
    expect(result.reference).toBe('production v3');
  });

  it('no reference: every check says so and nothing fails', () => {
    const result = checkContract(
      reference,
      { none: 'no reference: production v1 predates profiles' },
      {
        ...base.data.checks,
        labels_added: { action: 'fail', threshold: 0 },
      },
    );
    expect(result.status).toBe('no reference');
    expect(result.checks.every((c) => c.outcome === 'no reference')).toBe(true);
    expect(readProfile(undefined)).toBeUndefined();
    expect(readProfile(JSON.parse(JSON.stringify(reference)))).toEqual(reference);
  });
});

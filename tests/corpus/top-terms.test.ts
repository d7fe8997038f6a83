import { describe, expect, it } from 'vitest';
import { loadParams } from '../../shared/config/params.ts';
import { visiblePadding } from '../../shared/ml/display.ts';
import { topTermsFromArtifact, topTermsPerClass } from '../../shared/ml/top-terms.ts';
import { trainInProcess } from '../../shared/ml/training.ts';
import { sampleCsv } from '../helpers/data.ts';

describe("the console's top n-grams of a model with character n-grams", () => {
  it('marks each character n-gram and shows its padding, so no entry of a list reads like another', async () => {
    const params = structuredClone(loadParams());
    params.features.analyzer = 'word+char';
    params.train.workers = 1;
    const { model } = await trainInProcess(Buffer.from(sampleCsv('agnews-7600.csv.gz', 1200)), params, {
      codeVersion: 'test',
      tune: { enabled: false },
    });
    const lists = topTermsFromArtifact(model.toArtifact());
    expect(lists.map((l) => l.label)).toEqual(model.labels);
    // Read from the artifact's JSON alone, each term's kind is the one the vectorizer knows its column by (the
    // word "iraq" and the character n-gram "iraq" are two columns of one name).
    expect(lists).toEqual(
      topTermsPerClass(model.labels, model.classifier, model.vectorizer.state.vocabulary, 15, (j) =>
        model.vectorizer.analyzerOf(j),
      ),
    );
    expect(lists.some(({ terms }) => terms.some((t) => t.analyzer === 'char_wb'))).toBe(true);
    let hidden = 0;
    for (const { terms } of lists) {
      // As a page shows text (edge spaces collapse), the raw terms can repeat; shown as the console shows them,
      // with the kind and the padding, they do not.
      const raw = terms.map((t) => t.term.trim());
      if (new Set(raw).size < raw.length) hidden++;
      const shown = terms.map((t) => `${t.analyzer === 'char_wb' ? 'chars ' : ''}${visiblePadding(t.term)}`);
      expect(new Set(shown).size).toBe(shown.length);
    }
    // The repeats the console used to show ("iraq" three times) are there to be told apart.
    expect(hidden).toBeGreaterThan(0);
  });
});

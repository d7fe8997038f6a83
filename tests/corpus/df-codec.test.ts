import { describe, expect, it } from 'vitest';
import { loadParams } from '../../shared/config/params.ts';
import { countDocumentFrequencies, DfAccumulator } from '../../shared/ml/tfidf.ts';
import { decodeDfCounts, encodeDfCounts } from '../../shared/pipeline/formats/df-codec.ts';
import { sharedRows } from '../helpers/data.ts';

// The binary counts file on the counts of real reviews (tests/unit/df-codec.test.ts: odd terms, bad files).
describe('document-frequency counts file', () => {
  it('round-trips word and char_wb counts of real reviews exactly, and the merged vocabulary is unchanged', () => {
    const docs = sharedRows('imdb-train.csv.gz')
      .slice(1, 301)
      .map((r) => r[0].toLowerCase());
    const config = { ...loadParams().features, analyzer: 'word+char' as const };
    const a = countDocumentFrequencies(docs.slice(0, 150), config);
    const b = countDocumentFrequencies(docs.slice(150), config);
    expect(a.blocks.map((x) => x.analyzer)).toEqual(['word', 'char_wb']);
    const a2 = decodeDfCounts(encodeDfCounts(a), 'a');
    const b2 = decodeDfCounts(encodeDfCounts(b), 'b');
    expect(a2).toEqual(JSON.parse(JSON.stringify(a)));
    expect(b2).toEqual(JSON.parse(JSON.stringify(b)));
    const viaJson = new DfAccumulator().add(JSON.parse(JSON.stringify(a))).add(JSON.parse(JSON.stringify(b)));
    const viaBinary = new DfAccumulator().add(a2).add(b2);
    expect(viaBinary.vectorizer(config).vectorizer.toJSON('float64')).toEqual(
      viaJson.vectorizer(config).vectorizer.toJSON('float64'),
    );
  });
});

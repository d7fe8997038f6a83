import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { HttpProblem } from './problem.ts';

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Requires the API key, sent as `X-API-Key: <key>` or `Authorization: Bearer <key>`. Both sides are hashed
 * first so the comparison is constant-time whatever the lengths.
 */
export function requireApiKey(apiKey: string): RequestHandler {
  const expected = digest(apiKey);
  return (req, _res, next) => {
    const bearer = /^Bearer\s+(.+)$/i.exec(req.get('authorization') ?? '')?.[1];
    const given = req.get('x-api-key') ?? bearer;
    if (given === undefined || !timingSafeEqual(digest(given.trim()), expected)) {
      throw new HttpProblem(
        'unauthorized',
        given === undefined
          ? 'an API key is required: send X-API-Key: <key> or Authorization: Bearer <key>'
          : 'the API key is not valid',
        { headers: { 'WWW-Authenticate': 'Bearer realm="textops"' } },
      );
    }
    next();
  };
}

import createError from '@fastify/error';

/** Coded errors: the error handler branches on `code`, never on message text. */
export const RateLimitedError = createError<[number]>('RATE_LIMITED', 'rate limit exceeded; retry in %s s', 429);

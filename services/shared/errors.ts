import createError from '@fastify/error';

/** Coded errors: handlers and the error handler branch on `code`, never on message text. */
export const ServiceUnavailableError = createError('SERVICE_UNAVAILABLE', 'service temporarily unavailable', 503);
export const BadRequestError = createError<[string]>('BAD_REQUEST', '%s', 400);
export const UnauthorizedError = createError('UNAUTHORIZED', 'unauthorized', 401);
export const ForbiddenError = createError('FORBIDDEN', 'forbidden', 403);
export const RateLimitedError = createError<[number]>('RATE_LIMITED', 'rate limit exceeded; retry in %s s', 429);

/**
 * An RFC 9110 `token` (tchar+): what an HTTP method, a header name or a cookie name (RFC 6265) is made
 * of. Pure.
 */
export const HTTP_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * In real headless Chromium through NGINX with plain `auth_request` (examples/nginx/auth-request.conf.template).
 * Scenarios: ./scenarios.ts; harness: ./suite.ts.
 */
import { browserSuite } from './suite.js';

browserSuite('auth-request');

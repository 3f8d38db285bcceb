/**
 * End to end through a real NGINX with plain `auth_request` (examples/nginx/auth-request.conf.template,
 * authz-service FRONT_END=nginx): sign in, call, be refused, revoke. Scenarios: ./scenarios.ts.
 */
import { e2eSuite } from './scenarios.js';

e2eSuite('auth-request');

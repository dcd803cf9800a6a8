/**
 * api/registry: the registry use cases in one import (docs/registry.md): pull (and ensureImage,
 * which run and build call), push, login and logout.
 */
export { pullImage, ensureImage, type PullOptions, type PullResult, type PullEvent } from './pull.js';
export { pushImage, type PushOptions, type PushResult, type PushEvent } from './push.js';
export { login, logout, registryHost, type LoginOptions } from './login.js';

// Jest transformer for node_modules: NestJS 12 and some of its dependencies ship ES modules only.
// Node 20 loads them through require(esm); Jest (before Node 24.9) cannot, so files that use ESM
// syntax are compiled to CommonJS with SWC; CommonJS files pass through untouched.
const { createHash } = require('node:crypto');
const swc = require('@swc/core');

const ESM_SYNTAX = /^\s*(import\s*[\w{*'"]|export\s)/m;
const OPTIONS = {
  jsc: { target: 'es2022', parser: { syntax: 'ecmascript' } },
  module: { type: 'commonjs', ignoreDynamic: false },
  sourceMaps: 'inline',
  swcrc: false,
};

module.exports = {
  process(source, filename) {
    if (!ESM_SYNTAX.test(source)) return { code: source };
    return swc.transformSync(source, { ...OPTIONS, filename });
  },
  getCacheKey(source, filename) {
    return createHash('sha1').update('esm-to-cjs-v1').update(filename).update(source).digest('hex');
  },
};

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PRODUCT_VERSION } from './product';

it('PRODUCT_VERSION follows package.json', () => {
  const pkg = JSON.parse(readFileSync(join(__dirname, '../../../package.json'), 'utf8'));
  expect(PRODUCT_VERSION).toBe(pkg.version);
});

import { fileURLToPath } from 'node:url';
import { describeConformance } from '../../src/conformance/index.js';
import { istioPlugin } from './index.js';

describeConformance(istioPlugin, { crdSchemas: fileURLToPath(new URL('../../test/crds', import.meta.url)), allChoices: true });

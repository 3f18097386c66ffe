import { setGlobalOptions } from 'firebase-functions/v2';
import { REGION } from '../adapters/region';

setGlobalOptions({ region: REGION, maxInstances: 10 });

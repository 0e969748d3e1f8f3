/**
 * Fixture for `lifecycle_test.ts`: a throwaway stack (temporary data directory, free ports), as the tests
 * start one, in a process of its own that the test then kills. Prints one JSON line once it is up.
 *
 * @module
 */
import { startStack } from "../../dev/stack.ts";

const stack = await startStack({ poolerPort: 0 });
console.log(JSON.stringify({
  apiUrl: stack.apiUrl,
  dbPort: stack.postgres.port,
  dataDir: stack.postgres.dataDir,
  functionUrl: stack.functionUrl,
  poolerPort: stack.pooler!.port,
  poolerDir: stack.pooler!.dir,
}));
// The gateway and the function keep this process alive until it is killed.
